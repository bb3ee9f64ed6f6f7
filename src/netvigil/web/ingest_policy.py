"""Who may ingest how often, and which targets: the ingest route's trust boundary.

    rate = IngestRateLimit(rate=5.0, burst=20)       # per agent token
    wait_s = rate.wait_s("tirana")                   # 0.0: go on; else answer 429
    allowance = TargetAllowance({"portal-tcp"}, store)
    taken = await allowance.take(agent, batch)       # or IngestError (422) naming them

An agent holds a token, not the server's trust: it reports on the targets the server
was told about (the config's `[[targets]]` and the agent's own `allow_targets`), plus
at most `max_extra_targets` others of its choosing, first come. The extra targets it
already has in the store count against that number, so a restart does not reset it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Collection, Iterable, Sequence

from netvigil.config.model import AgentConfig
from netvigil.errors import IngestError
from netvigil.model import Measurement
from netvigil.store.base import Store
from netvigil.web.errors import capped

__all__ = ["IngestRateLimit", "TargetAllowance"]


class IngestRateLimit:
    """At most `rate` requests per second per agent, `burst` of them back to back.

    A generic cell rate algorithm: each agent has a theoretical arrival time (TAT); a
    request is admitted if it is no earlier than `TAT - (burst - 1) / rate`, and then
    moves the TAT on by `1 / rate`. A refused request moves nothing. `clock` is any
    monotonic clock in seconds. Memory: one float per agent that has asked.
    """

    def __init__(
        self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"rate must be positive and burst at least 1 ({rate}, {burst})")
        self.rate = rate
        self.burst = burst
        self._interval = 1.0 / rate
        self._tolerance = (burst - 1) / rate
        self._tat: dict[str, float] = {}
        self._clock = clock

    def wait_s(self, agent: str) -> float:
        """0.0 if `agent` may make a request now (it is counted); else how long to wait."""
        now = self._clock()
        tat = max(self._tat.get(agent, now), now)
        allowed_at = tat - self._tolerance
        if now < allowed_at:
            return allowed_at - now
        self._tat[agent] = tat + self._interval
        return 0.0


class TargetAllowance:
    """The targets each agent may report: the known ones, its allow-list, a few extras."""

    def __init__(self, known: Iterable[str], store: Store) -> None:
        self.known = frozenset(known)
        self._store = store
        self._extras: dict[str, set[str]] | None = None
        self._loading = asyncio.Lock()

    async def take(self, agent: AgentConfig, batch: Sequence[Measurement]) -> frozenset[str]:
        """Check that `agent` may report every target of `batch`. Raises IngestError (422).

        Targets outside the known ones and the agent's allow-list are taken as its
        extras while there is room (at most `max_extra_targets`); returns those newly
        taken (give them back with `forget` if the batch is not stored after all). A
        refused batch takes nothing; the error has one `measurements[i].target` line per
        measurement refused. Reads the store once, on the first batch with such a
        target from an agent allowed extras (StoreError if that read fails).
        """
        allowed = self.known.union(agent.allow_targets)
        unknown = {m.target for m in batch if m.target not in allowed}
        if not unknown:
            return frozenset()
        extras: set[str] = set()
        if agent.max_extra_targets > 0:
            extras = (await self._load()).setdefault(agent.name, set())
        new = sorted(unknown - extras)
        room = max(0, agent.max_extra_targets - len(extras - allowed))
        taken, over = frozenset(new[:room]), frozenset(new[room:])
        if over:
            problems = [
                f"measurements[{i}].target: {m.target!r} is not a target this server knows"
                for i, m in enumerate(batch)
                if m.target in over
            ]
            raise IngestError(
                f"batch refused: {len(problems)} measurement(s) name targets this server does"
                f" not know; agent {agent.name!r} may report the config's targets, its"
                f" allow_targets and {agent.max_extra_targets} other(s); nothing was stored",
                status=422,
                errors=capped(problems),
            )
        extras.update(taken)
        return taken

    def forget(self, agent: AgentConfig, targets: Collection[str]) -> None:
        """Give back extras taken for a batch that was not stored after all."""
        if self._extras is not None:
            self._extras.get(agent.name, set()).difference_update(targets)

    def extras(self, agent: str) -> frozenset[str]:
        """The extra targets `agent` has taken so far (as far as loaded)."""
        loaded = self._extras or {}
        return frozenset(loaded.get(agent, ()))

    async def _load(self) -> dict[str, set[str]]:
        async with self._loading:
            if self._extras is None:
                extras: dict[str, set[str]] = {}
                for m in await self._store.latest():
                    if m.target not in self.known:
                        extras.setdefault(m.vantage, set()).add(m.target)
                self._extras = extras
            return self._extras

"""The alert dispatcher: hands each incident event to every notifier's route.

Detection hands every event to `AlertDispatcher.submit`, which never blocks and never
raises for a notifier's sake. Each notifier has a *route* (`netvigil.notify.route`)
that decides whether the event becomes an alert (maintenance, wanted kinds, duplicates,
the quiet period, `min_confidence`) and delivers it from its own bounded queue on its
own task, so a slow or failing notifier delays nobody else and never detection.
Failures are logged and counted in `stats()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from types import TracebackType
from typing import Self

from netvigil.config.model import Config, notifier_names
from netvigil.incident import IncidentEvent
from netvigil.notify.base import Notifier
from netvigil.notify.build import NOTIFIERS, build_notifier
from netvigil.notify.policy import DEFAULT_EVENTS, AlertPolicy, NotifierStats, Skip
from netvigil.notify.route import Route

__all__ = [
    "DEFAULT_EVENTS",
    "NOTIFIERS",
    "AlertDispatcher",
    "AlertPolicy",
    "NotifierStats",
    "Skip",
    "build_notifier",
]

log = logging.getLogger("netvigil.notify")


class AlertDispatcher:
    """Turns incident events into alerts, sent by each notifier on its own task.

    `submit` must be called from the event loop's thread; it never blocks.
    """

    def __init__(
        self,
        routes: Sequence[tuple[Notifier, AlertPolicy]] = (),
        *,
        queue_size: int = 256,
        send_timeout_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        names = [n.name for n, _ in routes]
        if len(set(names)) != len(names):
            raise ValueError(f"notifier names must be unique: {names}")
        self._routes = [Route(n, p, queue_size, send_timeout_s) for n, p in routes]
        self._clock = clock
        self._closing = asyncio.Event()
        self._started = False
        self._stopped = False

    @classmethod
    def from_config(
        cls, config: Config, *, env: Mapping[str, str] | None = None, queue_size: int = 256
    ) -> AlertDispatcher:
        """One route per `[[notify]]` section. Raises ConfigError (e.g. a secret not set)."""
        routes: list[tuple[Notifier, AlertPolicy]] = []
        for section, name in zip(config.notify, notifier_names(config.notify), strict=True):
            notifier = build_notifier(section, name=name, env=env)
            routes.append((notifier, AlertPolicy.from_config(section)))
        return cls(routes, queue_size=queue_size)

    @property
    def notifiers(self) -> list[Notifier]:
        """The notifiers, in route order."""
        return [r.notifier for r in self._routes]

    def submit(self, event: IncidentEvent) -> int:
        """Offer one event to every route; returns how many queued or held it. Never blocks."""
        if self._stopped or self._closing.is_set():
            for route in self._routes:
                route.stats.submitted += 1
                route.skip(Skip.STOPPED)
            return 0
        now = self._clock()
        taken = 0
        for route in self._routes:
            try:
                taken += route.offer(event, now)
            except Exception:  # admission must never break detection
                log.exception("notify %s: could not judge event", route.notifier.name)
        return taken

    async def start(self) -> None:
        """Start one draining task per notifier (events submitted before wait their turn)."""
        if self._started:
            return
        self._started = True
        for route in self._routes:
            route.task = asyncio.create_task(
                route.run(self._clock, self._closing), name=f"notify-{route.notifier.name}"
            )

    async def stop(self, drain_timeout_s: float = 5.0) -> None:
        """Stop taking events, deliver what is queued for up to `drain_timeout_s`, then quit.

        Alerts still held by a quiet period are not sent; they and whatever is still
        queued when the time is up count as abandoned.
        """
        if self._stopped:
            return
        self._stopped = True
        self._closing.set()
        for route in self._routes:
            route.abandon_held()
            route.wake.set()
        tasks = [r.task for r in self._routes if r.task is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=drain_timeout_s)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for route in self._routes:
            if route.queue:
                route.stats.abandoned += len(route.queue)
                log.warning(
                    "notify %s: %d alert(s) not delivered before stop",
                    route.notifier.name,
                    len(route.queue),
                )
                route.queue.clear()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def stats(self) -> dict[str, NotifierStats]:
        """Counters per notifier name (live objects; read, do not change)."""
        return {r.notifier.name: r.stats for r in self._routes}

    def totals(self) -> NotifierStats:
        """Counters summed over every notifier."""
        total = NotifierStats()
        for route in self._routes:
            s = route.stats
            total.submitted += s.submitted
            total.queued += s.queued
            total.held += s.held
            total.sent += s.sent
            total.failed += s.failed
            total.dropped += s.dropped
            total.abandoned += s.abandoned
            total.skipped.update(s.skipped)
        return total

    def queue_depth(self) -> int:
        """Alerts waiting in every queue (in flight and held ones excluded)."""
        return sum(len(r.queue) for r in self._routes)

    async def wait_idle(self, timeout_s: float = 5.0) -> bool:
        """Wait until every queue is empty and no send is in flight; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(not r.queue and not r.busy for r in self._routes):
                return True
            await asyncio.sleep(0.005)
        return all(not r.queue and not r.busy for r in self._routes)

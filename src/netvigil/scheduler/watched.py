"""A probe under a deadline: every run ends in an Observation, on time or not.

`WatchedProbe.measure` runs one probe with a deadline kept by one shared
`netvigil.ratelimit.DeadlineWatch` (as `asyncio.timeout` would give, without a timer
per probe). A probe that overruns it, or raises, still yields an Observation
(`unknown`, the reason in `detail["error"]`); a probe that reports its own timeout keeps
its outcome and phase.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from netvigil.model import Observation
from netvigil.outcome import Outcome
from netvigil.ratelimit import DeadlineWatch

if TYPE_CHECKING:
    from netvigil.probes import TargetSpec

__all__ = ["DEFAULT_GRACE_S", "OVERRAN_ERROR", "ProbeLike", "WatchedProbe"]

log = logging.getLogger("netvigil.scheduler")

OVERRAN_ERROR = "probe overran its deadline"
"""`detail["error"]` of the Observation recorded when a probe outlives its deadline."""

DEFAULT_GRACE_S = 1.0
"""How long past `timeout_s` a probe may run before the scheduler abandons it."""


class ProbeLike(Protocol):
    """Anything that measures a target once (`netvigil.probes.ProbeSet`, or a test fake).

    `measure` returns an Observation for every network failure; it should return within
    `spec.timeout_s`, and the scheduler abandons it `grace_s` later.
    """

    async def measure(self, spec: TargetSpec) -> Observation: ...


class WatchedProbe:
    """`probe` run under deadlines kept by one watchdog, timed on the `now` clock."""

    def __init__(self, probe: ProbeLike, now: Callable[[], float]) -> None:
        self._probe = probe
        self._now = now
        self._deadlines = DeadlineWatch()

    async def measure(self, spec: TargetSpec, limit: float) -> Observation:
        """Probe `spec`, abandoning it after `limit` seconds; a failure is an Observation.

        Raises CancelledError only when the caller's task was cancelled by someone else.
        """
        # The deadline is kept by the shared DeadlineWatch: like asyncio.timeout(limit),
        # without a timer per probe.
        start = self._now()
        watched = self._deadlines.start(limit)
        try:
            return await self._probe.measure(spec)
        except asyncio.CancelledError:
            if not watched.overran or watched.task.uncancel() > 0:
                raise  # not our deadline, or someone else cancelled too
            return Observation(
                ok=False,
                outcome=Outcome.UNKNOWN,
                timings={"total": self._now() - start},
                detail={"error": OVERRAN_ERROR, "deadline_s": limit},
            )
        except Exception as exc:
            return self._failed(spec, exc, start)
        finally:
            self._deadlines.finish(watched)

    def close(self) -> None:
        """End the watchdog (a later `measure` starts it again)."""
        self._deadlines.close()

    def _failed(self, spec: TargetSpec, exc: Exception, start: float) -> Observation:
        log.error("probe for target %s raised %r", spec.name, exc, exc_info=exc)
        return Observation(
            ok=False,
            outcome=Outcome.UNKNOWN,
            timings={"total": self._now() - start},
            detail={"error": f"probe raised {type(exc).__name__}: {exc}"},
        )

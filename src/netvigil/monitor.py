"""The monitor: targets in, measurements out to every sink, on schedule or on demand.

`Monitor` ties the pieces of the live path together: a `Scheduler` drives the probes,
each Observation is stamped into a Measurement (this vantage, the target, the wall-clock
start of the probe) and handed to every sink (the store's write queue, an agent's spool)
with a non-blocking `submit`. `run_once` probes a set of targets once, concurrently,
for `netvigil check`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from netvigil.model import Measurement, Observation
from netvigil.scheduler import (
    DEFAULT_GRACE_S,
    DEFAULT_RESOLUTION_S,
    LagSummary,
    ProbeLike,
    Scheduler,
)

if TYPE_CHECKING:
    import random

    from netvigil.config.model import SchedulerConfig
    from netvigil.metrics import Metrics
    from netvigil.probes import TargetSpec

__all__ = ["MeasurementSink", "Monitor"]

log = logging.getLogger(__name__)


class MeasurementSink(Protocol):
    """Where measurements go: `submit` enqueues one and returns at once (never blocks)."""

    def submit(self, m: Measurement) -> None: ...


class Monitor:
    """Probes `targets` on schedule from `vantage` and delivers each result to all `sinks`.

    Usage::

        monitor = Monitor(config.targets, probes, [store], config.vantage.name,
                          config.scheduler, metrics)
        await monitor.run(stop)            # until stop is set; drains in-flight probes
        results = await monitor.run_once(targets)   # ad-hoc, concurrently

    A sink that raises is logged and counted (`netvigil_sink_errors_total`); the others
    still get the measurement. `now`, `wall`, `grace_s`, `rng` and `resolution_s` pass
    through to the Scheduler.
    """

    def __init__(
        self,
        targets: Sequence[TargetSpec],
        probes: ProbeLike,
        sinks: Sequence[MeasurementSink],
        vantage: str,
        scheduler: SchedulerConfig,
        metrics: Metrics | None = None,
        *,
        now: Callable[[], float] | None = None,
        wall: Callable[[], float] = time.time,
        grace_s: float = DEFAULT_GRACE_S,
        rng: random.Random | None = None,
        resolution_s: float = DEFAULT_RESOLUTION_S,
    ) -> None:
        self.vantage = vantage
        self.metrics = metrics
        self._sinks = tuple(sinks)
        self.scheduler = Scheduler(
            scheduler,
            probes,
            self._deliver,
            metrics=metrics,
            now=now,
            wall=wall,
            grace_s=grace_s,
            rng=rng,
            resolution_s=resolution_s,
        )
        self.scheduler.set_targets(targets)

    def set_targets(self, targets: Sequence[TargetSpec]) -> None:
        """Replace the scheduled targets (a config reload); unchanged ones keep their rhythm."""
        self.scheduler.set_targets(targets)

    def lag_summary(self) -> LagSummary:
        """Recent schedule lag (p50/p99/max)."""
        return self.scheduler.lag_summary()

    async def run(self, stop: asyncio.Event) -> None:
        """Probe on schedule until `stop` is set, then wait for the probes in flight."""
        await self.scheduler.run(stop)

    async def run_once(
        self, targets: Sequence[TargetSpec], *, deliver: bool = True
    ) -> list[Measurement]:
        """Probe each of `targets` once, all at once under the concurrency cap and rate guard.

        Returns the measurements in the order of `targets`; with `deliver` (the default)
        they also go to the sinks.
        """

        async def one(spec: TargetSpec) -> Measurement:
            obs, wall, elapsed = await self.scheduler.check(spec)
            return self._stamp(spec, obs, wall, elapsed, deliver=deliver)

        return list(await asyncio.gather(*(one(spec) for spec in targets)))

    def _deliver(self, spec: TargetSpec, obs: Observation, wall: float, elapsed: float) -> None:
        self._stamp(spec, obs, wall, elapsed, deliver=True)

    def _stamp(
        self, spec: TargetSpec, obs: Observation, wall: float, elapsed: float, *, deliver: bool
    ) -> Measurement:
        m = Measurement.from_observation(
            obs, vantage=self.vantage, target=spec.name, kind=spec.kind, ts=wall
        )
        if self.metrics is not None:
            self.metrics.observe_check(m.kind, m.outcome, elapsed)
        if deliver:
            for sink in self._sinks:
                try:
                    sink.submit(m)
                except Exception:
                    log.exception("sink %r refused measurement %s", sink, m.id)
                    if self.metrics is not None:
                        self.metrics.sink_errors.inc()
        return m

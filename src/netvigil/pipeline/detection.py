"""Live detection: the streaming Detector inside `netvigil run`, its events stored and alerted.

`LiveDetection` is a measurement sink (`submit(m)`, never blocks): each measurement is
fed to the `Detector` on the event loop (about 25,000 per CPU-second, so it keeps up
with any schedule), and every event the detector emits is

- written to the store (`Store.submit_incident_event`: the incident snapshot replaces
  the stored one and the event is appended to its log, in order with the measurements),
- handed to each event sink (the `AlertDispatcher`, the log of `netvigil run`), and
- kept for the live view (`open_incidents()`).

The detector keeps the current state (`netvigil.state.CurrentState`, passed as `state`)
up to date: the web, the status page and the live view read that same state. Targets
muted for maintenance there (the admin API mutes and unmutes them in it) label their
incidents and make their events quiet, so the dispatcher sends no alert for them.

A timer calls `Detector.advance(clock())` every `tick_s`, so buffered measurements are
processed (and incidents confirmed or resolved) even when measurements stop arriving.
On `start()` the detector is seeded with the incidents the store still holds open, so
an incident that outlives a restart keeps its id and its history. A failing store or
sink never stops detection: the failure is logged and counted in `stats`.

    detection = LiveDetection(config, store, sinks=[dispatcher])
    await detection.start()
    monitor = Monitor(targets, probes, [store, detection], ...)
    ...
    await detection.stop()          # processes what is buffered, then stops the timer

When the scheduler runs in the same process (`netvigil run`), `follow_local` lets its
vantage's measurements go as soon as no older probe is in flight (the scheduler's exact
watermark, `netvigil.detect.local_watermark`) instead of `lateness_s` later. An agent
reports its own mark with its batches (`mark`, from the ingest API): its measurements
go as soon as it has said that nothing older is on its way. An agent that sends no
marks keeps the lateness rule, and so does every agent the config names until it has
been heard from (`ReorderBuffer.expect`): until then nothing is released sooner than
`lateness_s` after the newest measurement.

`netvigil.pipeline.tee.TeeStore` wraps a store so that measurements written through it
(remote agents' batches arriving at the ingest API) reach detection too.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

from netvigil.config.model import Config
from netvigil.detect.detector import Detector, DetectorSettings
from netvigil.detect.local_watermark import LocalWatermark
from netvigil.incident import Incident, IncidentEvent
from netvigil.maintenance import Mute
from netvigil.metrics import DetectionFigures
from netvigil.model import Measurement
from netvigil.pipeline.worker import DetectionWorker, VantageMark
from netvigil.state.current import CurrentState
from netvigil.store.base import (
    IncidentQuery,
    Store,
)

__all__ = ["DetectionStats", "EventSink", "LiveDetection", "MeasurementSink"]

log = logging.getLogger("netvigil.detect")

SEED_LIMIT = 10_000
"""The most open incidents taken over from the store on start."""


class EventSink(Protocol):
    """Where incident events go: `submit` takes one and returns at once (never blocks)."""

    def submit(self, event: IncidentEvent) -> object: ...


class MeasurementSink(Protocol):
    """Where measurements go (as in `netvigil.monitor`)."""

    def submit(self, m: Measurement) -> None: ...


@dataclass(slots=True)
class DetectionStats:
    """Counters of live detection."""

    measurements: int = 0
    events: int = 0
    detect_failures: int = 0
    """Measurements the detector raised on (a bug; each logged)."""
    store_failures: int = 0
    """Events the store refused (the store closed or its writer stopped)."""
    sink_failures: int = 0
    """Events an event sink raised on."""
    seeded: int = 0
    """Open incidents taken over from the store on start (and from another detector,
    `take_over`)."""
    not_kept: int = 0
    """Events of incidents `keeps` refused (another detector's): not stored, not passed on."""


class LiveDetection:
    """Runs the Detector over live measurements; see the module docstring.

    `clock` is wall time in epoch seconds (the timer advances the detector to it);
    `lateness_s` is how late a measurement may arrive and still count. `keeps`, when
    given, says which incidents are this detection's (one of several detector
    processes, `netvigil.cluster.detector`): the events of the others are neither
    stored nor passed on (`stats.not_kept`), and they are not taken over on start.
    """

    def __init__(
        self,
        config: Config,
        store: Store,
        *,
        sinks: Sequence[EventSink] = (),
        lateness_s: float = 30.0,
        tick_s: float = 1.0,
        clock: Callable[[], float] = time.time,
        settings: DetectorSettings | None = None,
        state: CurrentState | None = None,
        threaded: bool = False,
        keeps: Callable[[Incident], bool] | None = None,
    ) -> None:
        if tick_s <= 0:
            raise ValueError("tick_s must be > 0")
        self.store = store
        self.sinks = list(sinks)
        self.tick_s = tick_s
        self.stats = DetectionStats()
        self.detector = Detector(config, lateness_s=lateness_s, settings=settings, state=state)
        self.state = self.detector.state
        """The current state the detector keeps up to date."""
        self._clock = clock
        self._keeps = keeps
        """Which incidents are this detection's (default: all); see `netvigil.cluster`."""
        self._open: dict[str, Incident] = {}
        self._local: LocalWatermark | None = None
        self._timer: asyncio.Task[None] | None = None
        self._started = False
        self.late_log = LateLog()
        self.worker = (
            DetectionWorker(
                self.detector, self._handle, clock=clock, tick_s=tick_s, on_error=self._failed
            )
            if threaded
            else None
        )
        """The thread detection runs on (`threaded=True`), or None: on the caller's."""

    def _failed(self) -> None:
        self.stats.detect_failures += 1

    @property
    def late(self) -> int:
        """Measurements dropped because they arrived more than `lateness_s` late."""
        return self.detector.late

    @property
    def watermark(self) -> float:
        """Every measurement submitted that is older than this has been processed (or
        dropped as late); the newer ones are held. Exact without a worker
        (`threaded=False`); a worker's queue is not counted."""
        return self.detector.watermark

    async def start(self) -> None:
        """Take over the store's open incidents and start the timer.

        Raises StoreError when the store cannot be read.
        """
        if self._started:
            return
        seeds = await self.store.incidents(IncidentQuery(open_only=True, limit=SEED_LIMIT))
        if self._keeps is not None:
            seeds = [inc for inc in seeds if self._keeps(inc)]
        seeds.reverse()  # oldest first, as the detector keeps them
        self.detector.seed(seeds)
        self.stats.seeded = len(seeds)
        for inc in seeds:
            self._open[inc.id] = inc
        if seeds:
            log.info("continuing %d open incident(s) from the store", len(seeds))
        self._started = True
        if self.worker is not None:
            self.worker.start()  # it advances the detector on its own thread
        self._timer = asyncio.create_task(self._tick_forever(), name="netvigil-detect-timer")

    async def stop(self) -> None:
        """Stop the timer, then process every buffered measurement (events still go out)."""
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer
            self._timer = None
        if self.worker is not None and self._started:
            await self.worker.stop()
        self._started = False
        with self.state.lock:
            self._handle(self._guard(self.detector.flush))

    async def __aenter__(self) -> LiveDetection:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def follow_local(self, vantage: str, in_flight: Callable[[], float]) -> None:
        """`vantage`'s measurements come from a scheduler in this process, handed to
        `submit` as its probes end, and `in_flight()` is its watermark
        (`Scheduler.watermark`): release them as soon as no older probe is in flight
        (see the module docstring). Call before the scheduler runs, from the thread that
        calls `submit`."""
        local = LocalWatermark(vantage, in_flight)
        with self.state.lock:
            self.detector.follow(local)
            self._local = local

    def mark(self, vantage: str, at: float) -> None:
        """`vantage` (an agent) reports that none of its measurements still to come is
        stamped before `at`; call after handing `submit` its measurements sent before the
        mark, from the same thread."""
        if self.worker is not None:
            self.worker.put(VantageMark(vantage, at))
            return
        with self.state.lock:
            self._handle(self._guard(lambda: self.detector.mark(vantage, at)))

    def submit(self, m: Measurement) -> None:
        """Feed one measurement to the detector (or its worker's queue) and pass on the
        events it causes."""
        self.stats.measurements += 1
        local = self._local
        if local is not None and m.vantage == local.vantage:
            local.note(m)  # in the order the detector will take them
        if self.worker is not None:
            self.worker.put(m)
            return
        with self.state.lock:
            self._handle(self._guard(lambda: self.detector.feed(m)))

    def reconfigure(self, config: Config) -> None:
        """Take a reloaded config (see `Detector.reconfigure`)."""
        with self.state.lock:
            self.detector.reconfigure(config)

    def rescope(self, config: Config, lost: Collection[str] = ()) -> None:
        """Detect over the targets `config` names from now on (a detector's share of the
        whole config, `netvigil.cluster.detector`), dropping what is known of the `lost`
        targets (see `Detector.rescope`). `netvigil run` never calls it: it detects over
        every target."""
        with self.state.lock:
            self.detector.rescope(config, lost)

    def take_over(self, incidents: Iterable[Incident]) -> int:
        """Continue open incidents another detector kept (their ids and histories), as
        `start` does with the store's: those this detection keeps and does not track yet
        are seeded into the detector. Returns how many were taken."""
        taken = [
            inc
            for inc in incidents
            if inc.open and inc.id not in self._open and (self._keeps is None or self._keeps(inc))
        ]
        with self.state.lock:
            self.detector.seed(taken)
        for inc in taken:
            self._open[inc.id] = inc
        self.stats.seeded += len(taken)
        return len(taken)

    def set_mutes(self, mutes: Iterable[Mute]) -> None:
        """Replace the targets muted for maintenance: from now on the incidents they make
        up are labelled maintenance and their events quiet (see `Detector.set_mutes`).

        The same as setting them in the current state (`self.state.set_mutes`).
        """
        self.detector.set_mutes(mutes)

    def tick(self) -> list[IncidentEvent]:
        """Advance the detector to `clock()` (what the timer does); returns the events."""
        with self.state.lock:
            events = self._guard(lambda: self.detector.advance(self._clock()))
        self._handle(events)
        return events

    def publish(self, events: Iterable[IncidentEvent]) -> None:
        """Store and pass on events of incidents changed beside the detector (the network
        plane's, `pipeline.signals`), exactly as the detector's own."""
        self._handle(events)

    def open_incidents(self) -> list[Incident]:
        """The open incidents as of the latest event, oldest first."""
        return sorted(self._open.values(), key=lambda i: (i.start, i.id))

    async def _tick_forever(self) -> None:
        while True:
            await asyncio.sleep(self.tick_s)
            if self.worker is None:
                self.tick()
            self.late_log.check(self.detector.late_by_vantage, self._clock())

    def figures(self) -> DetectionFigures:
        """What detection reports at a scrape (`Metrics.track_detection`)."""
        worker = self.worker
        return DetectionFigures(
            measurements=self.stats.measurements,
            queue_depth=worker.depth if worker is not None else 0,
            dropped=worker.dropped if worker is not None else 0,
            cpu_seconds=worker.busy_s if worker is not None else 0.0,
            gc_seconds=worker.gc_s if worker is not None else 0.0,
            hold_buckets=worker.hold_times.buckets() if worker is not None else [],
            hold_seconds=worker.hold_times.sum if worker is not None else 0.0,
            longest_hold_seconds=worker.longest_hold_s if worker is not None else 0.0,
            late_by_vantage=self.detector.late_by_vantage,
            clock_offset_by_vantage=self.state.clock_offsets(),
        )

    def _guard(self, step: Callable[[], list[IncidentEvent]]) -> list[IncidentEvent]:
        try:
            return step()
        except Exception:
            self.stats.detect_failures += 1
            log.exception("detector failed (%d so far)", self.stats.detect_failures)
            return []

    def _handle(self, events: Iterable[IncidentEvent]) -> None:
        for event in events:
            inc = event.incident
            if self._keeps is not None and not self._keeps(inc):
                self.stats.not_kept += 1
                continue
            self.stats.events += 1
            if inc.open:
                self._open[inc.id] = inc
            else:
                self._open.pop(inc.id, None)
            try:
                self.store.submit_incident_event(event)
            except Exception as exc:
                self.stats.store_failures += 1
                if _worth_logging(self.stats.store_failures):
                    log.error(
                        "incident %s %s not stored (%d so far): %s",
                        inc.id,
                        event.kind.value,
                        self.stats.store_failures,
                        exc,
                    )
            for sink in self.sinks:
                try:
                    sink.submit(event)
                except Exception:
                    self.stats.sink_failures += 1
                    if _worth_logging(self.stats.sink_failures):
                        log.exception(
                            "event sink %r failed on incident %s (%d so far)",
                            sink,
                            inc.id,
                            self.stats.sink_failures,
                        )


class LateLog:
    """One log line when a vantage's measurements start arriving late (behind its
    watermark, so dropped), and one when such a burst has been over for `quiet_s`, with
    its count; nothing in between."""

    def __init__(self, quiet_s: float = 60.0) -> None:
        self.quiet_s = quiet_s
        self._seen: dict[str, int] = {}
        self._burst: dict[str, tuple[int, float]] = {}
        """Per vantage in a burst: the count when it began, and when the last came."""

    def check(self, late_by_vantage: Mapping[str, int], now: float) -> None:
        """Compare the per-vantage late counts with the last check's; log what changed."""
        for vantage, count in late_by_vantage.items():
            before = self._seen.get(vantage, 0)
            self._seen[vantage] = count
            burst = self._burst.get(vantage)
            if count > before:
                if burst is None:
                    log.warning(
                        "measurements from %s arrive behind its watermark and are dropped "
                        "as late (is its clock or its link slow?)",
                        vantage,
                    )
                    self._burst[vantage] = (before, now)
                else:
                    self._burst[vantage] = (burst[0], now)
            elif burst is not None and now - burst[1] >= self.quiet_s:
                del self._burst[vantage]
                log.warning(
                    "%d measurement(s) from %s arrived late and were dropped; none since %.0f s",
                    count - burst[0],
                    vantage,
                    self.quiet_s,
                )


def _worth_logging(count: int) -> bool:
    """Log the first ten failures of a kind, then every hundredth."""
    return count <= 10 or count % 100 == 0

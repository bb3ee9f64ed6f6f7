"""The detection worker: the detector runs on a thread of its own, fed through a bounded
queue, so a large outage costs the event loop that probes and serves nothing.

`put(m)` never blocks: when the queue is full the oldest waiting measurement is dropped
and counted (`dropped`), never silently. `put_mark(vantage, at)` queues an agent's mark
(`Detector.mark`) behind the measurements it follows; a mark dropped from a full queue
only means the next one does its work. The thread takes measurements in chunks (a
lone measurement waits up to `linger_s` for others to join it: each wake-up of the
thread costs far more than a measurement pushed into the detector's reorder buffer),
holds the current state's lock while the detector processes a chunk (readers on the
event loop take the same lock, so they never see a table half-updated), and hands the
events of each chunk back to the event loop (`deliver`, called there). Every `tick_s` it
also advances the detector to the wall clock, so incidents are confirmed and resolved
when data stops.

Each hold of the lock is bounded: the detector's calls are given a `budget` (judgements
made, measurements processed: `CallBudget`) and carry what is left to the next call
(`Detector.resume`), so an outage's onset, whose one `advance` releases hundreds of
measurements that turn paths down and open and judge tens of incidents, is split over
several holds, the same work in the same order. Between two holds of the same work the
thread gives way for `give_way_s`, so that a reader waiting for the lock gets it (a lock
is not fair: released and taken again at once, it would stay with this thread).

Garbage collection (`pipeline.collector`): `settle_collector` tunes the collector of a
long-running process once its start-up is done (`netvigil run` calls it), and the thread
collects the young generation itself after a hold (`YoungCollector`, every so many
measurements processed), so that a collection seldom falls inside a hold and walks few
objects when it comes.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import functools
import gc
import logging
import threading
import time
from collections.abc import Callable
from typing import NamedTuple

from netvigil.detect.detector import CallBudget, Detector
from netvigil.incident import IncidentEvent
from netvigil.metrics import LoopHistogram
from netvigil.model import Measurement
from netvigil.pipeline.collector import (
    COLLECT_AT,
    COLLECT_EVERY,
    GEN0_THRESHOLD,
    YoungCollector,
    settle_collector,
)

__all__ = [
    "BUDGET",
    "GEN0_THRESHOLD",
    "HOLD_BUCKETS",
    "DetectionWorker",
    "VantageMark",
    "settle_collector",
]

log = logging.getLogger("netvigil.detect")

CHUNK = 64
"""Measurements fed under one hold of the state's lock (fewer when the budget runs out)."""

BUDGET = CallBudget(judgements=1, measurements=32)
"""What one hold of the state's lock may do (judgements made, measurements processed);
the rest of the work waits for the next hold."""

HOLD_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0, float("inf"))
"""Buckets of the holds' CPU time (`netvigil_detect_hold_seconds`): a hold past 10 ms
keeps readers of the state waiting long enough to be seen."""

GIVE_WAY_S = 0.0
"""How long the thread sleeps between two holds of the same piece of work: 0 still gives
up the GIL and the lock (a reader blocked on the lock takes it then) without leaving the
CPU to other processes, after which the next hold would start with cold caches."""

LINGER_S = 0.1
"""How long a chunk smaller than `CHUNK` waits for more measurements before it is fed."""

LONG_HOLD_S = 0.01
"""A hold of the lock longer than this (CPU) is logged at DEBUG, with what it did."""


class VantageMark(NamedTuple):
    """A vantage's report that none of its measurements still to come is stamped before
    `at` (`Detector.mark`), queued in order with its measurements."""

    vantage: str
    at: float


class DetectionWorker:
    """Runs `detector` on a thread; see the module docstring.

    `budget` is what one hold of the lock may do (None: no bound), `give_way_s` the
    pause between two holds of the same work, `linger_s` how long a small chunk waits
    for more, `collect_at` the net allocations after which the thread collects garbage
    after a hold, as it does every `collect_every` measurements processed
    (`YoungCollector`; None: CPython alone collects).
    """

    def __init__(
        self,
        detector: Detector,
        deliver: Callable[[list[IncidentEvent]], object],
        *,
        clock: Callable[[], float],
        tick_s: float,
        max_queue: int = 200_000,
        on_error: Callable[[], object] = lambda: None,
        budget: CallBudget | None = BUDGET,
        give_way_s: float = GIVE_WAY_S,
        linger_s: float = LINGER_S,
        collect_at: int | None = COLLECT_AT,
        collect_every: int = COLLECT_EVERY,
    ) -> None:
        self.detector = detector
        self.deliver = deliver
        self.clock = clock
        self.tick_s = tick_s
        self.max_queue = max_queue
        self.on_error = on_error
        self.budget = budget
        self.give_way_s = give_way_s
        self.linger_s = linger_s
        self.collector = None if collect_at is None else YoungCollector(collect_at, collect_every)
        self.dropped = 0
        """Measurements dropped because the queue was full (the oldest go first)."""
        self.processed = 0
        self.busy_s = 0.0
        """CPU seconds the thread spent detecting (and collecting garbage after a hold)."""
        self.gc_s = 0.0
        """Of `busy_s`, the CPU seconds of the garbage collections that ran on the thread:
        those after a hold and any CPython started inside one. A collection walks the
        young objects of the whole process (the ingest's parsed batches as much as the
        detector's), whichever thread runs it."""
        self._gc_started: float | None = None
        self.hold_times = LoopHistogram(HOLD_BUCKETS)
        """The CPU time of each hold of the lock (seconds)."""
        self.longest_hold_s = 0.0
        """The CPU time of the longest hold of the lock."""
        self.holds = 0
        """Holds of the lock so far (one per chunk fed, tick or piece of carried work)."""
        self._queue: collections.deque[Measurement | VantageMark] = collections.deque()
        self._wake = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def depth(self) -> int:
        """Measurements waiting."""
        return len(self._queue)

    def start(self) -> None:
        """Start the thread (on the event loop that will receive the events)."""
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="netvigil-detect", daemon=True)
        gc.callbacks.append(self._on_collection)
        self._thread.start()

    async def stop(self) -> None:
        """Process what is queued, then stop the thread."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
            self._thread = None
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._on_collection)

    def _on_collection(self, phase: str, info: dict[str, int]) -> None:
        """`gc.callbacks`: time the collections that run on this worker's thread."""
        thread = self._thread
        if thread is None or threading.get_ident() != thread.ident:
            return
        if phase == "start":
            self._gc_started = time.thread_time()
        elif self._gc_started is not None:
            self.gc_s += time.thread_time() - self._gc_started
            self._gc_started = None

    def put(self, m: Measurement | VantageMark) -> None:
        """Queue one measurement, or a vantage's mark behind its measurements (never
        blocks; the oldest is dropped when full)."""
        with self._wake:
            if len(self._queue) >= self.max_queue:
                self._queue.popleft()
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 10_000 == 0:
                    log.warning(
                        "detection is behind: %d measurement(s) dropped so far", self.dropped
                    )
            self._queue.append(m)
            if len(self._queue) in (1, CHUNK):
                self._wake.notify()

    def _run(self) -> None:
        next_tick = time.monotonic() + self.tick_s
        while True:
            chunk = self._take(next_tick)
            if chunk:
                self._step("feed", functools.partial(self._feed, chunk))
                self._finish_carried()
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + self.tick_s
                self._step(
                    "advance", lambda: self.detector.advance(self.clock(), budget=self.budget)
                )
                self._finish_carried()
            with self._wake:
                if self._stopping and not self._queue:
                    return

    def _take(self, next_tick: float) -> list[Measurement | VantageMark]:
        """Wait for measurements (until the next tick at most) and take a chunk of them; a
        lone few wait up to `linger_s` (never past the tick) for others."""
        with self._wake:
            if not self._queue and not self._stopping:
                self._wake.wait(max(0.0, next_tick - time.monotonic()))
            if 0 < len(self._queue) < CHUNK and not self._stopping:
                self._wake.wait(max(0.0, min(self.linger_s, next_tick - time.monotonic())))
            return [self._queue.popleft() for _ in range(min(CHUNK, len(self._queue)))]

    def _feed(self, chunk: list[Measurement | VantageMark]) -> list[IncidentEvent]:
        """Feed `chunk` until the hold's budget is spent; what is left goes back to the
        front of the queue."""
        detector, budget = self.detector, self.budget
        judgements, processed = detector.judgements, detector.processed
        events: list[IncidentEvent] = []
        fed = marks = 0
        for item in chunk:
            if isinstance(item, VantageMark):
                events.extend(detector.mark(item.vantage, item.at, budget=budget))
                marks += 1
            else:
                events.extend(detector.feed(item, budget=budget))
            fed += 1
            if detector.carrying or (
                budget is not None
                and budget.spent(detector.judgements - judgements, detector.processed - processed)
            ):
                break
        if fed < len(chunk):
            with self._wake:
                self._queue.extendleft(reversed(chunk[fed:]))
        self.processed += fed - marks
        return events

    def _finish_carried(self) -> None:
        """Go on with what a bounded call left, one hold of the lock per budget."""
        while self.detector.carrying:
            time.sleep(self.give_way_s)  # a reader waiting for the lock takes it now
            self._step("resume", lambda: self.detector.resume(budget=self.budget))

    def _step(self, what: str, work: Callable[[], list[IncidentEvent]]) -> None:
        detector = self.detector
        judgements, processed, gc0 = detector.judgements, detector.processed, self.gc_s
        cpu0 = time.thread_time()
        try:
            with detector.state.lock:
                events = work()
        except Exception:
            self.on_error()
            log.exception("detector failed")
            events = []
        held = time.thread_time() - cpu0
        if held > LONG_HOLD_S:
            log.debug(
                "a hold of the state's lock took %.1f ms of CPU (%s: %d judgement(s), %d"
                " measurement(s) processed, %.1f ms collecting garbage)",
                1000 * held,
                what,
                detector.judgements - judgements,
                detector.processed - processed,
                1000 * (self.gc_s - gc0),
            )
        if self.collector is not None:
            # Outside the lock; counted as detection's time, whose garbage it mostly is.
            self.collector.collect(self.detector.processed)
        self.holds += 1
        self.busy_s += time.thread_time() - cpu0
        self.hold_times.observe(held)
        self.longest_hold_s = max(self.longest_hold_s, held)
        if events and self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self._loop.call_soon_threadsafe(self.deliver, events)

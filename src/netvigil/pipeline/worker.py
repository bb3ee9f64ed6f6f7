"""The detection worker: the detector runs on a thread of its own, fed through a bounded
queue, so a large outage costs the event loop that probes and serves nothing.

`put(m)` never blocks: when the queue is full the oldest waiting measurement is dropped
and counted (`dropped`), never silently. The thread takes measurements in chunks, holds
the current state's lock while the detector processes a chunk (readers on the event loop
take the same lock, so they never see a table half-updated), and hands the events of each
chunk back to the event loop (`deliver`, called there). Every `tick_s` it also advances
the detector to the wall clock, so incidents are confirmed and resolved when data stops.

`settle_collector` tunes the garbage collector of a long-running process once its
start-up is done, so that no collection holds the detector (or the event loop) up for
long; see its docstring for why.
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

from netvigil.detect.detector import Detector
from netvigil.incident import IncidentEvent
from netvigil.model import Measurement

__all__ = ["GEN0_THRESHOLD", "DetectionWorker", "settle_collector"]

log = logging.getLogger("netvigil.detect")

CHUNK = 64
"""Measurements processed under one hold of the state's lock."""

GEN0_THRESHOLD = 20_000
"""Allocations (less deallocations) between two young collections; CPython's default
is 700."""


def settle_collector(gen0_threshold: int = GEN0_THRESHOLD) -> None:
    """Start-up is done: move every object alive now out of the collector's sight and
    collect the young generation less often. Call once, after start-up.

    Why. A collection stops every thread (it holds the GIL), and a full one walks every
    object the collector tracks. Much of what a server holds was built at start-up and
    is kept for good (modules, the config, the web app, pydantic's schemas):
    `gc.freeze()` moves it to the permanent generation, which no collection walks (such
    objects are still freed when nothing refers to them; only a reference cycle among
    them would stay). The detector allocates short-lived objects at a high rate
    (evidence windows, events, incident copies), mostly freed by reference counting;
    with CPython's default a young collection runs every 700 net allocations and every
    tenth one also collects the middle generation, so survivors reach the old
    generation, and its full collections, sooner. With `gen0_threshold` the collections
    come far less often. Measured on `bench/detector_throughput.py --vantages 5
    --down-networks 20` (docs/performance.md, "Detector throughput"): 151-200
    collections, the longest (a full one) 68-81 ms of CPU, became 6, none over 9 ms.
    """
    gc.collect()
    gc.freeze()
    _, gen1, gen2 = gc.get_threshold()
    gc.set_threshold(gen0_threshold, gen1, gen2)


class DetectionWorker:
    """Runs `detector` on a thread; see the module docstring."""

    def __init__(
        self,
        detector: Detector,
        deliver: Callable[[list[IncidentEvent]], object],
        *,
        clock: Callable[[], float],
        tick_s: float,
        max_queue: int = 200_000,
        on_error: Callable[[], object] = lambda: None,
    ) -> None:
        self.detector = detector
        self.deliver = deliver
        self.clock = clock
        self.tick_s = tick_s
        self.max_queue = max_queue
        self.on_error = on_error
        self.dropped = 0
        """Measurements dropped because the queue was full (the oldest go first)."""
        self.processed = 0
        self.busy_s = 0.0
        """CPU seconds the thread spent detecting."""
        self.longest_chunk_s = 0.0
        self._queue: collections.deque[Measurement] = collections.deque()
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
        self._thread.start()

    async def stop(self) -> None:
        """Process what is queued, then stop the thread."""
        with self._wake:
            self._stopping = True
            self._wake.notify()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
            self._thread = None

    def put(self, m: Measurement) -> None:
        """Queue one measurement (never blocks; the oldest is dropped when full)."""
        with self._wake:
            if len(self._queue) >= self.max_queue:
                self._queue.popleft()
                self.dropped += 1
                if self.dropped == 1 or self.dropped % 10_000 == 0:
                    log.warning(
                        "detection is behind: %d measurement(s) dropped so far", self.dropped
                    )
            self._queue.append(m)
            if len(self._queue) == 1:
                self._wake.notify()

    def _run(self) -> None:
        next_tick = time.monotonic() + self.tick_s
        while True:
            with self._wake:
                if not self._queue and not self._stopping:
                    self._wake.wait(max(0.0, next_tick - time.monotonic()))
                chunk = [self._queue.popleft() for _ in range(min(CHUNK, len(self._queue)))]
                stopping = self._stopping and not self._queue
            if chunk:
                self._step(functools.partial(self._feed, chunk))
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + self.tick_s
                self._step(lambda: self.detector.advance(self.clock()))
            if stopping:
                return

    def _feed(self, chunk: list[Measurement]) -> list[IncidentEvent]:
        events: list[IncidentEvent] = []
        for m in chunk:
            events.extend(self.detector.feed(m))
        self.processed += len(chunk)
        return events

    def _step(self, work: Callable[[], list[IncidentEvent]]) -> None:
        cpu0 = time.thread_time()
        try:
            with self.detector.state.lock:
                events = work()
        except Exception:
            self.on_error()
            log.exception("detector failed")
            events = []
        spent = time.thread_time() - cpu0
        self.busy_s += spent
        self.longest_chunk_s = max(self.longest_chunk_s, spent)
        if events and self._loop is not None and not self._loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                self._loop.call_soon_threadsafe(self.deliver, events)

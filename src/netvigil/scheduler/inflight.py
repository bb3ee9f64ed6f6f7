"""The probes in flight, by their wall-clock start: the exact watermark of one vantage.

Every measurement is stamped with its probe's wall-clock start. Once a probe's result
has been handed on, the only results still to come from this scheduler are those of the
probes still in flight (and of probes not yet started, which will be stamped later), so
every later result is stamped at or after the oldest start in flight, or at or after
now when nothing is in flight: `InFlightStarts.watermark()`. A run counts as in flight
from its start until its result has been handed on (not merely until the probe ended),
so a reader never sees a watermark past a result that is about to be delivered.

The watermark is read from another thread (the detection thread, `netvigil.detect.reorder`),
so begin, end and watermark hold a lock (uncontended: well under a microsecond).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from heapq import heappop, heappush

__all__ = ["InFlightStarts", "RunStart"]


class RunStart:
    """One run in flight: its wall-clock start, and whether it has ended."""

    __slots__ = ("ended", "wall")

    def __init__(self, wall: float) -> None:
        self.wall = wall
        self.ended = False


class InFlightStarts:
    """The wall-clock starts of the runs in flight (a heap with lazy removal).

    `wall` is the clock the results are stamped with; `watermark()` is the oldest start
    in flight, or `wall()` when none is (never decreasing, even if the clock steps back).
    """

    def __init__(self, wall: Callable[[], float]) -> None:
        self._wall = wall
        self._heap: list[tuple[float, int, RunStart]] = []
        self._serial = 0
        self._lock = threading.Lock()
        self._last = float("-inf")

    def __len__(self) -> int:
        """Runs in flight (begun and not ended)."""
        with self._lock:
            return sum(1 for item in self._heap if not item[2].ended)

    def begin(self) -> RunStart:
        """A run starts now: its `wall` is the stamp of its result. End it once its result
        has been handed on. (The clock is read under the lock, so no reader sees a mark
        past a start about to be recorded.)"""
        with self._lock:
            run = RunStart(self._wall())
            self._serial += 1
            heappush(self._heap, (run.wall, self._serial, run))
        return run

    def end(self, run: RunStart) -> None:
        """The run's result has been handed on: it no longer holds the watermark back."""
        with self._lock:
            run.ended = True
            heap = self._heap
            while heap and heap[0][2].ended:
                heappop(heap)

    def watermark(self) -> float:
        """Every result still to come is stamped at or after this (wall-clock seconds)."""
        with self._lock:
            heap = self._heap
            mark = heap[0][0] if heap else self._wall()
            if mark > self._last:
                self._last = mark
            return self._last

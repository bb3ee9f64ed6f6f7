"""When a long-running process collects garbage: settled once started, and collected
between the detector's calls rather than inside them.

A collection stops every thread (it holds the GIL, whichever thread runs it), and its
pause grows with the objects it walks. `settle_collector` (once, after start-up) puts
what start-up built out of the collector's sight and collects the young generation
less often; `YoungCollector` (called by the detection thread between two holds of the
state's lock) collects it before CPython would, at fewer objects, so that the pause is
shorter and seldom falls inside a call of the detector.
"""

from __future__ import annotations

import gc

__all__ = [
    "COLLECT_AT",
    "COLLECT_EVERY",
    "GEN0_THRESHOLD",
    "OLD_GROWTH",
    "YoungCollector",
    "settle_collector",
]

GEN0_THRESHOLD = 20_000
"""Allocations (less deallocations) between two young collections; CPython's default
is 700."""

COLLECT_AT = 5_000
"""Net allocations after which `YoungCollector` collects the young generation."""

COLLECT_EVERY = 1_000
"""Measurements processed after which `YoungCollector` collects the young generation."""

OLD_GROWTH = 0.25
"""`YoungCollector` collects every generation once the old one has grown by this share
since the last full collection (CPython's own rule is a quarter too)."""


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


class YoungCollector:
    """Collects the young generation after `every` measurements processed or `at` net
    allocations, whichever comes first (and the older generations when they are due, as
    CPython would); call `collect` between two calls of the detector, outside the
    state's lock.

    Why. CPython collects the young generation when its count of allocations less
    deallocations passes the threshold (`GEN0_THRESHOLD`), and a deallocation of any
    generation counts: a detector in its steady state frees old samples as fast as it
    makes new ones, so the count barely moves while the young generation fills (measured:
    106,000 young objects at a count of 5,000; the collection took 37 ms of CPU, and
    at the threshold it runs inside whichever call made the allocation that crossed it).
    Collected here every `every` measurements, the young generation holds a few thousand
    objects (measured on `bench/detector_throughput.py --minutes 120`: 2,600 at the
    median, 0.4 ms), and `at` bounds what a burst of allocations (an outage's onset)
    leaves to walk. The pause is every thread's (a collection holds the GIL whichever
    thread runs it), and it falls between the detector's calls, which then seldom reach
    CPython's threshold themselves.

    Generations as CPython chooses them: the middle one with the young one on every
    `threshold[1]`-th collection; every generation once the old one's count is past
    `threshold[2]` and it holds `old_growth` more objects than after the last full
    collection (CPython counts the objects moved into it instead, which it does not
    expose). Were only the young generation collected, the count would never reach
    CPython's threshold, and reference cycles in the older generations never be freed.
    """

    def __init__(
        self, at: int = COLLECT_AT, every: int = COLLECT_EVERY, *, old_growth: float = OLD_GROWTH
    ) -> None:
        self.at = at
        self.every = every
        self.old_growth = old_growth
        self.collections = [0, 0, 0]
        """Collections made here, per generation."""
        self._processed_at = 0
        """The detector's count of processed measurements at the last collection."""
        self._old_after_full = 0
        """The old generation's size after the last full collection made here (none yet: 0)."""

    def collect(self, processed: int) -> int | None:
        """Collect if due, `processed` being the detector's count of measurements processed
        (`Detector.processed`); the oldest generation collected, or None."""
        young, middle, old = gc.get_count()
        if young < self.at and processed - self._processed_at < self.every:
            return None
        self._processed_at = processed
        _, middle_threshold, old_threshold = gc.get_threshold()
        generation = 0
        if middle > middle_threshold:
            generation = 1
            if old > old_threshold and self._old_grown():
                generation = 2
        gc.collect(generation)
        if generation == 2:
            self._old_after_full = len(gc.get_objects(2))
        self.collections[generation] += 1
        return generation

    def _old_grown(self) -> bool:
        return len(gc.get_objects(2)) >= (1.0 + self.old_growth) * self._old_after_full

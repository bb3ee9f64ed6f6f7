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
    "MIDDLE_EVERY",
    "OLD_EVERY",
    "OLD_GROWTH",
    "YoungCollector",
    "settle_collector",
]

GEN0_THRESHOLD = 20_000
"""Allocations (less deallocations) between two young collections; CPython's default
is 700."""

COLLECT_AT = 5_000
"""Net allocations after which `YoungCollector` collects the young generation."""

COLLECT_EVERY = 2_000
"""Measurements processed after which `YoungCollector` collects the young generation."""

MIDDLE_EVERY = 4
"""`YoungCollector` collects the middle generation on every this-many-th collection
(CPython: every eleventh)."""

OLD_EVERY = 10
"""`YoungCollector` looks at the old generation's size on every this-many-th middle
collection (CPython counts ten too)."""

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
    allocations, whichever comes first, the middle one with it on every `middle_every`-th
    collection, and every generation once the old one has grown; call `collect` between
    two calls of the detector, outside the state's lock.

    Why. A collection's pause grows with the objects it walks, and it holds the GIL
    whichever thread runs it, so every thread sees it (the event loop too). CPython
    collects the young generation when its count of allocations less deallocations
    passes a threshold (`GEN0_THRESHOLD`), and a deallocation of any generation counts:
    a detector in its steady state frees old samples about as fast as it makes new ones,
    so the count barely moves while the young generation fills (measured: 106,000 young
    objects at a count of 5,000, a collection of 37 ms of CPU), and the collection runs
    inside whichever call made the allocation that crossed the threshold. Collected here
    every `every` measurements, the young generation holds a few thousand objects (on
    `bench/detector_throughput.py --minutes 120`: 2,600 at the median, 0.4 ms), `at`
    bounds what a burst of allocations leaves, and the pause falls between the
    detector's calls, which then seldom reach CPython's threshold themselves.

    The middle generation holds what survived the young collections since it was last
    collected: CPython collects it on every eleventh young collection, which after an
    outage's onset (a few tens of thousands of new objects: incidents, running summaries)
    took 11-19 ms; collected on every `middle_every`-th, it holds a few times fewer.
    What survives it goes to the old generation, collected in full once it holds
    `old_growth` more objects than after the last full collection (looked at on every
    `old_every`-th middle collection): CPython counts the objects moved into it instead,
    which it does not expose, and which counts those freed since as well. Were only the
    young generation collected, CPython's count would never reach its threshold, and
    reference cycles in the older generations never be freed.
    """

    def __init__(
        self,
        at: int = COLLECT_AT,
        every: int = COLLECT_EVERY,
        *,
        middle_every: int = MIDDLE_EVERY,
        old_every: int = OLD_EVERY,
        old_growth: float = OLD_GROWTH,
    ) -> None:
        self.at = at
        self.every = every
        self.middle_every = middle_every
        self.old_every = old_every
        self.old_growth = old_growth
        self.collections = [0, 0, 0]
        """Collections made here, per generation."""
        self._processed_at = 0
        """The detector's count of processed measurements at the last collection."""
        self._young_since_middle = 0
        self._middle_since_look = 0
        self._old_after_full: int | None = None
        """The old generation's size after the last full collection made here (or when it
        was first looked at)."""

    def collect(self, processed: int) -> int | None:
        """Collect if due, `processed` being the detector's count of measurements processed
        (`Detector.processed`); the oldest generation collected, or None."""
        if gc.get_count()[0] < self.at and processed - self._processed_at < self.every:
            return None
        self._processed_at = processed
        generation = 0
        self._young_since_middle += 1
        if self._young_since_middle >= self.middle_every:
            self._young_since_middle = 0
            generation = 1
            self._middle_since_look += 1
            if self._middle_since_look >= self.old_every:
                self._middle_since_look = 0
                generation = 2 if self._old_grown() else 1
        gc.collect(generation)
        if generation == 2:
            self._old_after_full = len(gc.get_objects(2))
        self.collections[generation] += 1
        return generation

    def _old_grown(self) -> bool:
        """Whether the old generation grew by `old_growth` since the last full collection
        (the first look only takes its size)."""
        size = len(gc.get_objects(2))
        if self._old_after_full is None:
            self._old_after_full = size
            return False
        return size >= (1.0 + self.old_growth) * self._old_after_full

"""`YoungCollector`: the young generation collected every so many measurements or
allocations, the middle one on every few collections, all of them once the old
generation has grown."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from netvigil.pipeline.collector import YoungCollector

NEVER = 10**9
"""An `at` no test reaches: only the measurements trigger."""


@pytest.fixture
def quiet_collector() -> Iterator[None]:
    """CPython's own collections off (explicit ones still run), every count at zero."""
    was_enabled = gc.isenabled()
    gc.disable()
    gc.collect()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def test_nothing_is_collected_before_enough_measurements_or_allocations(
    quiet_collector: None,
) -> None:
    collector = YoungCollector(NEVER, every=100)
    assert collector.collect(99) is None
    assert collector.collect(100) == 0
    assert collector.collect(150) is None  # 50 since the last one
    assert collector.collect(200) == 0
    assert gc.get_count()[0] < 10  # the young generation was emptied


def test_allocations_alone_trigger_a_collection(quiet_collector: None) -> None:
    collector = YoungCollector(at=2_000, every=NEVER)
    assert collector.collect(0) is None
    kept = [[i] for i in range(2_500)]  # young, tracked, alive
    assert gc.get_count()[0] >= 2_000
    assert collector.collect(0) == 0
    assert gc.get_count()[0] < 10
    assert len(kept) == 2_500


def test_the_middle_generation_goes_with_every_few_young_collections(
    quiet_collector: None,
) -> None:
    collector = YoungCollector(NEVER, every=1, middle_every=3, old_every=NEVER)
    kept = [[i] for i in range(500)]
    made = [collector.collect(n) for n in range(1, 10)]
    assert made == [0, 0, 1] * 3
    assert collector.collections == [6, 3, 0]
    assert gc.get_count()[1] == 0  # the middle one was just collected
    assert all(gc.is_tracked(x) for x in kept)
    assert len(gc.get_objects(1)) < len(kept)  # what survived went on to the old one


def test_the_old_generation_is_collected_once_it_has_grown(quiet_collector: None) -> None:
    collector = YoungCollector(NEVER, every=1, middle_every=2, old_every=2)
    looks = 2 * 2  # collections between two looks at the old generation's size
    made = [collector.collect(n) for n in range(1, 4 * looks + 1)]
    assert 2 not in made  # the first look takes its size; it did not grow since

    grown = [[i] for i in range(len(gc.get_objects(2)) // 3)]  # a third more, tracked
    made = [collector.collect(n) for n in range(4 * looks + 1, 6 * looks + 1)]
    assert made.count(2) == 1  # collected once, then the new size is the measure
    assert collector.collections[2] == 1
    assert len(grown) > 0

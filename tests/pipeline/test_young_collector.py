"""`YoungCollector`: the young generation collected every so many measurements or
allocations, the older ones when CPython would collect them."""

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


def test_the_middle_generation_is_collected_as_cpython_would(quiet_collector: None) -> None:
    collector = YoungCollector(NEVER, every=1)
    middle_threshold = gc.get_threshold()[1]
    period = middle_threshold + 2
    generations = [collector.collect(n) for n in range(1, 2 * period + 1)]
    # CPython collects the middle generation once its count (the young collections since
    # it was last collected) is past its threshold.
    assert generations == ([0] * (period - 1) + [1]) * 2
    assert collector.collections == [2 * (period - 1), 2, 0]


def test_the_old_generation_is_collected_once_due_and_grown(quiet_collector: None) -> None:
    collector = YoungCollector(NEVER, every=1)
    _, middle_threshold, old_threshold = gc.get_threshold()
    per_old = (middle_threshold + 2) * (old_threshold + 2)
    """Collections until the old generation's count is past its threshold, as above."""
    made = [collector.collect(n) for n in range(1, per_old + 1)]
    # The first time it is due, it is collected (nothing was collected here before).
    assert made.count(2) == 1 and made[-1] == 2

    made = [collector.collect(n) for n in range(per_old + 1, 3 * per_old + 1)]
    assert 2 not in made  # due again, but the old generation did not grow

    grown = [[i] for i in range(len(gc.get_objects(2)) // 3)]  # a third more, tracked
    made = [collector.collect(n) for n in range(3 * per_old + 1, 4 * per_old + 1)]
    assert 2 in made
    assert len(grown) > 0

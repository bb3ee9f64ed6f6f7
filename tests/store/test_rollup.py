"""Rollup arithmetic: quantiles as numpy computes them, minute buckets, merging."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from netvigil.store.base import Rollup, RollupQuery
from netvigil.store.rollup import (
    RollupBuilder,
    bucket_rollups,
    merge_rollups,
    minute_of,
    quantile,
)


@given(
    st.lists(st.floats(0, 1e4, allow_nan=False), min_size=1, max_size=50),
    st.sampled_from([0.0, 0.05, 0.5, 0.95, 0.99, 1.0]),
)
def test_quantile_matches_numpy(values: list[float], q: float) -> None:
    assert quantile(sorted(values), q) == pytest.approx(float(np.quantile(values, q)), rel=1e-12)


def test_quantile_of_nothing_is_an_error() -> None:
    with pytest.raises(ValueError, match="no values"):
        quantile([], 0.5)


@pytest.mark.parametrize(
    ("ts", "minute"),
    [(0.0, 0), (59.999, 0), (60.0, 60), (120 - 1e-14, 60), (1_699_999_980.5, 1_699_999_980)],
)
def test_minute_of(ts: float, minute: int) -> None:
    assert minute_of(ts) == minute
    assert minute <= ts < minute + 60


def test_builder_counts_outcomes_and_ignores_failed_latency() -> None:
    b = RollupBuilder()
    for ok, outcome, total in [(True, "ok", 0.2), (True, "ok", None), (False, "tcp_timeout", 9.0)]:
        b.add(ok, outcome, total)
    r = b.build(60, "t", "v")
    assert (r.count, r.ok_count, r.outcomes) == (3, 2, {"ok": 2, "tcp_timeout": 1})
    assert r.latency_p50_s == r.latency_p95_s == 0.2


def test_merge_adds_counts_and_keeps_known_quantiles() -> None:
    old = RollupBuilder()
    old.add(True, "ok", 1.0)
    new = RollupBuilder()
    new.add(False, "dns_timeout", None)
    new.add(True, "ok", 3.0)
    merged = merge_rollups(old.build(0, "t", "v"), new.build(0, "t", "v"))
    assert (merged.count, merged.ok_count) == (3, 2)
    assert merged.outcomes == {"dns_timeout": 1, "ok": 2}
    assert merged.latency_p50_s == 1.0
    empty = RollupBuilder()
    empty.add(False, "dns_timeout", None)
    assert merge_rollups(empty.build(0, "t", "v"), new.build(0, "t", "v")).latency_p50_s == 3.0


def _minute(minute: int, count: int, answered: int, p50: float | None, **outcomes: int) -> Rollup:
    p95 = None if p50 is None else 2 * p50
    return Rollup(minute, "t", "v", count, answered, p50, p95, outcomes)


def test_buckets_sum_counts_and_outcomes_and_weigh_latency_by_answers() -> None:
    rows = [
        _minute(3600, 2, 2, 0.1, ok=2),
        _minute(3660, 4, 1, 0.4, ok=1, tcp_timeout=3),
        _minute(3720, 1, 0, None, dns_servfail=1),
        _minute(7200, 1, 1, 0.2, ok=1),  # the next hour
    ]
    first, second = bucket_rollups(rows, 3600)
    assert (first.minute, first.count, first.ok_count) == (3600, 7, 3)
    assert first.outcomes == {"dns_servfail": 1, "ok": 3, "tcp_timeout": 3}
    assert first.latency_p50_s == pytest.approx((0.1 * 2 + 0.4 * 1) / 3)
    assert first.latency_p95_s == pytest.approx((0.2 * 2 + 0.8 * 1) / 3)
    assert (second.minute, second.count, second.latency_p50_s) == (7200, 1, 0.2)


def test_a_bucket_without_answers_has_no_latency() -> None:
    [bucket] = bucket_rollups([_minute(0, 3, 0, None, tcp_timeout=3)], 300)
    assert (bucket.latency_p50_s, bucket.latency_p95_s) == (None, None)


def test_buckets_keep_targets_and_vantages_apart_and_in_order() -> None:
    rows = [
        Rollup(60, "b", "v1", 1, 1, 0.1, 0.1, {"ok": 1}),
        Rollup(0, "a", "v2", 1, 1, 0.1, 0.1, {"ok": 1}),
        Rollup(120, "a", "v1", 1, 1, 0.1, 0.1, {"ok": 1}),
    ]
    assert [(r.minute, r.target, r.vantage) for r in bucket_rollups(rows, 300)] == [
        (0, "a", "v1"),
        (0, "a", "v2"),
        (0, "b", "v1"),
    ]


@pytest.mark.parametrize("step", [0, 30, 90, -60])
def test_a_step_that_is_not_whole_minutes_is_refused(step: int) -> None:
    with pytest.raises(ValueError, match="whole number of minutes"):
        bucket_rollups([], step)
    with pytest.raises(ValueError, match="whole number of minutes"):
        RollupQuery(step=step)

"""Rollup arithmetic: quantiles as numpy computes them, minute buckets, merging."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from netvigil.store.rollup import RollupBuilder, merge_rollups, minute_of, quantile


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

"""Figure data: grids, success ratios, latency bands and outcome counts, apart from drawing."""

from __future__ import annotations

import pytest

from netvigil.model import Measurement
from netvigil.outcome import Outcome, Phase
from netvigil.report.series import (
    BIN_WIDTHS_S,
    Grid,
    Sample,
    choose_grid,
    latency_bands,
    outcome_counts,
    reachability,
    success_ratios,
)
from netvigil.store.base import Rollup

T0 = 1_658_005_200.0  # 2022-07-16 21:00:00 UTC, a multiple of every bin width


def probe(ts: float, vantage: str, target: str, ok: bool, total: float | None = 0.05) -> Sample:
    return Sample.from_measurement(
        Measurement(
            id=f"{ts}-{vantage}-{target}",
            ts=ts,
            vantage=vantage,
            target=target,
            kind="http",
            ok=ok,
            outcome=Outcome.OK if ok else Outcome.TCP_TIMEOUT,
            phase=None if ok else Phase.CONNECT,
            timings={"total": total} if ok and total is not None else {},
        )
    )


GRID = Grid(start=T0, width_s=30.0, count=4, source="measurements")


def test_success_ratio_per_vantage_per_bin() -> None:
    samples = [
        # bin 0: a 3/3, b 1/2
        probe(T0 + 1, "a", "t1", True),
        probe(T0 + 11, "a", "t1", True),
        probe(T0 + 21, "a", "t2", True),
        probe(T0 + 5, "b", "t1", True),
        probe(T0 + 15, "b", "t1", False),
        # bin 1: a 0/2, nothing from b
        probe(T0 + 31, "a", "t1", False),
        probe(T0 + 41, "a", "t2", False),
        # bin 3: a 1/3
        probe(T0 + 91, "a", "t1", True),
        probe(T0 + 101, "a", "t1", False),
        probe(T0 + 111, "a", "t2", False),
        # outside the grid and another target: ignored
        probe(T0 - 1, "a", "t1", False),
        probe(T0 + 120, "a", "t1", False),
        probe(T0 + 2, "a", "other", False),
    ]
    ratios = success_ratios(samples, GRID, {"t1", "t2"})
    assert list(ratios) == ["a", "b"]
    assert ratios["a"] == [1.0, 0.0, None, pytest.approx(1 / 3)]
    assert ratios["b"] == [0.5, None, None, None]


def test_reachability_splits_by_service() -> None:
    samples = [
        probe(T0 + 1, "a", "gov-1", False),
        probe(T0 + 2, "a", "gov-2", False),
        probe(T0 + 3, "a", "tax", True),
    ]
    data = reachability(samples, GRID, {"gov": {"gov-1", "gov-2"}, "tax": {"tax"}})
    assert data["gov"]["a"][0] == 0.0
    assert data["tax"]["a"][0] == 1.0


def test_rollups_weigh_by_probe_count() -> None:
    grid = Grid(start=T0, width_s=120.0, count=2, source="rollups")
    rollups = [
        Rollup(int(T0), "t", "a", 6, 6, 0.02, 0.03, {"ok": 6}),
        Rollup(int(T0) + 60, "t", "a", 6, 0, None, None, {"tcp_timeout": 6}),
        Rollup(int(T0) + 120, "t", "a", 4, 1, 0.5, 0.5, {"ok": 1, "http_5xx": 3}),
    ]
    samples = [Sample.from_rollup(r) for r in rollups]
    assert success_ratios(samples, grid, {"t"})["a"] == [0.5, 0.25]
    counts = outcome_counts(samples, grid, {"t"})
    assert counts == {"ok": [6, 1], "tcp_timeout": [6, 0], "http_5xx": [0, 3]}
    assert list(counts) == ["ok", "tcp_timeout", "http_5xx"]
    band = latency_bands(samples, grid, {"t"}, onset=T0 + 120)["a"]
    assert band.p50 == [0.02, 0.5]
    assert band.probes == [12, 4]
    assert band.baseline == 0.02


def test_latency_band_quantiles_and_baseline_before_onset() -> None:
    before = [probe(T0 + i, "a", "t", True, total=0.01 * (i + 1)) for i in range(20)]
    during = [probe(T0 + 30 + i, "a", "t", False) for i in range(5)]
    after = [probe(T0 + 60 + i, "a", "t", True, total=0.9) for i in range(3)]
    bands = latency_bands([*before, *during, *after], GRID, {"t"}, onset=T0 + 30)
    band = bands["a"]
    assert band.p50[0] == pytest.approx(0.105)  # median of 0.01..0.20
    assert band.p95[0] == pytest.approx(0.1905)
    assert band.p50[1] is None and band.probes[1] == 5  # probed, nothing succeeded
    assert band.p50[2] == pytest.approx(0.9)
    assert band.p50[3] is None and band.probes[3] == 0
    assert band.baseline == pytest.approx(0.105)  # only bins that end by the onset


def test_outcome_counts_put_ok_first_then_most_frequent() -> None:
    samples = [
        probe(T0 + 1, "a", "t", True),
        probe(T0 + 2, "b", "t", False),
        probe(T0 + 31, "a", "t", False),
        probe(T0 + 32, "b", "t", False),
    ]
    counts = outcome_counts(samples, GRID, {"t"})
    assert list(counts) == ["ok", "tcp_timeout"]
    assert counts["tcp_timeout"] == [1, 2, 0, 0]
    assert counts["ok"] == [1, 0, 0, 0]


@pytest.mark.parametrize(
    ("span_s", "interval_s", "source", "width"),
    [
        (50 * 60, 10.0, "measurements", 30.0),  # a few probe intervals, not 20 s
        (50 * 60, 60.0, "measurements", 300.0),  # 3 intervals = 180 s, rounded up
        (5 * 3600, 10.0, "measurements", 120.0),
        (16 * 3600, 10.0, "rollups", 600.0),
        (10 * 86400, 60.0, "rollups", 7200.0),
    ],
)
def test_grid_follows_the_span(span_s: float, interval_s: float, source: str, width: float) -> None:
    grid = choose_grid(T0 + 7, T0 + 7 + span_s, interval_s=interval_s)
    assert grid.source == source
    assert grid.width_s == width
    assert grid.start <= T0 + 7 < grid.start + grid.width_s
    assert grid.start % grid.width_s == 0
    assert grid.end >= T0 + 7 + span_s
    assert grid.count <= 160
    assert grid.width_s in BIN_WIDTHS_S
    assert grid.index(T0 + 7) == 0
    assert grid.index(grid.end) is None

"""Figure data: measurements or rollups binned on a time grid, before anything is drawn.

A report reads raw measurements for short incidents and per-minute rollups for long
ones; both become `Sample`s (one measurement, or one minute of one path), which the
functions here fold into per-bin series: success ratio per vantage, latency quantiles
per vantage with a baseline, and outcome counts. Pure functions, no I/O, no drawing,
so what a figure shows can be tested apart from how it looks.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from netvigil.model import Measurement
from netvigil.outcome import Outcome
from netvigil.store.base import Rollup
from netvigil.store.rollup import MINUTE_S, quantile

__all__ = [
    "BIN_WIDTHS_S",
    "Grid",
    "LatencyBand",
    "Sample",
    "choose_grid",
    "latency_bands",
    "outcome_counts",
    "reachability",
    "success_ratios",
]

Source = Literal["measurements", "rollups"]

BIN_WIDTHS_S: tuple[int, ...] = (
    *(10, 15, 20, 30),
    *(60, 120, 300, 600, 900, 1800),
    *(3600, 7200, 10800, 21600, 43200, 86400),
)
"""The bin widths a grid may use: each divides a day, so bins line up with clock times."""

TARGET_BINS = 150
"""About this many bins across a report's window (fewer when probes are sparse)."""

PROBES_PER_BIN = 3
"""A raw-measurement bin spans at least this many probe intervals."""


@dataclass(frozen=True, slots=True)
class Sample:
    """What one vantage saw of one target at one moment (a measurement) or minute (a rollup).

    `exact` is set for a single raw measurement, whose `latency_p50_s` and
    `latency_p95_s` are both its own `total` timing (None when it failed).
    """

    ts: float
    target: str
    vantage: str
    count: int
    ok_count: int
    latency_p50_s: float | None
    latency_p95_s: float | None
    outcomes: Mapping[str, int]
    exact: bool

    @classmethod
    def from_measurement(cls, m: Measurement) -> Sample:
        """One raw measurement as a sample."""
        total = m.timings.get("total") if m.ok else None
        if total is not None and not math.isfinite(total):
            total = None
        return cls(
            ts=m.ts,
            target=m.target,
            vantage=m.vantage,
            count=1,
            ok_count=1 if m.ok else 0,
            latency_p50_s=total,
            latency_p95_s=total,
            outcomes={m.outcome.value: 1},
            exact=True,
        )

    @classmethod
    def from_rollup(cls, r: Rollup) -> Sample:
        """One per-minute rollup as a sample."""
        return cls(
            ts=float(r.minute),
            target=r.target,
            vantage=r.vantage,
            count=r.count,
            ok_count=r.ok_count,
            latency_p50_s=r.latency_p50_s,
            latency_p95_s=r.latency_p95_s,
            outcomes=dict(r.outcomes),
            exact=False,
        )


@dataclass(frozen=True, slots=True)
class Grid:
    """Equal time bins: bin i covers [start + i*width_s, start + (i+1)*width_s).

    `source` says what the bins are filled from: raw measurements or per-minute rollups.
    """

    start: float
    width_s: float
    count: int
    source: Source

    @property
    def end(self) -> float:
        """The end of the last bin."""
        return self.start + self.count * self.width_s

    def index(self, ts: float) -> int | None:
        """The bin holding `ts`, or None outside the grid."""
        i = math.floor((ts - self.start) / self.width_s)
        return i if 0 <= i < self.count else None

    def edges(self) -> list[float]:
        """The start of every bin."""
        return [self.start + i * self.width_s for i in range(self.count)]

    def centers(self) -> list[float]:
        """The middle of every bin."""
        half = self.width_s / 2
        return [self.start + i * self.width_s + half for i in range(self.count)]


def choose_grid(
    since: float,
    until: float,
    *,
    interval_s: float,
    raw_span_s: float = 6 * 3600.0,
    source: Source | None = None,
) -> Grid:
    """A grid over [since, until) with about TARGET_BINS bins of a width from BIN_WIDTHS_S.

    Spans up to `raw_span_s` are binned from raw measurements, each bin holding at least
    PROBES_PER_BIN probe intervals (`interval_s`); longer spans from per-minute rollups,
    in whole minutes. `source` forces the choice. Bins start on a multiple of their width.
    """
    span = max(until - since, 1.0)
    chosen: Source = source or ("measurements" if span <= raw_span_s else "rollups")
    floor = PROBES_PER_BIN * interval_s if chosen == "measurements" else float(MINUTE_S)
    wanted = max(floor, span / TARGET_BINS)
    width = next((float(w) for w in BIN_WIDTHS_S if w >= wanted), None)
    if width is None:  # spans of many months: whole days
        width = math.ceil(wanted / 86_400) * 86_400.0
    start = math.floor(since / width) * width
    count = max(1, math.ceil((until - start) / width))
    return Grid(start=start, width_s=width, count=count, source=chosen)


def success_ratios(
    samples: Iterable[Sample], grid: Grid, targets: Collection[str]
) -> dict[str, list[float | None]]:
    """Per vantage, the share of successful probes to `targets` in each bin (None: no probe)."""
    counts: dict[str, list[int]] = {}
    oks: dict[str, list[int]] = {}
    for s in samples:
        i = grid.index(s.ts)
        if i is None or s.target not in targets:
            continue
        if s.vantage not in counts:
            counts[s.vantage] = [0] * grid.count
            oks[s.vantage] = [0] * grid.count
        counts[s.vantage][i] += s.count
        oks[s.vantage][i] += s.ok_count
    return {
        vantage: [
            ok / n if n else None for ok, n in zip(oks[vantage], counts[vantage], strict=True)
        ]
        for vantage in sorted(counts)
    }


def reachability(
    samples: Sequence[Sample], grid: Grid, services: Mapping[str, Collection[str]]
) -> dict[str, dict[str, list[float | None]]]:
    """For each service (name -> its targets), `success_ratios` per vantage."""
    return {name: success_ratios(samples, grid, targets) for name, targets in services.items()}


@dataclass(slots=True)
class LatencyBand:
    """Latency of successful probes from one vantage per bin, and what is usual.

    `p50` and `p95` hold seconds per bin (None where nothing succeeded); `probes` counts
    every probe per bin, failed or not, so a gap with probes means none succeeded. `baseline` is
    the median of the per-bin `p50` values before `onset` (None without such bins).
    From rollups, a bin's p50 is the median of its minutes' medians and its p95 the 95th
    percentile of their 95th percentiles, each weighted by successful probes: exact for
    one probe a minute, otherwise close to (p95: at or above) the quantile of all probes.
    """

    p50: list[float | None] = field(default_factory=list)
    p95: list[float | None] = field(default_factory=list)
    probes: list[int] = field(default_factory=list)
    baseline: float | None = None


def _weighted_quantile(pairs: list[tuple[float, int]], q: float) -> float:
    """The smallest value whose cumulative weight reaches q of the total."""
    pairs.sort()
    wanted = q * sum(w for _, w in pairs)
    run = 0
    for value, weight in pairs:
        run += weight
        if run >= wanted:
            return value
    return pairs[-1][0]


def _bin_latency(cell: list[Sample]) -> tuple[float | None, float | None]:
    if not cell:
        return None, None
    if all(s.exact for s in cell):
        values = sorted(s.latency_p50_s for s in cell if s.latency_p50_s is not None)
        return quantile(values, 0.5), quantile(values, 0.95)
    p50 = [(s.latency_p50_s, s.ok_count) for s in cell if s.latency_p50_s is not None]
    p95 = [(s.latency_p95_s, s.ok_count) for s in cell if s.latency_p95_s is not None]
    return (
        _weighted_quantile(p50, 0.5) if p50 else None,
        _weighted_quantile(p95, 0.95) if p95 else None,
    )


def latency_bands(
    samples: Iterable[Sample], grid: Grid, targets: Collection[str], *, onset: float
) -> dict[str, LatencyBand]:
    """Per vantage, p50/p95 latency of successful probes to `targets` per bin, with baseline."""
    cells: dict[str, list[list[Sample]]] = defaultdict(lambda: [[] for _ in range(grid.count)])
    probes: dict[str, list[int]] = defaultdict(lambda: [0] * grid.count)
    for s in samples:
        i = grid.index(s.ts)
        if i is None or s.target not in targets:
            continue
        probes[s.vantage][i] += s.count
        cell = cells[s.vantage][i]
        if s.ok_count and s.latency_p50_s is not None:
            cell.append(s)
    bands: dict[str, LatencyBand] = {}
    for vantage in sorted(cells):
        band = LatencyBand(probes=probes[vantage])
        for cell in cells[vantage]:
            p50, p95 = _bin_latency(cell)
            band.p50.append(p50)
            band.p95.append(p95)
        before = sorted(
            v
            for edge, v in zip(grid.edges(), band.p50, strict=True)
            if v is not None and edge + grid.width_s <= onset
        )
        band.baseline = quantile(before, 0.5) if before else None
        bands[vantage] = band
    return bands


def outcome_counts(
    samples: Iterable[Sample], grid: Grid, targets: Collection[str]
) -> dict[str, list[int]]:
    """Per outcome, how many probes to `targets` (all vantages) ended so in each bin.

    Ordered `ok` first, then by total count, most frequent first (then by name).
    """
    counts: dict[str, list[int]] = {}
    for s in samples:
        i = grid.index(s.ts)
        if i is None or s.target not in targets:
            continue
        for outcome, n in s.outcomes.items():
            counts.setdefault(outcome, [0] * grid.count)[i] += n

    def order(name: str) -> tuple[int, int, str]:
        return (0 if name == Outcome.OK.value else 1, -sum(counts[name]), name)

    return {name: counts[name] for name in sorted(counts, key=order)}

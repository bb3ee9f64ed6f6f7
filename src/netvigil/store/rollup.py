"""Per-minute rollups: how measurements of one (minute, target, vantage) are summarised.

Pure functions shared by the stores, so every backend computes the same numbers:
`minute_of` buckets a timestamp, `quantile` interpolates like numpy's default
(`method="linear"`), `RollupBuilder` folds rows into a `Rollup`, `OpenRollup` keeps
a running summary that can be read at any time (the writer's open minutes), and
`bucket_rollups` sums minutes into coarser buckets for long ranges.
"""

from __future__ import annotations

import math
from bisect import insort
from collections.abc import Iterable, Sequence

from netvigil.store.base import Rollup

__all__ = [
    "MINUTE_S",
    "OpenRollup",
    "RollupBuilder",
    "Sample",
    "bucket_rollups",
    "merge_rollups",
    "minute_of",
    "quantile",
]

Sample = tuple[int, str, float | None]
"""One measurement as its rollup sees it: ok (0 or 1), outcome name, `total` timing."""

MINUTE_S = 60
"""The width of one rollup bucket, in seconds."""


def minute_of(ts: float) -> int:
    """The start of the minute holding `ts`, in epoch seconds (floor, exact for floats)."""
    return int(ts // MINUTE_S) * MINUTE_S


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) of already sorted values, interpolated linearly.

    Gives the same result as `numpy.quantile(values, q)`; raises ValueError when empty.
    """
    if not sorted_values:
        raise ValueError("quantile of no values")
    h = (len(sorted_values) - 1) * q
    lo = math.floor(h)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (h - lo) * (sorted_values[hi] - sorted_values[lo])


class RollupBuilder:
    """Accumulates the rows of one (minute, target, vantage) and builds its Rollup."""

    __slots__ = ("count", "latencies", "ok_count", "outcomes")

    def __init__(self) -> None:
        self.count = 0
        self.ok_count = 0
        self.outcomes: dict[str, int] = {}
        self.latencies: list[float] = []

    def add(self, ok: bool, outcome: str, total_s: float | None) -> None:
        """Fold in one measurement: its success, outcome name and `total` timing."""
        self.count += 1
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
        if ok:
            self.ok_count += 1
            if total_s is not None and math.isfinite(total_s):
                self.latencies.append(total_s)

    def build(self, minute: int, target: str, vantage: str) -> Rollup:
        """The Rollup of everything added so far."""
        lat = sorted(self.latencies)
        return Rollup(
            minute=minute,
            target=target,
            vantage=vantage,
            count=self.count,
            ok_count=self.ok_count,
            latency_p50_s=quantile(lat, 0.5) if lat else None,
            latency_p95_s=quantile(lat, 0.95) if lat else None,
            outcomes=dict(sorted(self.outcomes.items())),
        )


class OpenRollup:
    """The running summary of one (minute, target, vantage), readable at any time.

    It gives the same numbers as RollupBuilder over the same samples, but keeps the
    latencies sorted as they come, so reading it again after a few more samples costs
    about a copy of the latencies rather than folding every sample again.
    """

    __slots__ = ("count", "latencies", "ok_count", "outcomes")

    def __init__(self, samples: Iterable[Sample] = ()) -> None:
        self.count = 0
        self.ok_count = 0
        self.outcomes: dict[str, int] = {}
        self.latencies: list[float] = []
        self.extend(samples)

    def extend(self, samples: Iterable[Sample]) -> None:
        """Fold in samples."""
        outcomes = self.outcomes
        for ok, outcome, total_s in samples:
            self.count += 1
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            if ok:
                self.ok_count += 1
                if total_s is not None and math.isfinite(total_s):
                    insort(self.latencies, total_s)

    def summary(
        self, more: Sequence[Sample] = ()
    ) -> tuple[int, int, float | None, float | None, dict[str, int]]:
        """count, ok_count, latency p50 and p95, and outcomes (by name) with `more` folded
        in; this summary itself is left as it was."""
        if not more:
            lat = self.latencies
            outcomes = self.outcomes
            count, ok_count = self.count, self.ok_count
        else:
            extra = OpenRollup(more)
            count, ok_count = self.count + extra.count, self.ok_count + extra.ok_count
            lat = sorted(self.latencies + extra.latencies)
            outcomes = dict(self.outcomes)
            for name, n in extra.outcomes.items():
                outcomes[name] = outcomes.get(name, 0) + n
        return (
            count,
            ok_count,
            quantile(lat, 0.5) if lat else None,
            quantile(lat, 0.95) if lat else None,
            dict(sorted(outcomes.items())),
        )


def merge_rollups(old: Rollup, new: Rollup) -> Rollup:
    """Add `new` into `old` when the raw rows behind `old` are gone (pruned).

    Counts add exactly; latency quantiles cannot be merged without the samples, so the
    old ones are kept when they exist (an approximation, used only for data that
    arrives after its minute's raw rows were pruned).
    """
    outcomes = dict(old.outcomes)
    for name, n in new.outcomes.items():
        outcomes[name] = outcomes.get(name, 0) + n
    has_old = old.latency_p50_s is not None
    return Rollup(
        minute=old.minute,
        target=old.target,
        vantage=old.vantage,
        count=old.count + new.count,
        ok_count=old.ok_count + new.ok_count,
        latency_p50_s=old.latency_p50_s if has_old else new.latency_p50_s,
        latency_p95_s=old.latency_p95_s if has_old else new.latency_p95_s,
        outcomes=dict(sorted(outcomes.items())),
    )


def bucket_rollups(rollups: Iterable[Rollup], step: int) -> list[Rollup]:
    """Per-minute rollups summed into buckets of `step` seconds, by bucket, target, vantage.

    Buckets are aligned to the epoch (`minute // step * step`, the bucket's `minute`).
    Counts and outcomes add exactly. Latency quantiles cannot be merged without the
    samples: a bucket's p50 (p95) is the mean of its minutes' p50s (p95s) weighted by
    their successful measurements, which is what a chart of the minutes averages to.
    """
    if step < MINUTE_S or step % MINUTE_S:
        raise ValueError(f"step must be a whole number of minutes, in seconds: {step}")
    groups: dict[tuple[int, str, str], list[Rollup]] = {}
    for r in rollups:
        groups.setdefault((r.minute // step * step, r.target, r.vantage), []).append(r)
    out: list[Rollup] = []
    for (start, target, vantage), rows in sorted(groups.items()):
        outcomes: dict[str, int] = {}
        for r in rows:
            for name, n in r.outcomes.items():
                outcomes[name] = outcomes.get(name, 0) + n
        out.append(
            Rollup(
                minute=start,
                target=target,
                vantage=vantage,
                count=sum(r.count for r in rows),
                ok_count=sum(r.ok_count for r in rows),
                latency_p50_s=_weighted_mean([(r.latency_p50_s, r.ok_count) for r in rows]),
                latency_p95_s=_weighted_mean([(r.latency_p95_s, r.ok_count) for r in rows]),
                outcomes=dict(sorted(outcomes.items())),
            )
        )
    return out


def _weighted_mean(pairs: Sequence[tuple[float | None, int]]) -> float | None:
    """The mean of the values that are not None, weighted; None when no weight is left."""
    total = weight = 0.0
    for value, w in pairs:
        if value is not None and w > 0:
            total += value * w
            weight += w
    return total / weight if weight else None

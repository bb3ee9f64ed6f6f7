"""Schedule lag statistics: how late runs started, over a window of recent dispatches."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["LagSummary", "summarize_lags"]


@dataclass(frozen=True, slots=True)
class LagSummary:
    """Schedule lag over the recent dispatches: count and p50/p99/max in seconds."""

    count: int
    p50_s: float
    p99_s: float
    max_s: float


def summarize_lags(lags: Iterable[float]) -> LagSummary:
    """Count and p50/p99/max (nearest rank) of `lags`, in seconds; all zero when empty."""
    ordered = sorted(lags)
    n = len(ordered)
    if not n:
        return LagSummary(0, 0.0, 0.0, 0.0)
    return LagSummary(n, ordered[(n - 1) // 2], ordered[min(n - 1, (n * 99) // 100)], ordered[-1])

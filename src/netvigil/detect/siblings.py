"""Siblings: the targets of an incident's services and networks that are not in it.

A network cut silences everything on it at once; a flood fills its queues, and what
still gets through is slow. In the first seconds of an incident its own targets may
have had every probe lost, which reads as a cut; their siblings (the other probes of
the same services, the other services of the same networks) that still answer tell
the two apart: answering many times slower than before the onset, the network is
congested, not cut.

Only the last probes are read (`MAX_WALK` per path at most): the question matters in
an incident's first minutes, before its own targets' answers speak for themselves,
and later it costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import islice
from statistics import median

from netvigil.detect.history import PathHistory
from netvigil.detect.sample import LATENCY, OK, TS

__all__ = ["MAX_WALK", "siblings_latency_ratio"]

MAX_WALK = 64
"""At most this many of a path's latest samples are read."""

_MIN_REFERENCE = 3
"""Answers before the onset a path needs for a usual latency."""


def siblings_latency_ratio(
    paths: Iterable[tuple[str, str]],
    history: Callable[[str, str], PathHistory | None],
    *,
    onset: float,
    recent_from: float,
) -> float:
    """How many times their usual latency the sibling `paths` (target, vantage) took to
    answer since `recent_from` (no earlier than `onset`), the median over the paths that
    answered then and at least `_MIN_REFERENCE` times before `onset`; -1 when none did."""
    ratios: list[float] = []
    since = max(onset, recent_from)
    for target, vantage in paths:
        hist = history(target, vantage)
        if hist is None:
            continue
        ratio = _path_ratio(hist, onset=onset, since=since)
        if ratio is not None:
            ratios.append(ratio)
    return median(ratios) if ratios else -1.0


def _path_ratio(hist: PathHistory, *, onset: float, since: float) -> float | None:
    recent: list[float] = []
    before: list[float] = []
    for s in islice(reversed(hist.samples), MAX_WALK):
        ts = s[TS]
        latency = s[LATENCY]
        if not s[OK] or latency is None:
            continue
        if ts >= since:
            recent.append(latency)
        elif ts < onset:
            before.append(latency)
            if len(before) >= _MIN_REFERENCE * 2:
                break
    if not recent or len(before) < _MIN_REFERENCE:
        return None
    return (median(recent) + 0.005) / (median(before) + 0.005)

"""Samples: one measurement as a path's history keeps it.

A history stores each sample as a plain tuple (`SampleRow`, read by position: `TS`,
`OK`, ...), not as a `Sample`. The garbage collector stops tracking a plain tuple of
numbers and strings the first time it looks at it, so the hundreds of thousands of
samples a long-running detector holds cost its collections nothing; it never stops
tracking instances of a tuple subclass such as a NamedTuple, so every full collection
would walk each of them. `Sample` gives the same fields names; readers that keep a
sample only briefly get one (`PathHistory.between`, `since`).
"""

from __future__ import annotations

from typing import Final, NamedTuple

__all__ = [
    "CONNECTED",
    "LATENCY",
    "OK",
    "OUTCOME",
    "OVERLOAD",
    "SCORE",
    "TS",
    "TTFB",
    "Sample",
    "SampleRow",
]


class Sample(NamedTuple):
    """One measurement as history keeps it."""

    ts: float
    ok: bool
    outcome: str
    connected: bool
    latency: float | None
    ttfb: float | None
    score: float
    overload: bool = False
    """A failed HTTP probe answered with an overload status (429 or 503)."""


SampleRow = tuple[float, bool, str, bool, float | None, float | None, float, bool]
"""A sample as a plain tuple, its fields in `Sample`'s order."""

# Positions of `Sample`'s fields in a `SampleRow`.
TS: Final = 0
OK: Final = 1
OUTCOME: Final = 2
CONNECTED: Final = 3
LATENCY: Final = 4
TTFB: Final = 5
SCORE: Final = 6
OVERLOAD: Final = 7

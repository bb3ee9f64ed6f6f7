"""LevelShiftDetector: streaming change points of a latency series (a new RTT level that holds).

Per series, one value at a time, no I/O, deterministic, O(window) per update:

- the current segment's level is the median of its last ``window`` values, and the series' noise
  scale an EW mean of absolute successive differences (Huber-clipped, carried across segments, so
  a two-sample segment still knows the noise);
- a value further than ``k`` scales (and ``min_rel`` of the level) from the level opens a
  *candidate*; following values on the same side and within ``k`` scales of the candidate's mean
  extend it, any other value discards it (a one-sample spike is not a change);
- once the candidate holds ``confirm`` values it is a change point: the update that confirms it
  scores ``z / (z + k)`` (``z`` = jump in scales, so a confirmed change scores above 0.5 and
  bigger jumps score higher), and the candidate becomes the new segment. Every other update
  scores 0.

The change is dated ``confirm - 1`` updates before the alarm; ``last_change`` holds its index.
NaN, infinities and, with ``negative_is_loss``, negative loss codes are skipped (score 0).
"""

from __future__ import annotations

import math
from collections import deque

__all__ = ["LevelShiftDetector"]


class LevelShiftDetector:
    """Confirmed-shift change-point detector; see the module docstring.

    Keyword arguments (defaults chosen on the RIPE Atlas traces, see docs/accuracy.md)::

        k=4.0               jump, in noise scales, that opens a candidate
        confirm=2           consecutive values that confirm a candidate
        window=15           values of the segment whose median is its level
        scale_alpha=0.02    weight of a new successive difference in the noise scale
        min_rel=0.005       smallest jump relative to the level (1 % of 100 ms = 1 ms)
        min_scale=1e-3      absolute floor of the noise scale
        warmup=10           values before the first possible change
        negative_is_loss=False  skip negative values (RIPE Atlas -3/-4 loss codes)
    """

    def __init__(
        self,
        *,
        k: float = 4.0,
        confirm: int = 2,
        window: int = 15,
        scale_alpha: float = 0.02,
        min_rel: float = 0.005,
        min_scale: float = 1e-3,
        warmup: int = 10,
        negative_is_loss: bool = False,
    ) -> None:
        self.k = k
        self.confirm = confirm
        self.window = window
        self.scale_alpha = scale_alpha
        self.min_rel = min_rel
        self.min_scale = min_scale
        self.warmup = warmup
        self.negative_is_loss = negative_is_loss
        self._segment: deque[float] = deque(maxlen=window)
        self._candidate: list[float] = []
        self._scale = 0.0
        self._last: float | None = None
        self.count = 0
        self.changes = 0
        self.last_change: int | None = None

    def level(self) -> float:
        """The current segment's level (median of its recent values); NaN before any value."""
        seg = sorted(self._segment)
        n = len(seg)
        if n == 0:
            return math.nan
        mid = n // 2
        return seg[mid] if n % 2 else 0.5 * (seg[mid - 1] + seg[mid])

    def scale(self) -> float:
        """The noise scale (about one standard deviation) the jumps are measured in."""
        return max(self._scale * 0.8862, self.min_scale)  # mean |diff| of N(0, s^2) is 1.128 s

    def _learn_scale(self, x: float) -> None:
        if self._last is not None:
            d = abs(x - self._last)
            if self.count > self.warmup:
                d = min(d, 4.0 * self._scale + self.min_scale)
            a = max(self.scale_alpha, 1.0 / (self.count + 1))
            self._scale += a * (d - self._scale)
        self._last = x

    def update(self, ts: float, value: float) -> float:
        """Learn ``value`` observed at ``ts``; return a change score in [0, 1] (0: no change)."""
        x = float(value)
        if not math.isfinite(x) or (self.negative_is_loss and x < 0.0):
            return 0.0
        index = self.count
        self._learn_scale(x)
        self.count += 1
        if self.count <= self.warmup or not self._segment:
            self._segment.append(x)
            return 0.0
        level = self.level()
        s = self.scale()
        gate = max(self.k * s, self.min_rel * abs(level))
        cand = self._candidate
        dev = x - level
        if abs(dev) <= gate:
            cand.clear()
            self._segment.append(x)
            return 0.0
        if cand:
            mean = sum(cand) / len(cand)
            same_side = (mean - level) * dev > 0.0
            if not same_side or abs(x - mean) > max(self.k * s, 0.5 * abs(mean - level)):
                cand.clear()
        cand.append(x)
        if len(cand) < self.confirm:
            return 0.0
        mean = sum(cand) / len(cand)
        z = abs(mean - level) / s
        self._segment.clear()
        self._segment.extend(cand)
        cand.clear()
        self.changes += 1
        self.last_change = index - self.confirm + 1
        return z / (z + self.k)

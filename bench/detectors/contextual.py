"""ContextDetector: anomaly = novelty of the quantised contexts a series has never shown before.

Per series, one value at a time, no I/O, deterministic:

- each value is quantised onto ``levels`` bins spanning the range seen so far (the range widens,
  with a margin, when a value falls outside it; a value beyond the known range by more than
  ``spatial_tol`` of its width is itself a "spatial" anomaly);
- the last ``max_order`` bins form nested left contexts (orders 1..max_order); for each order the
  detector remembers which bins have followed that context, as a variable-order Markov model with
  set-valued memory;
- the raw score is the fraction of orders whose context was never followed by the current bin
  (a new transition), with a new left context counting as novel;
- a rest period (``rest`` updates) after each reported alarm keeps one episode to one alarm.

The score is novelty, not distance: a series that keeps returning to known shapes scores 0
however noisy it is, and a slow drift only alarms when it reaches bins never visited in that
context.
"""

from __future__ import annotations

import math

__all__ = ["ContextDetector"]


class ContextDetector:
    """Quantised-context novelty detector; see the module docstring.

    Keyword arguments (defaults chosen on the NAB corpus, see docs/accuracy.md)::

        levels=8          quantisation bins over the known range
        max_order=6       longest left context (in values)
        margin=0.1        widening of the range (fraction of its width) when a value leaves it
        spatial_tol=0.05  a value this far (fraction of width) outside the range scores 1
        warmup=50         values learnt before any non-zero score
        rest=0            updates after an alarm (score >= alarm) during which scores are 0
        alarm=0.5         score that starts a rest period
    """

    def __init__(
        self,
        *,
        levels: int = 8,
        max_order: int = 6,
        margin: float = 0.1,
        spatial_tol: float = 0.05,
        warmup: int = 50,
        rest: int = 0,
        alarm: float = 0.5,
    ) -> None:
        self.levels = levels
        self.max_order = max_order
        self.margin = margin
        self.spatial_tol = spatial_tol
        self.warmup = warmup
        self.rest = rest
        self.alarm = alarm
        self._lo = 0.0
        self._hi = 0.0
        self._hist: list[int] = []
        self._seen: dict[tuple[int, ...], set[int]] = {}
        self._quiet = 0
        self.count = 0
        self.last_raw = 0.0

    def _quantise(self, x: float) -> tuple[int, bool]:
        """The value's bin, and whether it lies well outside the range known so far."""
        if self.count == 0:
            self._lo = self._hi = x
        width = self._hi - self._lo
        spatial = False
        if x < self._lo or x > self._hi:
            out = self._lo - x if x < self._lo else x - self._hi
            spatial = width > 0.0 and out > self.spatial_tol * width
            pad = self.margin * max(width, abs(out))
            if x < self._lo:
                self._lo = x - pad
            else:
                self._hi = x + pad
            width = self._hi - self._lo
        if width <= 0.0:
            return 0, spatial
        b = int((x - self._lo) / width * self.levels)
        return min(max(b, 0), self.levels - 1), spatial

    def update(self, ts: float, value: float) -> float:
        """Learn ``value`` observed at ``ts``; return its anomaly score in [0, 1]."""
        x = float(value)
        if not math.isfinite(x):
            return 0.0
        b, spatial = self._quantise(x)
        hist = self._hist
        seen = self._seen
        novel = 0
        orders = 0
        for k in range(1, min(len(hist), self.max_order) + 1):
            ctx = tuple(hist[-k:])
            nxt = seen.get(ctx)
            orders += 1
            if nxt is None:
                novel += 1
                seen[ctx] = {b}
            elif b not in nxt:
                novel += 1
                nxt.add(b)
        hist.append(b)
        if len(hist) > self.max_order:
            del hist[0]
        raw = novel / orders if orders else 0.0
        if spatial:
            raw = 1.0
        self.last_raw = raw
        self.count += 1
        if self.count <= self.warmup:
            return 0.0
        if self._quiet > 0:
            self._quiet -= 1
            return 0.0
        if raw >= self.alarm and self.rest > 0:
            self._quiet = self.rest
        return raw

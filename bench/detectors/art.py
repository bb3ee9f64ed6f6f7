"""ARTDetector: fuzzy-ART category learning over short windows of a series, scored by novelty.

A streaming detector in the spirit of adaptive resonance theory (Carpenter, Grossberg and Rosen's
fuzzy ART, 1991), built for series whose normal behaviour is a repertoire of shapes:

- **Probation.** The first ``probation`` values are only recorded. At the end of it the value range
  is fixed from them (with a ``margin`` either side), a downsampling stride is chosen so that the
  probation spans about ``probation_bins`` bins, and the recorded values are replayed to learn
  the normal shapes with fast learning. Probation scores are 0.
- **Features.** Values are averaged over ``stride`` consecutive rows into bins; each complete bin
  completes a window of the last ``window`` bins, normalised to the learnt range, clipped to
  [0, 1] and complement-coded (``[x, 1 - x]``), so every window has the same norm.
- **Categories.** Each category is a hyper-box (fuzzy-ART weight ``[u, 1 - v]``). A window is
  presented to the categories in order of the choice function ``|I ^ w| / (alpha + |w|)``; the
  first whose match ``|I ^ w| / |I|`` reaches the ``vigilance`` learns it (the box grows towards
  the window at rate ``learn_rate``); if none resonates, the window founds a new category.
- **Score.** The novelty of a window is the L1 distance from it to the nearest box, per element
  (0 inside a box already learnt), plus how far the newest bin lies outside the probation range.
  Only bin-completing rows can score; an alarm memory decaying by ``refractory`` per bin passes a
  score only when it beats recent alarms, so one episode raises one alarm.

Streaming and causal: each score uses values up to the current one only; one instance per series,
the same parameters for all. NaN and infinities are skipped (score 0, state untouched).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from .hybrid import HybridDetector

__all__ = ["ARTDetector", "ARTHybridDetector", "FuzzyART"]

FloatArray = npt.NDArray[np.float64]


class FuzzyART:
    """Fuzzy-ART category memory over complement-coded inputs of a fixed dimension.

    ``learn(i, rate)`` presents one input and returns the category that learnt it (a new one when
    none resonates); ``novelty(i)`` is the per-element L1 distance from the input to the nearest
    category box, 0 when some box contains it.
    """

    def __init__(
        self,
        dim: int,
        *,
        vigilance: float = 0.9,
        alpha: float = 0.001,
        max_categories: int = 1000,
    ) -> None:
        self.dim = dim
        self.vigilance = vigilance
        self.alpha = alpha
        self.max_categories = max_categories
        self._w: FloatArray = np.empty((16, 2 * dim))
        self._norm: FloatArray = np.empty(16)
        self.size = 0

    @property
    def weights(self) -> FloatArray:
        """The committed categories' weights, one row ``[u, 1 - v]`` per box."""
        return self._w[: self.size]

    def _commit(self, i: FloatArray) -> int:
        if self.size == len(self._w):
            self._w = np.concatenate([self._w, np.empty_like(self._w)])
            self._norm = np.concatenate([self._norm, np.empty_like(self._norm)])
        self._w[self.size] = i
        self._norm[self.size] = float(i.sum())
        self.size += 1
        return self.size - 1

    def novelty(self, i: FloatArray) -> float:
        """Per-element L1 distance from ``i`` to the nearest category box (0 inside one)."""
        if self.size == 0:
            return 1.0
        w = self._w[: self.size]
        # |w| - |i ^ w| is how much box j must grow to contain i.
        grow = self._norm[: self.size] - np.minimum(i, w).sum(axis=1)
        return float(grow.min()) / self.dim

    def learn(self, i: FloatArray, rate: float = 1.0) -> int:
        """Present ``i``; the first resonating category (by choice) learns it, else a new one."""
        if self.size == 0:
            return self._commit(i)
        w = self._w[: self.size]
        inter = np.minimum(i, w).sum(axis=1)
        match = inter / self.dim
        ok = np.flatnonzero(match >= self.vigilance)
        if ok.size == 0:
            if self.size >= self.max_categories:
                return -1
            return self._commit(i)
        choice = inter[ok] / (self.alpha + self._norm[ok])
        j = int(ok[int(np.argmax(choice))])
        row = self._w[j]
        row += rate * (np.minimum(i, row) - row)
        self._norm[j] = float(row.sum())
        return j


class ARTDetector:
    """Streaming window-shape novelty detector learnt over a probationary period; see module doc.

    Keyword arguments (defaults chosen on the NAB corpus, see docs/accuracy.md)::

        probation=750        values recorded before any score (range and shapes learnt)
        probation_bins=75    bins the probation is cut into (sets the downsampling stride)
        window=2             bins per feature window
        vigilance=0.9        fuzzy-ART match needed to join a category
        learn_rate=0.1       box growth rate after probation (1.0 during it)
        margin=0.1           fraction of the range added either side of the probation range
        range_weight=1.0     weight of the newest bin's distance outside the probation range
        refractory=0.997     per-bin decay of the alarm memory
        max_categories=1000  categories kept; past it, unmatched windows are scored, not learnt
    """

    def __init__(
        self,
        *,
        probation: int = 750,
        probation_bins: int = 75,
        window: int = 2,
        vigilance: float = 0.9,
        learn_rate: float = 0.1,
        margin: float = 0.1,
        range_weight: float = 1.0,
        refractory: float = 0.997,
        max_categories: int = 1000,
    ) -> None:
        if probation < 1 or window < 1 or probation_bins < 1:
            raise ValueError("probation, probation_bins and window must be positive")
        self.probation = probation
        self.window = window
        self.stride = max(1, round(probation / probation_bins))
        self.learn_rate = learn_rate
        self.margin = margin
        self.range_weight = range_weight
        self.refractory = refractory
        self.art = FuzzyART(window, vigilance=vigilance, max_categories=max_categories)
        self.count = 0
        self.last_raw = 0.0
        self._history: list[float] = []
        self._lo = 0.0
        self._span = 1.0
        self._lo_seen = 0.0
        self._hi = 0.0
        self._range = 1.0
        self._last_mean = 0.0
        self._bin_sum = 0.0
        self._bin_n = 0
        self._bins: list[float] = []
        self._alarm = 0.0

    @property
    def trained(self) -> bool:
        """Whether the probationary period is over."""
        return self.count >= self.probation

    def update(self, ts: float, value: float) -> float:
        """Learn ``value`` observed at ``ts``; return its anomaly score in [0, 1]."""
        x = float(value)
        if not math.isfinite(x):
            return 0.0
        self.count += 1
        if self.count < self.probation:
            self._history.append(x)
            return 0.0
        if self.count == self.probation:
            self._history.append(x)
            self._train(self._history)
            self._history = []
            return 0.0
        return self._step(x)

    def _train(self, values: list[float]) -> None:
        lo, hi = min(values), max(values)
        span = hi - lo
        if span <= 0.0:
            span = max(abs(hi) * 0.01, 1e-9)
        self._lo_seen, self._hi, self._range = lo, hi, span
        self._lo = lo - self.margin * span
        self._span = span * (1.0 + 2.0 * self.margin)
        for v in values:
            i = self._push(v)
            if i is not None:
                self.art.learn(i, 1.0)

    def _push(self, x: float) -> FloatArray | None:
        """Add one value to the current bin; the feature window when a bin completes."""
        self._bin_sum += x
        self._bin_n += 1
        if self._bin_n < self.stride:
            return None
        self._last_mean = mean = self._bin_sum / self._bin_n
        b = (mean - self._lo) / self._span
        self._bin_sum = 0.0
        self._bin_n = 0
        self._bins.append(b)
        if len(self._bins) > self.window:
            del self._bins[0]
        elif len(self._bins) < self.window:
            return None
        f = np.clip(np.array(self._bins), 0.0, 1.0)
        return np.concatenate([f, 1.0 - f])

    def _step(self, x: float) -> float:
        i = self._push(x)
        if i is None:
            return 0.0
        # Distance of the newest bin outside the probation range, in units of that range.
        mean = self._last_mean
        outside = max(0.0, mean - self._hi, self._lo_seen - mean) / self._range
        raw = min(1.0, self.art.novelty(i) + self.range_weight * outside)
        self.art.learn(i, self.learn_rate)
        self.last_raw = raw
        memory = self._alarm
        self._alarm = max(memory * self.refractory, raw)
        return raw if raw > memory else 0.0


class ARTHybridDetector:
    """The hybrid detector's score or the weighted ART score, whichever is larger, then a hold.

    :class:`~bench.detectors.hybrid.HybridDetector` (distance and order novelty, learnt online)
    and :class:`ARTDetector` (window shapes and the range learnt over the probation) run side by
    side on every value. The output is ``max(hybrid, art_weight * art)``, clipped to 1; once it
    reaches ``hold_level`` the alarm is raised and the next ``hold_rows * probation`` updates score
    0 (both models keep learning meanwhile), so one episode is reported once.

    Keyword arguments (defaults chosen on the NAB corpus, see docs/accuracy.md)::

        probation=750            values before the ART part scores (see ARTDetector)
        art_weight=5.0           scale of the ART score against the hybrid's
        hold_level=0.5           output at which an alarm starts the hold
        hold_rows=0.4            hold length as a fraction of ``probation``
        hybrid_refractory=0.997  alarm-memory decay of the hybrid part
        **art                    other ARTDetector keyword arguments
    """

    def __init__(
        self,
        *,
        probation: int = 750,
        art_weight: float = 5.0,
        hold_level: float = 0.5,
        hold_rows: float = 0.4,
        hybrid_refractory: float = 0.997,
        **art: Any,
    ) -> None:
        self.hybrid = HybridDetector(refractory=hybrid_refractory)
        self.art = ARTDetector(probation=probation, **art)
        self.art_weight = art_weight
        self.hold_level = hold_level
        self.hold = int(hold_rows * probation)
        self._quiet = 0

    def update(self, ts: float, value: float) -> float:
        """Learn ``value`` observed at ``ts``; return its anomaly score in [0, 1]."""
        if not math.isfinite(float(value)):
            return 0.0
        h = self.hybrid.update(ts, value)
        a = self.art.update(ts, value)
        out = min(1.0, max(h, self.art_weight * a))
        if self._quiet > 0:
            self._quiet -= 1
            return 0.0
        if out >= self.hold_level:
            self._quiet = self.hold
        return out

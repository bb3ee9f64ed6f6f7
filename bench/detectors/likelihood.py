"""AnomalyLikelihood: how improbable a detector's recent scores are, given its own score history.

A raw anomaly score says how surprising one value is to a model; a series whose model is often
surprised produces high raw scores all the time. The likelihood post-processor (as Numenta
describe it for HTM) recalibrates: it keeps the short moving average of the raw scores, models the
distribution of that average over a long history as a Gaussian, and reports the tail probability
of the current average. The result is mapped to [0, 1] on a log scale, so that 0.5 means "one in
about 10^5" and scores near 1 are extreme.

Streaming and O(1) per update: a ring buffer of the last ``history`` averages with running sums.
"""

from __future__ import annotations

import math
from collections import deque

__all__ = ["AnomalyLikelihood", "log_likelihood"]

_LOG_EPS = math.log(1e-10)


def log_likelihood(likelihood: float) -> float:
    """Map a likelihood in [0, 1] to [0, 1] on a log scale (1 - 1e-5 -> 0.5, 1 - 1e-10 -> 1)."""
    return min(1.0, math.log(1.0000000001 - likelihood) / _LOG_EPS)


class AnomalyLikelihood:
    """Gaussian tail probability of the recent mean raw score against its long history.

    Keyword arguments::

        short=10         raw scores averaged into the "recent" score
        history=8640     averages kept for the long-run distribution
        learning=300     updates before any non-zero output
        min_sigma=0.01   floor of the long-run standard deviation (flat histories)
    """

    def __init__(
        self,
        *,
        short: int = 10,
        history: int = 8640,
        learning: int = 300,
        min_sigma: float = 0.01,
    ) -> None:
        self.short = short
        self.history = history
        self.learning = learning
        self.min_sigma = min_sigma
        self._recent: deque[float] = deque()
        self._recent_sum = 0.0
        self._avgs: deque[float] = deque()
        self._sum = 0.0
        self._sq = 0.0
        self.count = 0
        self.last_likelihood = 0.0

    def update(self, raw: float) -> float:
        """Add one raw score; return the likelihood mapped to [0, 1] (see ``log_likelihood``)."""
        recent = self._recent
        recent.append(raw)
        self._recent_sum += raw
        if len(recent) > self.short:
            self._recent_sum -= recent.popleft()
        avg = self._recent_sum / len(recent)
        self.count += 1
        out = 0.0
        n = len(self._avgs)
        if self.count > self.learning and n > 1:
            mean = self._sum / n
            var = max(self._sq / n - mean * mean, 0.0)
            sigma = max(math.sqrt(var), self.min_sigma)
            z = (avg - mean) / sigma
            tail = 0.5 * math.erfc(z / math.sqrt(2.0))
            self.last_likelihood = 1.0 - tail
            out = log_likelihood(self.last_likelihood)
        avgs = self._avgs
        avgs.append(avg)
        self._sum += avg
        self._sq += avg * avg
        if len(avgs) > self.history:
            old = avgs.popleft()
            self._sum -= old
            self._sq -= old * old
        return out

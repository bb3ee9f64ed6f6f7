"""SignalDropDetector: abrupt joint drop of several reachability signals (shutdown signature).

A government-ordered shutdown or a route withdrawal shows as every reachability signal of a
network or country (visible BGP prefixes, responsive /24s, telescope packets, traffic) falling at
once, far below its recent level. Each signal keeps a robust baseline (Huber-clipped EWMA plus
absolute-deviation scale, see :class:`~netvigil.detect.baseline.RobustLevel`); a signal "drops" when
it is below its baseline by more than ``min_sigmas`` scales and ``min_drop`` of the baseline, and is
fully down at twice ``min_drop``. The score is the ``quorum``-th largest such drop among the signals
present, so one noisy signal cannot raise an alarm alone. Baselines are frozen while the score is
at or above ``alarm``, so an outage never becomes the new normal, and daily-repeating shutdowns
keep being seen.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from netvigil.detect.baseline import RobustLevel

__all__ = ["SignalDropDetector"]


class SignalDropDetector:
    """Streaming detector of a joint drop across named signals; ``update`` scores it in [0, 1].

    Keyword arguments::

        alpha=0.02       baseline weight of a new value (5-minute bins: about 4 hours of memory)
        min_drop=0.1     relative drop below which a signal is not down; twice it is fully down
        min_sigmas=4.0   drop, in baseline scales, below which a signal is not down
        quorum=2         how many signals must be down together
        alarm=0.5        score at and above which baselines stop learning
        warmup=12        values per signal learnt before it may vote
    """

    def __init__(
        self,
        *,
        alpha: float = 0.02,
        min_drop: float = 0.1,
        min_sigmas: float = 4.0,
        quorum: int = 2,
        alarm: float = 0.5,
        warmup: int = 12,
    ) -> None:
        self.alpha = alpha
        self.min_drop = min_drop
        self.min_sigmas = min_sigmas
        self.quorum = quorum
        self.alarm = alarm
        self.warmup = warmup
        self._levels: dict[str, RobustLevel] = {}
        self.last_drops: dict[str, float] = {}

    def update(self, ts: float, values: Mapping[str, float | None]) -> float:
        """Learn one bin of signal values (missing or NaN ones are skipped); return the score."""
        drops: dict[str, float] = {}
        present: dict[str, float] = {}
        for name, raw in values.items():
            if raw is None or not math.isfinite(raw):
                continue
            x = float(raw)
            present[name] = x
            lvl = self._levels.get(name)
            if lvl is None or lvl.count < self.warmup or lvl.level <= 0.0:
                continue
            gap = lvl.level - x
            rel = gap / lvl.level
            if rel >= self.min_drop and gap >= self.min_sigmas * lvl.scale * 1.2533:
                drops[name] = min(1.0, rel / (2.0 * self.min_drop))
            else:
                drops[name] = 0.0
        self.last_drops = drops
        ranked = sorted(drops.values(), reverse=True)
        score = ranked[self.quorum - 1] if len(ranked) >= self.quorum else 0.0
        if score < self.alarm:  # an outage must not become the baseline
            for name, x in present.items():
                lvl = self._levels.get(name)
                if lvl is None:
                    lvl = self._levels[name] = RobustLevel(self.alpha)
                lvl.learn(x, 1e-9 * abs(x) + 1e-12)
        return score

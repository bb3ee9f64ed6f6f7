"""HybridDetector: the latency baseline's surprise blended with quantised-context novelty.

The two models fail differently. :class:`~netvigil.detect.baseline.BaselineDetector` measures
distance (how many robust scales a value lies from what the fast level, the daily profile and the
level-shift chart expect), so it misses a value that is ordinary in size but wrong in order.
:class:`~bench.detectors.contextual.ContextDetector` measures novelty (has this series ever moved
this way from this recent shape?), so it misses a known value at the wrong moment and cannot rank
its alarms finely. The hybrid feeds the baseline and three context detectors (6, 8 and 12 bins:
coarse contexts generalise, fine ones notice small moves), blends their undamped scores
(``context_weight * mean novelty + (1 - context_weight) * z / (z + z_half)``), and damps repeats the
way the baseline does: a score is passed on only when it beats the decaying memory of recent
alarms, otherwise it is scaled by ``repeat_factor``.

About three times the cost of the baseline per update; the live latency path keeps the plain
baseline.
"""

from __future__ import annotations

import math

from netvigil.detect.baseline import BaselineDetector

from .contextual import ContextDetector

__all__ = ["HybridDetector"]


class HybridDetector:
    """Blend of baseline surprise and context novelty with repeat damping; see module docstring.

    Keyword arguments (defaults chosen on the NAB corpus, see docs/accuracy.md)::

        context_weight=0.35  weight of the context novelty in the blend
        z_half=6.0           baseline surprise mapped to z / (z + z_half)
        refractory=0.997     per-update decay of the alarm memory
        repeat_factor=0.0    scale of a score that does not beat the memory
        warmup=50            updates before any non-zero score
        levels=(6, 8, 12)    one ContextDetector per quantisation; their novelty is averaged
        max_order=6          longest context of each ContextDetector
        negative_is_loss=False  skip negative values (loss codes)
    """

    def __init__(
        self,
        *,
        context_weight: float = 0.35,
        z_half: float = 6.0,
        refractory: float = 0.997,
        repeat_factor: float = 0.0,
        warmup: int = 50,
        levels: tuple[int, ...] = (6, 8, 12),
        max_order: int = 6,
        negative_is_loss: bool = False,
    ) -> None:
        self.baseline = BaselineDetector(negative_is_loss=negative_is_loss)
        self.contexts = [ContextDetector(levels=n, max_order=max_order, warmup=0) for n in levels]
        self.context_weight = context_weight
        self.z_half = z_half
        self.refractory = refractory
        self.repeat_factor = repeat_factor
        self.warmup = warmup
        self.negative_is_loss = negative_is_loss
        self._alarm = 0.0
        self.count = 0
        self.last_raw = 0.0

    def update(self, ts: float, value: float) -> float:
        """Learn ``value`` observed at ``ts``; return its anomaly score in [0, 1]."""
        x = float(value)
        if not math.isfinite(x) or (self.negative_is_loss and x < 0.0):
            return 0.0
        self.baseline.update(ts, x)
        novelty = 0.0
        for ctx in self.contexts:
            ctx.update(ts, x)
            novelty += ctx.last_raw
        novelty /= len(self.contexts)
        z = self.baseline.last_z
        surprise = z / (z + self.z_half) if z > 0.0 else 0.0
        w = self.context_weight
        raw = w * novelty + (1.0 - w) * surprise
        self.last_raw = raw
        self.count += 1
        if self.count <= self.warmup:
            return 0.0
        memory = self._alarm
        self._alarm = max(memory * self.refractory, raw)
        return raw if raw > memory else raw * self.repeat_factor

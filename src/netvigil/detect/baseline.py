"""BaselineDetector: a streaming, robust latency baseline that scores how unusual each value is.

Per (target, vantage) series, one value at a time, O(1) per update, no I/O, deterministic:

- a fast robust level (Huber-clipped EWMA with an EW absolute-deviation scale) predicts the next
  value from the last few;
- a daily profile (one robust level per hour of day, learnt across days) predicts it from the same
  hour on earlier days, once each hour has been seen on ``season_days`` different days;
- an EWMA chart of the residual against a slow baseline catches level shifts (sustained degradation
  that each single value would not reveal);
- a variance chart catches a change of jitter (noise suddenly much larger or gone flat; off by
  default, it did not pay on NAB).

A value is anomalous only if no model explains it: the point surprise is the smaller of the fast
and the daily residuals, so a daily peak seen before is normal and the same peak at an unusual hour
is not. The surprises are robust z-scores, each divided by a high quantile of its own history (so a
series that is always spiky does not alarm on every spike); the largest is mapped to a score in
[0, 1] (``z / (z + z_half)``), then damped while it merely repeats a recent alarm, so one episode
raises one alarm. NaN, infinities and loss codes (negative values when ``negative_is_loss``) are
skipped: they leave the state untouched and score 0 (loss is another detector's business).
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable

__all__ = [
    "DEFAULT_THRESHOLD",
    "AnomalyDetector",
    "BaselineDetector",
    "RobustLevel",
    "TailQuantile",
]

DEFAULT_THRESHOLD = 0.2
"""Score at and above which a value is called anomalous when nothing else is configured."""

_DAY_S = 86_400.0


@runtime_checkable
class AnomalyDetector(Protocol):
    """A streaming detector of one series: feed each value in time order, get a score."""

    def update(self, ts: float, value: float) -> float:
        """Learn one value at ``ts`` (epoch seconds); return its anomaly score in [0, 1]."""
        ...


class RobustLevel:
    """Huber-clipped EWMA of a series with an EW mean-absolute-deviation scale.

    ``alpha`` is the weight of a new value (``1/n`` for the first values, a plain mean); after
    ``settle`` values, residuals beyond ``clip`` scales are clipped before they move the level, so
    one outlier moves it by at most ``alpha * clip * scale``.
    """

    __slots__ = ("alpha", "clip", "count", "level", "scale", "settle")

    def __init__(self, alpha: float, clip: float = 3.0, settle: int = 8) -> None:
        self.alpha = alpha
        self.clip = clip
        self.settle = settle
        self.level = 0.0
        self.scale = 0.0
        self.count = 0

    def residual(self, x: float) -> float:
        """The value's signed distance from the level (not scaled)."""
        return x - self.level

    def learn(self, x: float, floor: float) -> None:
        """Move level and scale towards ``x``; ``floor`` bounds the scale from below."""
        if self.count == 0:
            self.level = x
            self.scale = floor
            self.count = 1
            return
        a = max(self.alpha, 1.0 / (self.count + 1))
        r = x - self.level
        if self.count < self.settle:
            rc = r  # too few values to know what an outlier is
        else:
            bound = self.clip * max(self.scale, floor)
            rc = bound if r > bound else (-bound if r < -bound else r)
        self.level += a * rc
        self.scale += a * (abs(rc) - self.scale)
        self.count += 1


class TailQuantile:
    """Streaming estimate of a high quantile of a positive score (stochastic approximation in logs).

    Used to express a surprise relative to what this series usually produces: a series whose
    values are always spiky learns a large quantile, so its spikes stop being news.
    """

    __slots__ = ("down", "log_q", "minimum", "up")

    def __init__(self, p: float, eta: float, start: float, minimum: float) -> None:
        self.up = eta * p
        self.down = eta * (1.0 - p)
        self.log_q = math.log(start)
        self.minimum = minimum

    @property
    def value(self) -> float:
        """The current quantile estimate (never below ``minimum``)."""
        return max(math.exp(self.log_q), self.minimum)

    def learn(self, z: float) -> None:
        """Move the estimate one step towards the quantile given one more observation."""
        if z > math.exp(self.log_q):
            self.log_q += self.up
        else:
            self.log_q -= self.down


class BaselineDetector:
    """Robust level + daily profile + level-shift and jitter charts; see the module docstring.

    Keyword arguments (all optional; defaults were tuned on the NAB corpus, see docs/accuracy.md)::

        fast_alpha=0.1      weight of a new value in the fast level
        slow_alpha=0.005    weight of a new value in the slow baseline (level-shift reference)
        shift_alpha=0.1     EWMA chart weight for level shifts
        season_alpha=0.3    weight of a new value in its hour's profile
        season_days=3       days an hour must have been seen before the profile is trusted
        var_alpha=0.05      weight in the short jitter estimate (the long one uses slow_alpha)
        z_half=6.0          normalised surprise at which the score is 0.5
        refractory=0.997    per-update decay of the alarm memory that damps repeats
        warmup=20           values learnt before any non-zero score
        rel_floor=1e-3      scale floor relative to the slow baseline's magnitude
        spread_floor=0.1    scale floor relative to the long-run mean absolute deviation
        shift_weight=1.0    weight of the level-shift chart (0 disables it)
        var_weight=0.0      weight of the jitter chart (0 disables it)
        tail_p=0.999        quantile of each surprise the series itself usually reaches ...
        tail_eta=0.1        ... its learning step (in log units) ...
        tail_min=4.0        ... and its floor: surprises are divided by this quantile
        var_min=1.0         floor of the jitter chart's quantile
        negative_is_loss=False  treat negative values as loss codes (RIPE Atlas -3/-4)
    """

    def __init__(
        self,
        *,
        fast_alpha: float = 0.1,
        slow_alpha: float = 0.005,
        shift_alpha: float = 0.1,
        season_alpha: float = 0.3,
        season_days: int = 3,
        var_alpha: float = 0.05,
        z_half: float = 6.0,
        refractory: float = 0.997,
        warmup: int = 20,
        rel_floor: float = 1e-3,
        shift_weight: float = 1.0,
        var_weight: float = 0.0,
        spread_floor: float = 0.1,
        tail_p: float = 0.999,
        tail_eta: float = 0.1,
        tail_min: float = 4.0,
        var_min: float = 1.0,
        negative_is_loss: bool = False,
    ) -> None:
        self.fast = RobustLevel(fast_alpha)
        self.slow = RobustLevel(slow_alpha)
        self.shift_alpha = shift_alpha
        self.shift_norm = math.sqrt(shift_alpha / (2.0 - shift_alpha))
        self.season_alpha = season_alpha
        self.season_days = season_days
        self.var_alpha = var_alpha
        self.z_half = z_half
        self.refractory = refractory
        self.warmup = warmup
        self.rel_floor = rel_floor
        self.shift_weight = shift_weight
        self.var_weight = var_weight
        self.negative_is_loss = negative_is_loss
        self._hours: list[RobustLevel] = [RobustLevel(season_alpha) for _ in range(24)]
        self._hour_days: list[int] = [0] * 24
        self._hour_last_day: list[int] = [-1] * 24
        self._season_scale = 0.0
        self._shift = 0.0
        self._jit_short = 0.0
        self._jit_long = 0.0
        self._var_chart = 0.0
        self._last: float | None = None
        self._spread = 0.0
        self.spread_floor = spread_floor
        self._alarm = 0.0
        self.count = 0
        self.last_z = 0.0
        self._tail_point = TailQuantile(tail_p, tail_eta, tail_min, tail_min)
        self._tail_shift = TailQuantile(tail_p, tail_eta, tail_min, tail_min)
        self._tail_var = TailQuantile(tail_p, tail_eta, var_min, var_min)

    def _floor(self) -> float:
        return self.rel_floor * abs(self.slow.level) + self.spread_floor * self._spread + 1e-12

    def expected(self) -> float:
        """The current baseline (slow level): what a normal value looks like now."""
        return self.slow.level

    def update(self, ts: float, value: float) -> float:
        """Learn ``value`` observed at ``ts``; return its anomaly score in [0, 1]."""
        x = float(value)
        if not math.isfinite(x) or (self.negative_is_loss and x < 0.0):
            return 0.0
        floor = self._floor()
        z = 0.0
        if self.count >= self.warmup:
            zp, zs, zv = self._surprise(ts, x, floor)
            qp, qs, qv = self._tail_point, self._tail_shift, self._tail_var
            z = max(zp / qp.value, zs / qs.value, zv / qv.value)
            qp.learn(zp)
            qs.learn(zs)
            qv.learn(zv)
        self._learn(ts, x, floor)
        self.count += 1
        self.last_z = z
        score = z / (z + self.z_half) if z > 0.0 else 0.0
        # Damp repeats: only a score above the decaying memory of recent alarms stays high.
        memory = self._alarm
        self._alarm = max(memory * self.refractory, score)
        if score <= memory:
            return score * 0.1
        return score

    def _surprise(self, ts: float, x: float, floor: float) -> tuple[float, float, float]:
        fs = max(self.fast.scale, floor) * 1.2533  # mean abs dev -> sigma under normality
        z_fast = abs(x - self.fast.level) / fs
        z_point = z_fast
        hour = int((ts % _DAY_S) // 3600.0)
        h = self._hours[hour]
        offset, ls = 0.0, max(self.slow.scale, floor) * 1.2533
        if self._hour_days[hour] >= self.season_days:
            offset = h.level
            ss = max(self._season_scale, floor) * 1.2533
            z_point = min(z_fast, abs(x - self.slow.level - offset) / ss)
        # The level-shift chart runs on the residual after the daily profile, once there is one.
        r = max(-6.0, min(6.0, (x - self.slow.level - offset) / ls))
        chart = self._shift + self.shift_alpha * (r - self._shift)
        z_shift = abs(chart) / self.shift_norm * self.shift_weight
        z_var = 0.0
        if self._last is not None and self._jit_long > 0.0:
            d = abs(x - self._last)
            js = self._jit_short + self.var_alpha * (d - self._jit_short)
            ratio = math.log((js + floor) / (self._jit_long + floor))
            z_var = abs(ratio) * self.var_weight
        return z_point, z_shift, z_var

    def _learn(self, ts: float, x: float, floor: float) -> None:
        hour = int((ts % _DAY_S) // 3600.0)
        day = int(ts // _DAY_S)
        h = self._hours[hour]
        if self.slow.count:
            dev = x - self.slow.level
            offset, ls = 0.0, max(self.slow.scale, floor) * 1.2533
            if self._hour_days[hour] >= self.season_days:
                offset = h.level
            if h.count:
                e = abs(dev - h.level)
                if self.count > self.warmup:
                    e = min(e, 4.0 * self._season_scale + floor)
                a = max(self.fast.alpha, 1.0 / (self.count + 1))
                self._season_scale += a * (e - self._season_scale)
            h.learn(dev, max(self.slow.scale, floor))
            if day != self._hour_last_day[hour]:
                self._hour_last_day[hour] = day
                self._hour_days[hour] += 1
            r = max(-6.0, min(6.0, (dev - offset) / ls))
            self._shift += self.shift_alpha * (r - self._shift)
        if self.slow.count:
            a = max(self.slow.alpha, 1.0 / (self.count + 1))
            self._spread += a * (abs(x - self.slow.level) - self._spread)
        if self._last is not None:
            d = abs(x - self._last)
            self._jit_short += self.var_alpha * (d - self._jit_short)
            a = max(self.slow.alpha, 1.0 / (self.count + 1))
            self._jit_long += a * (d - self._jit_long)
        self._last = x
        self.fast.learn(x, floor)
        self.slow.learn(x, floor)

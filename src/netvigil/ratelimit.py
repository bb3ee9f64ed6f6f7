"""The per-destination rate guard: a token bucket per host, kept as one float each.

The guard follows the generic cell rate algorithm (GCRA), the token bucket written as a
"theoretical arrival time" (TAT) per key: a probe to a key may start at
`TAT - (burst - 1) / rate`; each reservation pushes the key's TAT on by `1 / rate`.
A probe that must wait is told how long (never refused), and later reservations queue
behind it, so the long-run rate to one key never exceeds `rate` whatever the demand.

A key whose TAT has passed holds no information (a fresh key behaves the same), so
such keys are pruned; memory stays proportional to the keys probed in the last
`burst / rate` seconds, not to every destination ever seen.
"""

from __future__ import annotations

__all__ = ["RateGuard", "default_burst"]

_MIN_PRUNE_AT = 1024


def default_burst(rate: float) -> float:
    """The burst the scheduler allows at `rate` per second: up to one second's worth, 1..5."""
    return min(5.0, max(1.0, rate))


class RateGuard:
    """Limits how often each key (a destination host) may be probed.

    `rate` is the sustained number of probes per second per key and `burst` how many may
    start back to back after a quiet spell. Times are in seconds on any monotonic clock;
    the caller passes `now`. Raises ValueError for a rate or burst that is not positive.
    """

    __slots__ = ("_interval", "_prune_at", "_tat", "_tolerance", "burst", "rate")

    def __init__(self, rate: float, burst: float | None = None) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be positive, not {rate}")
        if burst is None:
            burst = default_burst(rate)
        if burst < 1:
            raise ValueError(f"burst must be at least 1, not {burst}")
        self.rate = rate
        self.burst = burst
        self._interval = 1.0 / rate
        self._tolerance = (burst - 1.0) / rate
        self._tat: dict[str, float] = {}
        self._prune_at = _MIN_PRUNE_AT

    def reserve(self, key: str, now: float) -> float:
        """Reserve one probe to `key`; return how many seconds to wait before it (0 = now)."""
        tat = self._tat.get(key)
        if tat is None or tat < now:
            tat = now
            if len(self._tat) >= self._prune_at:
                self.prune(now)
        self._tat[key] = tat + self._interval
        delay = tat - self._tolerance - now
        return delay if delay > 0.0 else 0.0

    def prune(self, now: float) -> int:
        """Forget keys that hold no reservation past `now`; return how many were dropped."""
        stale = [key for key, tat in self._tat.items() if tat <= now]
        for key in stale:
            del self._tat[key]
        self._prune_at = max(_MIN_PRUNE_AT, 2 * len(self._tat))
        return len(stale)

    def __len__(self) -> int:
        """How many keys the guard currently remembers."""
        return len(self._tat)

"""Health of one path (a target seen from one vantage), with confirmation over a short window.

One lost packet is no outage: a path is `suspected` after one failure among its last
`window` probes, `down` once `confirm` of them failed, and `ok` again after `recover`
successes in a row (which also clears the episode's failures from the window, so the next
episode is judged on its own). The first bad measurement of an episode (ts and id) is kept, so an
incident can say exactly when it began.

A path that is still failing with `corroborate` failures in its window is *corroborating*:
not down on its own, but down when other vantages see the same target fail at the same
time (co-fate across independent paths is strong evidence; see `state.judge.judge_target`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import StrEnum

from netvigil.model import Measurement

__all__ = ["HealthPolicy", "HealthState", "PathHealth"]


class HealthState(StrEnum):
    """The confirmed state of one path."""

    OK = "ok"
    SUSPECTED = "suspected"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class HealthPolicy:
    """Confirmation window in probes: `down` after `confirm` of the last `window` failed.

    `recover` successes in a row bring a path back to `ok`. A path whose last probe failed,
    with `corroborate` failures in the window, counts as down when at least one other
    vantage sees the same target fail at once (`state.judge.judge_target`).
    """

    window: int = 5
    confirm: int = 3
    recover: int = 2
    corroborate: int = 2

    def __post_init__(self) -> None:
        if not 1 <= self.confirm <= self.window:
            raise ValueError("confirm must be between 1 and window")
        if not 1 <= self.corroborate <= self.confirm:
            raise ValueError("corroborate must be between 1 and confirm")
        if self.recover < 1:
            raise ValueError("recover must be at least 1")


class PathHealth:
    """The health state machine of one (target, vantage) path; feed measurements in time order."""

    __slots__ = (
        "episode_start_id",
        "episode_start_ts",
        "failures",
        "last_ok_ts",
        "last_ts",
        "ok_run",
        "ok_run_start_ts",
        "policy",
        "recent",
        "state",
        "target",
        "vantage",
    )

    def __init__(self, target: str, vantage: str, policy: HealthPolicy) -> None:
        self.target = target
        self.vantage = vantage
        self.policy = policy
        self.state = HealthState.OK
        self.recent: deque[bool] = deque(maxlen=policy.window)
        self.failures = 0
        self.ok_run = 0
        self.ok_run_start_ts: float | None = None
        self.last_ts: float | None = None
        self.last_ok_ts: float | None = None
        self.episode_start_ts: float | None = None
        self.episode_start_id: str | None = None

    @property
    def has_data(self) -> bool:
        """Whether any measurement was seen."""
        return self.last_ts is not None

    @property
    def corroborating(self) -> bool:
        """Whether the last probe failed and `corroborate` of the window did.

        Such a path is down once another vantage agrees (co-fate), even before it has
        `confirm` failures of its own.
        """
        recent = self.recent
        return self.failures >= self.policy.corroborate and bool(recent) and not recent[-1]

    @property
    def recovered(self) -> bool:
        """Whether the path is ok with at least `recover` successes in a row."""
        return self.state is HealthState.OK and self.ok_run >= self.policy.recover

    def observe(self, m: Measurement) -> bool:
        """Take one measurement; return True when the state changed."""
        recent = self.recent
        if len(recent) == recent.maxlen and not recent[0]:
            self.failures -= 1
        recent.append(m.ok)
        self.last_ts = m.ts
        before = self.state
        if m.ok:
            self.last_ok_ts = m.ts
            if self.ok_run == 0:
                self.ok_run_start_ts = m.ts
            self.ok_run += 1
            if before is not HealthState.OK and self.ok_run >= self.policy.recover:
                # Recovered: the episode's failures no longer count towards the next one.
                self.state = HealthState.OK
                self.episode_start_ts = None
                self.episode_start_id = None
                recent.clear()
                recent.extend([True] * min(self.ok_run, self.policy.window))
                self.failures = 0
            elif before is HealthState.SUSPECTED and self.failures == 0:
                self.state = HealthState.OK
                self.episode_start_ts = None
                self.episode_start_id = None
        else:
            self.failures += 1
            self.ok_run = 0
            self.ok_run_start_ts = None
            if self.episode_start_ts is None:
                self.episode_start_ts = m.ts
                self.episode_start_id = m.id
            if self.failures >= self.policy.confirm:
                self.state = HealthState.DOWN
            elif before is HealthState.OK:
                self.state = HealthState.SUSPECTED
        return self.state is not before

    def fresh(self, now: float, stale_s: float) -> bool:
        """Whether the path reported within `stale_s` of `now`."""
        return self.last_ts is not None and now - self.last_ts <= stale_s

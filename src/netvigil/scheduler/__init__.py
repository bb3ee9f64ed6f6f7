"""The scheduler: runs every target at its own interval, within a concurrency cap.

One timing loop owns a heap of `(due, key, entry)`; it sleeps until the earliest due
time, starts every probe that is due, and pushes each target back at its next due time
(`heapreplace`: O(log n) per dispatch). No task exists for an idle target, so a million
targets cost a million heap items and nothing else. Under load the loop wakes at most
once per `resolution_s` (20 ms) and starts everything due in one batch.

Timing. A target's runs sit on a grid `interval_s` apart whose offset is a hash of its
name, taken against the wall clock, so targets spread evenly over their interval and a
restart keeps each target's rhythm. Each run after the first is moved off the grid by up
to `± jitter / 2` of the interval, so two consecutive runs are `interval * (1 ± jitter)`
apart, and the grid itself never drifts (lag and jitter do not accumulate).

Guards around each probe:
- at most `SchedulerConfig.concurrency` probes in flight; when all slots are taken the
  timing loop waits for one (the wait shows as schedule lag);
- at most `per_address_rate` probes per second to one destination (a token bucket per
  host, `netvigil.ratelimit.RateGuard`); a probe over the rate is delayed, never dropped,
  and other destinations go on meanwhile;
- a deadline of `spec.timeout_s + grace_s` (as `asyncio.timeout` would give, kept by
  one shared `netvigil.ratelimit.DeadlineWatch` instead of a timer per probe): a probe
  that overruns it, or raises, still yields an Observation (`unknown`, the reason in
  `detail["error"]`); a probe that reports its own timeout keeps its outcome and phase;
- a target whose previous run is still in flight when it is due again is skipped, and
  the skip counted; so are runs missed because the loop fell a whole interval behind.

Quick re-probes. When a run fails, the target is probed again `retry_s` later (its
`retry_interval_s`, by default a third of its interval, at least 1 s) instead of at its
next regular run, until `confirm` runs in a row have failed (the detector's
`HealthPolicy.confirm`: the path is then down) or one succeeds; the regular runs keep
their grid meanwhile. So a new outage is confirmed about `2 * retry_s` after its first
failed probe instead of two intervals. A re-probe goes through the same cap and rate
guard, there are at most `confirm - 1` per failure episode (a 10,000-target outage costs
at most twice that many extra probes, once), none once the episode reached `confirm`,
and none when the regular run comes within half a retry interval anyway; a regular run
that comes due while a re-probe of its target is in flight is taken by it (not counted
as skipped).

Watermark. A run counts as in flight from its start until its result has been handed
on; `Scheduler.watermark()` is the oldest wall-clock start in flight (or now), so every
result still to come is stamped at or after it (`inflight`): detection in the same
process releases this vantage's measurements by it instead of waiting `lateness_s`.

Schedule lag (actual start minus due time) is recorded per dispatch in a Prometheus
histogram (when `metrics` is given) and in a recent window (`lag_summary()`).

Modules: `timetable` (the targets and the heap of their next runs), `core` (the run
loop, the guards and the re-probes), `watched` (a probe under its deadline), `inflight`
(the starts of the runs in flight) and `lag` (lag statistics).
"""

from netvigil.scheduler.core import (
    DEFAULT_CONFIRM,
    DEFAULT_RESOLUTION_S,
    ResultHandler,
    Scheduler,
)
from netvigil.scheduler.lag import LagSummary
from netvigil.scheduler.timetable import phase_of
from netvigil.scheduler.watched import DEFAULT_GRACE_S, OVERRAN_ERROR, ProbeLike

__all__ = [
    "DEFAULT_CONFIRM",
    "DEFAULT_GRACE_S",
    "DEFAULT_RESOLUTION_S",
    "OVERRAN_ERROR",
    "LagSummary",
    "ProbeLike",
    "ResultHandler",
    "Scheduler",
    "phase_of",
]

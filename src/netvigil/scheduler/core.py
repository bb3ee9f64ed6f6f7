"""The scheduler's run loop: starts each due run under the concurrency cap and rate guard.

`Scheduler` owns a `Timetable` (the targets and the heap of their next runs), the
guards (`ConcurrencyCap`, `RateGuard`) and a `WatchedProbe` (the deadline of each run).
Its timing loop sleeps until the earliest due time, starts every run that is due, and
puts each target back at its next due time. Under load the loop wakes at most once per
`resolution_s` and starts everything due in one batch. See `netvigil.scheduler` for
the timing and the guards.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Iterable
from heapq import heappop, heapreplace
from typing import TYPE_CHECKING

from netvigil.model import Observation
from netvigil.ratelimit import ConcurrencyCap, RateGuard
from netvigil.scheduler.inflight import InFlightStarts, RunStart
from netvigil.scheduler.lag import LagSummary, summarize_lags
from netvigil.scheduler.timetable import Entry, Timetable
from netvigil.scheduler.watched import DEFAULT_GRACE_S, ProbeLike, WatchedProbe

if TYPE_CHECKING:
    from netvigil.config.model import SchedulerConfig
    from netvigil.metrics import Metrics
    from netvigil.probes import TargetSpec

__all__ = ["DEFAULT_CONFIRM", "DEFAULT_RESOLUTION_S", "ResultHandler", "Scheduler"]

log = logging.getLogger("netvigil.scheduler")

DEFAULT_RESOLUTION_S = 0.02
"""The timing loop wakes at most once per this many seconds when runs are due densely.

Each wake-up of the event loop (three loop iterations, each a poll of the selector)
costs several dispatches' worth of CPU, so when runs are due densely the loop starts
everything due in one batch. It adds at most this much schedule lag (under 0.05% of a
60 s interval); when runs are sparse the loop wakes exactly at the due time.
"""

DEFAULT_CONFIRM = 3
"""Failed runs in a row after which quick re-probes stop: the detector's
`HealthPolicy().confirm` (a path is down after that many failures; a test pins the two
equal, as the scheduler sits below the detector's layers and cannot import it)."""

_YIELD_EVERY = 1024


ResultHandler = Callable[["TargetSpec", Observation, float, float], None]
"""Called for each finished probe with (spec, observation, wall-clock start, duration_s)."""


class Scheduler:
    """Runs targets at their intervals through `probe`, handing results to `on_result`.

    Usage::

        scheduler = Scheduler(config, probes, on_result, metrics=metrics)
        scheduler.set_targets(targets)
        await scheduler.run(stop)          # until stop is set; then drains

    `now` is the monotonic clock the schedule runs on (default `time.monotonic`, which is
    what asyncio's own loop.time() reads) and `wall` the clock stamped on results; both
    are injectable for tests, as is `rng` (the jitter source). Targets may be added,
    removed or replaced at any time from the event loop's thread. `confirm` is how many
    failed runs in a row end a target's quick re-probes (see `netvigil.scheduler`).
    """

    def __init__(
        self,
        config: SchedulerConfig,
        probe: ProbeLike,
        on_result: ResultHandler,
        *,
        metrics: Metrics | None = None,
        now: Callable[[], float] | None = None,
        wall: Callable[[], float] = time.time,
        grace_s: float = DEFAULT_GRACE_S,
        rng: random.Random | None = None,
        lag_window: int = 4096,
        rate_burst: float | None = None,
        resolution_s: float = DEFAULT_RESOLUTION_S,
        confirm: int = DEFAULT_CONFIRM,
    ) -> None:
        if confirm < 1:
            raise ValueError("confirm must be at least 1")
        self._on_result = on_result
        self._confirm = confirm
        self._metrics = metrics
        self._now = now if now is not None else time.monotonic
        self._wall = wall
        self._grace_s = grace_s
        self._resolution_s = resolution_s
        self._stopping = False
        self._running = False
        self._jitter = config.jitter
        self._random = (rng if rng is not None else random.Random()).random
        self._slots = ConcurrencyCap(config.concurrency)
        self._probe = WatchedProbe(probe, self._now)
        self._guard = RateGuard(config.per_address_rate, rate_burst)
        self._table = Timetable(grace_s)
        self._starts = InFlightStarts(wall)
        self._lags: deque[float] = deque(maxlen=lag_window)
        self._runs: dict[Entry, asyncio.Task[None]] = {}
        """The task of each run dispatched and not yet finished (one per target at most)."""
        self._waiting: set[Entry] = set()
        """Runs held back by the rate guard or the cap, not yet probing."""
        self._waiter: asyncio.Future[None] | None = None
        self.dispatched = 0
        """Probes started by the timing loop."""
        self.completed = 0
        """Probes finished (any outcome)."""
        self.skipped = 0
        """Runs not made: previous run still in flight, or a whole interval missed."""
        self.retries = 0
        """Quick re-probes scheduled (after a failed run; see `netvigil.scheduler`)."""
        if metrics is not None:
            metrics.track_in_flight(lambda: self._slots.used)
            metrics.track_targets(lambda: len(self._table.entries))

    # -- targets ---------------------------------------------------------------------

    def __len__(self) -> int:
        """How many targets are scheduled."""
        return len(self._table.entries)

    def __contains__(self, name: object) -> bool:
        return name in self._table.entries

    @property
    def targets(self) -> list[TargetSpec]:
        """The scheduled targets' specs."""
        return [e.spec for e in self._table.entries.values()]

    @property
    def in_flight(self) -> int:
        """Probes running now (holding a concurrency slot)."""
        return self._slots.used

    def add(self, spec: TargetSpec) -> None:
        """Schedule `spec`, or replace the target of the same name.

        A replacement with the same interval keeps its place in the schedule; one with a
        new interval moves to the phase of its name on the new grid.
        """
        self._table.add(spec, self._now(), self._wall())
        self._wake()

    def remove(self, name: str) -> bool:
        """Stop scheduling the target `name` (a run in flight finishes); False if unknown."""
        return self._table.remove(name)

    def set_targets(self, specs: Iterable[TargetSpec]) -> None:
        """Make the scheduled set exactly `specs`: add new names, replace changed, drop gone."""
        self._table.replace_all(specs, self._now(), self._wall())
        self._wake()

    def due(self, name: str) -> float | None:
        """When the target `name` runs next (on the `now` clock); None if not scheduled."""
        return self._table.due(name)

    def next_due(self) -> float | None:
        """The due time of the earliest scheduled run (on the `now` clock), if any."""
        return self._table.next_due()

    def watermark(self) -> float:
        """Every result still to come from this scheduler is stamped (wall clock) at or after
        this: the oldest start of the runs in flight, or now when none is. Safe to call
        from any thread (see `netvigil.scheduler.inflight`)."""
        return self._starts.watermark()

    # -- running ---------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Run the schedule until `stop` is set, then wait for the probes in flight."""
        loop = asyncio.get_running_loop()
        self._stopping = False
        self._running = True
        if self.dispatched == 0:
            # Anchor the first runs on the clocks as they are now, not at set-up.
            self._table.rebase(self._now(), self._wall())
        watcher = loop.create_task(stop.wait())
        watcher.add_done_callback(self._on_stop)
        try:
            while not stop.is_set():
                batch_start = self._now()
                due = await self.dispatch_due()
                if stop.is_set():
                    break
                if due is not None:
                    due = max(due, batch_start + self._resolution_s)
                await self._sleep_until(loop, due)
        finally:
            watcher.cancel()
            try:
                await self.drain()
            finally:
                self._running = False

    async def dispatch_due(self) -> float | None:
        """Start every run due by now; return the next due time (None when no targets).

        Waits only when every concurrency slot is taken. `run()` calls this in a loop; a
        test with a hand-driven `now` may call it directly.
        """
        table = self._table
        heap = table.heap
        keys = table.keys
        guard = self._guard
        slots = self._slots
        jitter = self._jitter
        loop = asyncio.get_running_loop()
        now = self._now()
        while heap:
            due, key, entry = heap[0]
            if due > now:
                return due
            if key != entry.key:
                heappop(heap)
                table.stale -= 1
                continue
            retry = entry.retry_at is not None
            if retry:
                # A quick re-probe: the regular run goes back on the heap, due as before.
                entry.retry_at = None
                entry.key = key = next(keys)
                heapreplace(heap, (entry.due, key, entry))
            else:
                interval = entry.interval
                nominal = entry.nominal + interval
                if nominal <= now:
                    # A whole interval behind (a stall, a saturated cap): skip to the grid
                    # point after now rather than firing the missed runs back to back.
                    missed = int((now - nominal) // interval) + 1
                    nominal += missed * interval
                    self._skip(missed)
                entry.nominal = nominal
                if jitter:
                    nominal += interval * jitter * (self._random() - 0.5)
                    if nominal <= now:
                        nominal = entry.nominal  # jitter must not make it due again at once
                entry.due = nominal
                entry.key = key = next(keys)
                heapreplace(heap, (nominal, key, entry))
            if entry.in_flight:
                if not entry.retry_in_flight:  # a quick re-probe in flight stands in for it
                    self._skip(1)
                continue
            entry.in_flight = True
            entry.retry_in_flight = retry
            self.dispatched += 1
            delay = guard.reserve(entry.destination, now)
            if delay > 0.0:
                task = loop.create_task(self._probe_later(entry, entry.spec, due, delay))
                self._waiting.add(entry)
            else:
                if not slots.try_acquire():
                    await slots.acquire()
                    if self._stopping:
                        slots.release()
                        entry.in_flight = False
                        self.dispatched -= 1
                        return self.next_due()
                task = loop.create_task(self._probe_now(entry, entry.spec, due))
            self._runs[entry] = task  # the task removes itself when it ends
            if not self.dispatched % _YIELD_EVERY:
                await asyncio.sleep(0)  # let a large batch's probes start
                if self._stopping:
                    return self.next_due()
        return None

    async def drain(self) -> None:
        """Cancel runs still waiting to start, and wait for the probes already running."""
        for entry in list(self._waiting):
            self._runs[entry].cancel()
        while self._runs:
            await asyncio.gather(*self._runs.values(), return_exceptions=True)
        self._probe.close()

    async def check(self, spec: TargetSpec) -> tuple[Observation, float, float]:
        """Probe `spec` once now, under the same cap, rate guard and deadline as the schedule.

        Returns (observation, wall-clock start, duration_s).
        """
        delay = self._guard.reserve(spec.destination, self._now())
        if delay > 0.0:
            await asyncio.sleep(delay)
        await self._slots.acquire()
        started: RunStart | None = None
        try:
            start = self._now()
            started = self._starts.begin()
            wall = started.wall
            obs = await self._probe.measure(spec, spec.timeout_s + self._grace_s)
            return obs, wall, self._now() - start
        finally:
            self._slots.release()
            if started is not None:
                # In flight until the caller has handed the result on (in this same step).
                asyncio.get_running_loop().call_soon(self._starts.end, started)
            if not self._running:
                self._probe.close()  # the last ad-hoc check ends the watchdog

    def lag_summary(self) -> LagSummary:
        """Schedule lag over the most recent dispatches (all zero before the first)."""
        return summarize_lags(self._lags)

    # -- internals -------------------------------------------------------------------

    def _on_stop(self, _: object) -> None:
        self._stopping = True
        self._wake()

    def _skip(self, count: int) -> None:
        self.skipped += count
        if self._metrics is not None:
            self._metrics.observe_skip(count)

    async def _probe_later(self, entry: Entry, spec: TargetSpec, due: float, delay: float) -> None:
        try:
            await asyncio.sleep(delay)
            await self._slots.acquire()
        except BaseException:
            entry.in_flight = False
            self._runs.pop(entry, None)
            raise
        finally:
            self._waiting.discard(entry)
        await self._probe_now(entry, spec, due)

    async def _probe_now(self, entry: Entry, spec: TargetSpec, due: float) -> None:
        # Holds a slot on entry; releases it and clears in_flight before reporting. The
        # run holds the watermark back until its result has been handed on.
        now = self._now
        started: RunStart | None = None
        try:
            try:
                start = now()
                started = self._starts.begin()
                wall = started.wall
                lag = start - due
                self._lags.append(lag)
                if self._metrics is not None:
                    self._metrics.observe_lag(lag)
                obs = await self._probe.measure(spec, entry.limit)
                elapsed = now() - start
            finally:
                self._slots.release()
                entry.in_flight = False
            self.completed += 1
            self._after_run(entry, obs.ok)
            try:
                self._on_result(spec, obs, wall, elapsed)
            except Exception:
                log.exception("result handler failed for target %s", spec.name)
        finally:
            self._runs.pop(entry, None)
            if started is not None:
                self._starts.end(started)

    def _after_run(self, entry: Entry, ok: bool) -> None:
        """Count the run's failure episode; after a failure, schedule a quick re-probe
        `retry_s` from now unless the episode has reached `confirm` failures, the target
        has none or is gone, or its regular run comes within half that anyway."""
        if ok:
            entry.failures = 0
            return
        entry.failures += 1
        retry = entry.retry_s
        if not retry or entry.failures >= self._confirm or self._stopping:
            return
        if entry.retry_at is not None or self._table.entries.get(entry.name) is not entry:
            return
        at = self._now() + retry
        if at + retry / 2 > entry.due:
            return
        self._table.schedule_retry(entry, at)
        self.retries += 1
        self._wake()

    async def _sleep_until(self, loop: asyncio.AbstractEventLoop, due: float | None) -> None:
        handle: asyncio.TimerHandle | None = None
        if due is not None:
            delay = due - self._now()
            if delay <= 0.0:
                return
            handle = loop.call_later(delay, self._wake)
        fut: asyncio.Future[None] = loop.create_future()
        self._waiter = fut
        try:
            await fut
        finally:
            self._waiter = None
            if handle is not None:
                handle.cancel()

    def _wake(self) -> None:
        fut = self._waiter
        if fut is not None and not fut.done():
            fut.set_result(None)

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

Schedule lag (actual start minus due time) is recorded per dispatch in a Prometheus
histogram (when `metrics` is given) and in a recent window (`lag_summary()`).
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from heapq import heapify, heappop, heappush, heapreplace
from typing import TYPE_CHECKING, Protocol

from netvigil.model import Observation
from netvigil.outcome import Outcome
from netvigil.ratelimit import ConcurrencyCap, DeadlineWatch, RateGuard

if TYPE_CHECKING:
    from netvigil.config.model import SchedulerConfig
    from netvigil.metrics import Metrics
    from netvigil.probes import TargetSpec

__all__ = [
    "OVERRAN_ERROR",
    "LagSummary",
    "ProbeLike",
    "ResultHandler",
    "Scheduler",
    "phase_of",
]

log = logging.getLogger(__name__)

OVERRAN_ERROR = "probe overran its deadline"
"""`detail["error"]` of the Observation recorded when a probe outlives its deadline."""

DEFAULT_GRACE_S = 1.0
"""How long past `timeout_s` a probe may run before the scheduler abandons it."""

DEFAULT_RESOLUTION_S = 0.02
"""The timing loop wakes at most once per this many seconds when runs are due densely.

Each wake-up of the event loop (three loop iterations, each a poll of the selector)
costs several dispatches' worth of CPU, so when runs are due densely the loop starts
everything due in one batch. It adds at most this much schedule lag (under 0.05% of a
60 s interval); when runs are sparse the loop wakes exactly at the due time.
"""

_YIELD_EVERY = 1024


class ProbeLike(Protocol):
    """Anything that measures a target once (`netvigil.probes.ProbeSet`, or a test fake).

    `measure` returns an Observation for every network failure; it should return within
    `spec.timeout_s`, and the scheduler abandons it `grace_s` later.
    """

    async def measure(self, spec: TargetSpec) -> Observation: ...


ResultHandler = Callable[["TargetSpec", Observation, float, float], None]
"""Called for each finished probe with (spec, observation, wall-clock start, duration_s)."""


@dataclass(frozen=True, slots=True)
class LagSummary:
    """Schedule lag over the recent dispatches: count and p50/p99/max in seconds."""

    count: int
    p50_s: float
    p99_s: float
    max_s: float


def phase_of(name: str) -> float:
    """Where in its interval a target runs: a fraction in [0, 1), a stable hash of `name`."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 18446744073709551616.0


class _Entry:
    """One scheduled target: its spec and where it stands."""

    __slots__ = (
        "destination",
        "due",
        "in_flight",
        "interval",
        "key",
        "limit",
        "name",
        "nominal",
        "spec",
    )

    def __init__(self, spec: TargetSpec, grace_s: float) -> None:
        self.name = spec.name
        self.in_flight = False
        self.key = -1
        """The key of this entry's live heap item; any other item for it is stale."""
        self.nominal = 0.0
        """The unjittered due time of the next run (its grid point)."""
        self.due = 0.0
        """The due time of the next run (on the scheduler's `now` clock)."""
        self.interval = spec.interval_s
        self.spec = spec
        self.destination = spec.destination
        self.limit = spec.timeout_s + grace_s

    def update(self, spec: TargetSpec, grace_s: float) -> None:
        self.spec = spec
        self.destination = spec.destination
        self.limit = spec.timeout_s + grace_s


class Scheduler:
    """Runs targets at their intervals through `probe`, handing results to `on_result`.

    Usage::

        scheduler = Scheduler(config, probes, on_result, metrics=metrics)
        scheduler.set_targets(targets)
        await scheduler.run(stop)          # until stop is set; then drains

    `now` is the monotonic clock the schedule runs on (default `time.monotonic`, which is
    what asyncio's own loop.time() reads) and `wall` the clock stamped on results; both
    are injectable for tests, as is `rng` (the jitter source). Targets may be added,
    removed or replaced at any time from the event loop's thread.
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
    ) -> None:
        self._probe = probe
        self._on_result = on_result
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
        self._deadlines = DeadlineWatch()
        self._guard = RateGuard(config.per_address_rate, rate_burst)
        self._entries: dict[str, _Entry] = {}
        self._heap: list[tuple[float, int, _Entry]] = []
        self._stale = 0
        self._keys = itertools.count()
        self._lags: deque[float] = deque(maxlen=lag_window)
        self._runs: dict[_Entry, asyncio.Task[None]] = {}
        """The task of each run dispatched and not yet finished (one per target at most)."""
        self._waiting: set[_Entry] = set()
        """Runs held back by the rate guard or the cap, not yet probing."""
        self._waiter: asyncio.Future[None] | None = None
        self.dispatched = 0
        """Probes started by the timing loop."""
        self.completed = 0
        """Probes finished (any outcome)."""
        self.skipped = 0
        """Runs not made: previous run still in flight, or a whole interval missed."""
        if metrics is not None:
            metrics.track_in_flight(lambda: self._slots.used)
            metrics.track_targets(lambda: len(self._entries))

    # -- targets ---------------------------------------------------------------------

    def __len__(self) -> int:
        """How many targets are scheduled."""
        return len(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    @property
    def targets(self) -> list[TargetSpec]:
        """The scheduled targets' specs."""
        return [e.spec for e in self._entries.values()]

    @property
    def in_flight(self) -> int:
        """Probes running now (holding a concurrency slot)."""
        return self._slots.used

    def add(self, spec: TargetSpec) -> None:
        """Schedule `spec`, or replace the target of the same name.

        A replacement with the same interval keeps its place in the schedule; one with a
        new interval moves to the phase of its name on the new grid.
        """
        self._add(spec, self._now(), self._wall(), push=True)
        self._wake()

    def remove(self, name: str) -> bool:
        """Stop scheduling the target `name` (a run in flight finishes); False if unknown."""
        entry = self._entries.pop(name, None)
        if entry is None:
            return False
        self._invalidate(entry)
        self._maybe_compact()
        return True

    def set_targets(self, specs: Iterable[TargetSpec]) -> None:
        """Make the scheduled set exactly `specs`: add new names, replace changed, drop gone."""
        now, wall = self._now(), self._wall()
        wanted: dict[str, TargetSpec] = {}
        for spec in specs:
            wanted[spec.name] = spec
        for name in [n for n in self._entries if n not in wanted]:
            self._invalidate(self._entries.pop(name))
        bulk = len(wanted) > len(self._heap)
        for spec in wanted.values():
            current = self._entries.get(spec.name)
            if current is not None and current.spec == spec:
                continue
            self._add(spec, now, wall, push=not bulk)
        if bulk:
            heapify(self._heap)
        self._maybe_compact()
        self._wake()

    def _add(self, spec: TargetSpec, now: float, wall: float, *, push: bool) -> None:
        entry = self._entries.get(spec.name)
        if entry is not None:
            entry.update(spec, self._grace_s)
            if entry.interval == spec.interval_s:
                return
            self._invalidate(entry)
            entry.interval = spec.interval_s
        else:
            entry = _Entry(spec, self._grace_s)
            self._entries[spec.name] = entry
        interval = entry.interval
        # The run grid is anchored on the wall clock, so a restart keeps the rhythm.
        first = now + (phase_of(entry.name) * interval - wall) % interval
        entry.nominal = entry.due = first
        entry.key = key = next(self._keys)
        if push:
            heappush(self._heap, (first, key, entry))
        else:
            self._heap.append((first, key, entry))

    def _rebase(self) -> None:
        """Anchor every target's first run on the clocks as they are when running starts.

        Building a large schedule takes a while (about 16 µs a target), and the process
        may do more set-up before it runs; without this the earliest targets would count
        that set-up as schedule lag. Each target keeps its phase on the wall-clock grid.
        """
        now, wall = self._now(), self._wall()
        heap: list[tuple[float, int, _Entry]] = []
        for entry in self._entries.values():
            interval = entry.interval
            first = now + (phase_of(entry.name) * interval - wall) % interval
            entry.nominal = entry.due = first
            entry.key = key = next(self._keys)
            heap.append((first, key, entry))
        heapify(heap)
        self._heap = heap

    def _invalidate(self, entry: _Entry) -> None:
        if entry.key >= 0:
            entry.key = -1
            self._stale += 1

    def _maybe_compact(self) -> None:
        heap = self._heap
        if self._stale > 1024 and self._stale * 2 > len(heap):
            heap[:] = [item for item in heap if item[1] == item[2].key]
            heapify(heap)
            self._stale = 0

    def due(self, name: str) -> float | None:
        """When the target `name` runs next (on the `now` clock); None if not scheduled."""
        entry = self._entries.get(name)
        return entry.due if entry is not None else None

    def next_due(self) -> float | None:
        """The due time of the earliest scheduled run (on the `now` clock), if any."""
        heap = self._heap
        while heap and heap[0][1] != heap[0][2].key:
            heappop(heap)
            self._stale -= 1
        return heap[0][0] if heap else None

    # -- running ---------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Run the schedule until `stop` is set, then wait for the probes in flight."""
        loop = asyncio.get_running_loop()
        self._stopping = False
        self._running = True
        if self.dispatched == 0:
            self._rebase()
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
        heap = self._heap
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
                self._stale -= 1
                continue
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
            entry.key = key = next(self._keys)
            heapreplace(heap, (nominal, key, entry))
            if entry.in_flight:
                self._skip(1)
                continue
            entry.in_flight = True
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
        self._deadlines.close()

    async def check(self, spec: TargetSpec) -> tuple[Observation, float, float]:
        """Probe `spec` once now, under the same cap, rate guard and deadline as the schedule.

        Returns (observation, wall-clock start, duration_s).
        """
        delay = self._guard.reserve(spec.destination, self._now())
        if delay > 0.0:
            await asyncio.sleep(delay)
        await self._slots.acquire()
        try:
            start = self._now()
            wall = self._wall()
            obs = await self._measure(spec, spec.timeout_s + self._grace_s)
            return obs, wall, self._now() - start
        finally:
            self._slots.release()
            if not self._running:
                self._deadlines.close()  # the last ad-hoc check ends the watchdog

    def lag_summary(self) -> LagSummary:
        """Schedule lag over the most recent dispatches (all zero before the first)."""
        lags = sorted(self._lags)
        n = len(lags)
        if not n:
            return LagSummary(0, 0.0, 0.0, 0.0)
        return LagSummary(n, lags[(n - 1) // 2], lags[min(n - 1, (n * 99) // 100)], lags[-1])

    # -- internals -------------------------------------------------------------------

    def _on_stop(self, _: object) -> None:
        self._stopping = True
        self._wake()

    def _skip(self, count: int) -> None:
        self.skipped += count
        if self._metrics is not None:
            self._metrics.observe_skip(count)

    async def _probe_later(self, entry: _Entry, spec: TargetSpec, due: float, delay: float) -> None:
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

    async def _probe_now(self, entry: _Entry, spec: TargetSpec, due: float) -> None:
        # Holds a slot on entry; releases it and clears in_flight before reporting.
        now = self._now
        try:
            try:
                start = now()
                wall = self._wall()
                lag = start - due
                self._lags.append(lag)
                if self._metrics is not None:
                    self._metrics.observe_lag(lag)
                obs = await self._measure(spec, entry.limit)
                elapsed = now() - start
            finally:
                self._slots.release()
                entry.in_flight = False
            self.completed += 1
            try:
                self._on_result(spec, obs, wall, elapsed)
            except Exception:
                log.exception("result handler failed for target %s", spec.name)
        finally:
            self._runs.pop(entry, None)

    async def _measure(self, spec: TargetSpec, limit: float) -> Observation:
        # The deadline is kept by the shared DeadlineWatch: like asyncio.timeout(limit),
        # without a timer per probe.
        start = self._now()
        watched = self._deadlines.start(limit)
        try:
            return await self._probe.measure(spec)
        except asyncio.CancelledError:
            if not watched.overran or watched.task.uncancel() > 0:
                raise  # not our deadline, or someone else cancelled too
            return Observation(
                ok=False,
                outcome=Outcome.UNKNOWN,
                timings={"total": self._now() - start},
                detail={"error": OVERRAN_ERROR, "deadline_s": limit},
            )
        except Exception as exc:
            return self._failed(spec, exc, start)
        finally:
            self._deadlines.finish(watched)

    def _failed(self, spec: TargetSpec, exc: Exception, start: float) -> Observation:
        log.error("probe for target %s raised %r", spec.name, exc, exc_info=exc)
        return Observation(
            ok=False,
            outcome=Outcome.UNKNOWN,
            timings={"total": self._now() - start},
            detail={"error": f"probe raised {type(exc).__name__}: {exc}"},
        )

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

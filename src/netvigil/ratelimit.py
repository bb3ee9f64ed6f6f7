"""The limits the scheduler puts on probing: rate per destination, concurrency, time.

- `RateGuard`: at most `rate` probes per second to one destination, with a small burst.
- `ConcurrencyCap`: at most `capacity` probes in flight (a semaphore with a sync path).
- `DeadlineWatch`: cancels a probe that outlives its deadline; one watchdog task for all
  probes in flight instead of a timer per probe, which is what keeps a deadline on every
  probe cheap (a heap push) at thousands of probes per second.

The rate guard follows the generic cell rate algorithm (GCRA), the token bucket written as a
"theoretical arrival time" (TAT) per key: a probe to a key may start at
`TAT - (burst - 1) / rate`; each reservation pushes the key's TAT on by `1 / rate`.
A probe that must wait is told how long (never refused), and later reservations queue
behind it, so the long-run rate to one key never exceeds `rate` whatever the demand.

A key whose TAT has passed holds no information (a fresh key behaves the same), so
such keys are pruned; memory stays proportional to the keys probed in the last
`burst / rate` seconds, not to every destination ever seen.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from heapq import heapify, heappop, heappush

__all__ = ["ConcurrencyCap", "DeadlineWatch", "RateGuard", "Watched", "default_burst"]

_MIN_PRUNE_AT = 1024

_DEADLINE_SLACK_S = 0.001
"""Deadlines this close are due now (some loops keep time in whole milliseconds)."""


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


class ConcurrencyCap:
    """At most `capacity` holders at once: a counting semaphore with FIFO waiters.

    `try_acquire()` takes a slot without awaiting when one is free (the scheduler's fast
    path); `acquire()` waits for one; `release()` hands the slot to the oldest waiter.
    """

    __slots__ = ("capacity", "used", "waiters")

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.used = 0
        self.waiters: deque[asyncio.Future[None]] = deque()

    def try_acquire(self) -> bool:
        """Take a slot if one is free and nobody is waiting; say whether it was taken."""
        if self.used < self.capacity and not self.waiters:
            self.used += 1
            return True
        return False

    async def acquire(self) -> None:
        """Take a slot, waiting for one if need be."""
        if self.try_acquire():
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()  # the slot was handed over just as we were cancelled
            raise

    def release(self) -> None:
        """Give a slot back (to the oldest waiter, if any)."""
        waiters = self.waiters
        while waiters:
            fut = waiters.popleft()
            if not fut.done():
                fut.set_result(None)  # hand the slot over: `used` stays the same
                return
        self.used -= 1


class Watched:
    """One task under a deadline: `overran` is set when the watch cancelled it."""

    __slots__ = ("active", "overran", "task")

    def __init__(self, task: asyncio.Task[object]) -> None:
        self.task = task
        self.active = True
        self.overran = False


class DeadlineWatch:
    """Cancels watched tasks that are still running at their deadline (on `loop.time()`).

    Usage, inside the task to be limited::

        watched = watch.start(limit_s)
        try:
            return await work()
        except asyncio.CancelledError:
            if watched.overran:
                asyncio.current_task().uncancel()   # our cancel, not the caller's
                return timed_out_result
            raise
        finally:
            watch.finish(watched)

    One timer is armed for the earliest deadline that may still matter; when it fires,
    a watchdog task drops the entries of finished tasks, cancels the overdue ones and
    re-arms the timer for the next. A finished task costs nothing until its entry
    reaches the top, and the heap is rebuilt when finished entries outnumber live ones,
    so memory follows the tasks in flight. `close()` ends the watchdog when done.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Watched]] = []
        self._seq = itertools.count()
        self._live = 0
        self._compact_at = 1024
        self._fired = False
        self._watchdog: asyncio.Task[None] | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._armed_at = float("inf")

    def start(self, limit_s: float) -> Watched:
        """Put the current task under a deadline `limit_s` seconds from now."""
        task = asyncio.current_task()
        if task is None:
            raise RuntimeError("DeadlineWatch.start() must be called from a task")
        loop = task.get_loop()
        watched = Watched(task)
        deadline = loop.time() + limit_s
        heap = self._heap
        heappush(heap, (deadline, next(self._seq), watched))
        self._live += 1
        if len(heap) > self._compact_at:
            heap[:] = [item for item in heap if item[2].active]
            heapify(heap)
            self._compact_at = max(1024, 2 * len(heap))
        if self._watchdog is None:
            self._watchdog = loop.create_task(self._run(loop))
        if deadline < self._armed_at:
            self._arm(loop, deadline)
        return watched

    def finish(self, watched: Watched) -> None:
        """The watched task is done with its work: its deadline no longer applies."""
        if watched.active:
            watched.active = False
            self._live -= 1

    def close(self) -> bool:
        """End the watchdog if no watched task is running; say whether it was ended."""
        if self._live:
            return False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._armed_at = float("inf")
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        self._heap.clear()
        return True

    def __len__(self) -> int:
        """How many watched tasks are still running."""
        return self._live

    def _arm(self, loop: asyncio.AbstractEventLoop, when: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._armed_at = when
        self._timer = loop.call_at(when, self._fire)

    def _fire(self) -> None:
        self._timer = None
        self._armed_at = float("inf")
        self._fired = True  # seen by the watchdog even if it is not waiting yet
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        heap = self._heap
        try:
            while True:
                if not self._fired:
                    waiter: asyncio.Future[None] = loop.create_future()
                    self._waiter = waiter
                    await waiter
                    self._waiter = None
                self._fired = False
                now = loop.time() + _DEADLINE_SLACK_S
                while heap and (heap[0][0] <= now or not heap[0][2].active):
                    watched = heappop(heap)[2]
                    if watched.active:
                        watched.overran = True
                        watched.task.cancel()
                if heap and heap[0][0] < self._armed_at:
                    self._arm(loop, heap[0][0])
        finally:
            self._waiter = None
            if self._watchdog is asyncio.current_task():
                self._watchdog = None

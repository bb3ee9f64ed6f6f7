"""The limits on probing: rate per destination, concurrency cap, deadlines."""

from __future__ import annotations

import asyncio
import time

import pytest

from netvigil.ratelimit import ConcurrencyCap, DeadlineWatch, RateGuard, default_burst


def test_burst_then_one_per_interval() -> None:
    guard = RateGuard(rate=10.0, burst=3)
    delays = [guard.reserve("h", 100.0) for _ in range(6)]
    assert delays == pytest.approx([0.0, 0.0, 0.0, 0.1, 0.2, 0.3])


def test_long_run_rate_is_capped_whatever_the_demand() -> None:
    guard = RateGuard(rate=5.0, burst=2)
    starts = [100.0 + guard.reserve("h", 100.0) for _ in range(50)]
    assert starts[-1] - starts[0] == pytest.approx((50 - 2) / 5.0)


def test_keys_are_independent() -> None:
    guard = RateGuard(rate=1.0, burst=1)
    assert guard.reserve("a", 0.0) == 0.0
    assert guard.reserve("a", 0.0) == pytest.approx(1.0)
    assert guard.reserve("b", 0.0) == 0.0


def test_a_quiet_key_gets_its_burst_back() -> None:
    guard = RateGuard(rate=2.0, burst=2)
    for _ in range(4):
        guard.reserve("h", 0.0)
    assert guard.reserve("h", 10.0) == 0.0
    assert guard.reserve("h", 10.0) == 0.0
    assert guard.reserve("h", 10.0) == pytest.approx(0.5)


def test_memory_is_bounded_by_recently_probed_keys() -> None:
    guard = RateGuard(rate=10.0)
    for i in range(100_000):
        guard.reserve(f"host{i}", i * 0.001)  # each key used once, 1,000 keys per second
    assert len(guard) <= 4096
    assert guard.prune(1e9) > 0
    assert len(guard) == 0


def test_default_burst_is_small() -> None:
    assert default_burst(0.2) == 1.0
    assert default_burst(3.0) == 3.0
    assert default_burst(1000.0) == 5.0


@pytest.mark.parametrize(("rate", "burst"), [(0.0, None), (-1.0, None), (1.0, 0.5)])
def test_bad_settings_are_refused(rate: float, burst: float | None) -> None:
    with pytest.raises(ValueError, match="must be"):
        RateGuard(rate, burst)


async def test_cap_hands_slots_over_in_order_and_survives_cancelled_waiters() -> None:
    cap = ConcurrencyCap(1)
    assert cap.try_acquire()
    assert not cap.try_acquire()
    order: list[str] = []

    async def wait(name: str) -> None:
        await cap.acquire()
        order.append(name)

    first = asyncio.create_task(wait("first"))
    gone = asyncio.create_task(wait("gone"))
    last = asyncio.create_task(wait("last"))
    await asyncio.sleep(0)
    gone.cancel()
    await asyncio.sleep(0)
    cap.release()  # -> first
    await first
    cap.release()  # -> last ("gone" left the queue)
    await last
    assert order == ["first", "last"]
    cap.release()
    assert cap.used == 0
    assert cap.try_acquire()


async def test_deadline_watch_cancels_only_what_overruns() -> None:
    watch = DeadlineWatch()

    async def work(seconds: float, limit: float) -> str:
        watched = watch.start(limit)
        try:
            await asyncio.sleep(seconds)
            return "done"
        except asyncio.CancelledError:
            assert watched.overran
            return "cut off"
        finally:
            watch.finish(watched)

    started = time.monotonic()
    results = await asyncio.gather(work(10.0, 0.05), work(0.01, 1.0), work(0.02, 0.5))
    assert results == ["cut off", "done", "done"]
    assert 0.04 <= time.monotonic() - started < 0.5
    assert len(watch) == 0
    assert watch.close() is True
    assert watch._watchdog is None


async def test_deadline_watch_leaves_outside_cancellation_alone() -> None:
    watch = DeadlineWatch()
    seen: list[bool] = []

    async def work() -> None:
        watched = watch.start(5.0)
        try:
            await asyncio.sleep(10.0)
        except asyncio.CancelledError:
            seen.append(watched.overran)
            raise
        finally:
            watch.finish(watched)

    task = asyncio.create_task(work())
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert seen == [False]


async def test_deadline_watch_memory_follows_tasks_in_flight() -> None:
    watch = DeadlineWatch()

    async def quick() -> None:
        watched = watch.start(30.0)
        watch.finish(watched)
        await asyncio.sleep(0)

    async def hold(event: asyncio.Event) -> None:
        watched = watch.start(30.0)
        try:
            await event.wait()
        finally:
            watch.finish(watched)

    release = asyncio.Event()
    holder = asyncio.create_task(hold(release))
    await asyncio.sleep(0)
    for _ in range(5000):
        await quick()
    assert len(watch) == 1
    assert len(watch._heap) <= 2048  # finished entries were compacted away
    assert watch.close() is False  # one task is still watched
    release.set()
    await holder
    assert watch.close() is True

"""Adding, removing and replacing targets, before and while the scheduler runs."""

from __future__ import annotations

import asyncio
import time

from schedfakes import FakeProbe, ManualClock, tcp

from netvigil.config.model import SchedulerConfig
from netvigil.metrics import Metrics
from netvigil.model import Observation
from netvigil.probes import TargetSpec
from netvigil.scheduler import Scheduler

Result = tuple[TargetSpec, Observation, float, float]


def make(probe: FakeProbe, clock: ManualClock | None = None, **kw: object) -> Scheduler:
    return Scheduler(
        SchedulerConfig(jitter=0.0, per_address_rate=1e6),
        probe,
        lambda *_: None,
        now=clock,
        wall=(lambda: 5000.0) if clock is not None else time.time,
        **kw,  # type: ignore[arg-type]
    )


async def test_targets_added_and_removed_while_running() -> None:
    probe = FakeProbe()
    metrics = Metrics()
    sched = make(probe, metrics=metrics)
    sched.add(tcp("a", interval=0.03))
    stop = asyncio.Event()
    task = asyncio.create_task(sched.run(stop))
    await asyncio.sleep(0.15)
    assert probe.starts("a")
    assert not probe.starts("b")

    added = time.monotonic()
    sched.add(tcp("b", interval=0.03, host="127.0.0.2"))
    assert metrics.registry.get_sample_value("netvigil_targets") == 2
    await asyncio.sleep(0.15)
    assert len(probe.starts("b")) >= 3
    assert min(probe.starts("b")) >= added

    assert sched.remove("a") is True
    assert sched.remove("a") is False
    removed = time.monotonic()
    await asyncio.sleep(0.15)
    stop.set()
    await asyncio.wait_for(task, 2.0)
    # A run dispatched just before the removal may still begin; nothing after that.
    assert len([s for s in probe.starts("a") if s > removed]) <= 1
    assert max(probe.starts("b")) > removed
    assert len(sched) == 1
    assert "b" in sched
    assert "a" not in sched


async def test_an_idle_scheduler_wakes_for_a_new_target() -> None:
    probe = FakeProbe()
    sched = make(probe)
    stop = asyncio.Event()
    task = asyncio.create_task(sched.run(stop))
    await asyncio.sleep(0.05)  # no targets: the loop sleeps without a deadline
    sched.add(tcp("late", interval=0.02))
    await asyncio.sleep(0.1)
    stop.set()
    await asyncio.wait_for(task, 2.0)
    assert len(probe.starts("late")) >= 2


def test_set_targets_keeps_the_rhythm_of_unchanged_targets(clock: ManualClock) -> None:
    sched = make(FakeProbe(), clock)
    sched.set_targets([tcp("keep", interval=10), tcp("retime", interval=10), tcp("gone")])
    keep_due, retime_due = sched.due("keep"), sched.due("retime")
    clock.advance(3.0)

    sched.set_targets(
        [
            tcp("keep", interval=10, timeout=2.0),  # same interval: same place in the schedule
            tcp("retime", interval=20),  # new interval: moves to its phase on the new grid
            tcp("new", interval=10),
        ]
    )
    assert sorted(s.name for s in sched.targets) == ["keep", "new", "retime"]
    assert sched.due("keep") == keep_due
    assert next(s for s in sched.targets if s.name == "keep").timeout_s == 2.0
    assert sched.due("retime") != retime_due
    assert clock.t <= sched.due("retime") < clock.t + 20  # type: ignore[operator]
    assert sched.due("gone") is None


async def test_a_replaced_spec_is_used_from_the_next_run(clock: ManualClock) -> None:
    probe = FakeProbe(clock=clock)
    sched = make(probe, clock)
    sched.add(tcp("a", interval=1.0, host="127.0.0.1"))
    sched.add(tcp("a", interval=1.0, host="127.0.0.9"))
    assert len(sched) == 1
    clock.advance(1.0)
    await sched.dispatch_due()
    await asyncio.sleep(0)
    assert [c.destination for c in probe.calls] == ["127.0.0.9"]
    await sched.drain()


def test_removed_targets_do_not_pile_up_in_the_heap(clock: ManualClock) -> None:
    sched = make(FakeProbe(), clock)
    sched.set_targets([tcp(f"t{i}") for i in range(3000)])
    for i in range(2900):
        sched.remove(f"t{i}")
    assert len(sched) == 100
    # Compacted whenever stale items outnumber live ones (and pass 1024).
    assert len(sched._table.heap) <= 2 * len(sched) + 1025
    assert len(sched._table.heap) < 1000
    assert sched.next_due() is not None

"""When the scheduler runs targets: phase spread, intervals, jitter, lag, catch-up."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections import Counter

import pytest
from schedfakes import FakeProbe, ManualClock, tcp

from netvigil.config.model import SchedulerConfig
from netvigil.metrics import Metrics
from netvigil.model import Observation
from netvigil.probes import TargetSpec
from netvigil.scheduler import OVERRAN_ERROR, Scheduler, phase_of

Result = tuple[TargetSpec, Observation, float, float]


def make(
    clock: ManualClock,
    probe: FakeProbe,
    *,
    jitter: float = 0.0,
    wall: float = 5000.0,
    metrics: Metrics | None = None,
    results: list[Result] | None = None,
    seed: int = 1,
) -> Scheduler:
    sink = results if results is not None else []
    return Scheduler(
        SchedulerConfig(jitter=jitter, per_address_rate=1e6),
        probe,
        lambda spec, obs, ts, dur: sink.append((spec, obs, ts, dur)),
        now=clock,
        wall=lambda: wall + (clock.t - 1000.0),
        rng=random.Random(seed),
        metrics=metrics,
        grace_s=0.05,
    )


async def settle() -> None:
    """Let the probe tasks that dispatch_due created run to their end."""
    for _ in range(3):
        await asyncio.sleep(0)


async def drive(sched: Scheduler, clock: ManualClock, seconds: float, step: float) -> None:
    end = clock.t + seconds
    while clock.t < end:
        await sched.dispatch_due()
        await settle()
        clock.advance(step)


def test_phase_is_stable_and_in_unit_interval() -> None:
    assert phase_of("e-albania-portal") == phase_of("e-albania-portal")
    assert phase_of("a") != phase_of("b")
    assert all(0.0 <= phase_of(f"t{i}") < 1.0 for i in range(1000))


def test_first_runs_spread_evenly_over_the_interval(clock: ManualClock) -> None:
    sched = make(clock, FakeProbe(clock=clock))
    names = [f"target-{i}" for i in range(2000)]
    sched.set_targets([tcp(n, interval=10.0) for n in names])
    offsets = [sched.due(n) - clock.t for n in names]  # type: ignore[operator]
    assert all(0.0 <= o < 10.0 for o in offsets)
    per_second = Counter(int(o) for o in offsets)
    assert sorted(per_second) == list(range(10))
    assert all(160 <= n <= 240 for n in per_second.values()), per_second  # 200 each if even


def test_first_runs_are_deterministic_and_keep_their_wall_clock_phase() -> None:
    names = [f"t{i}" for i in range(200)]
    specs = [tcp(n, interval=30.0) for n in names]
    a_clock, b_clock = ManualClock(1000.0), ManualClock(1000.0)
    a = make(a_clock, FakeProbe(), wall=5000.0)
    b = make(b_clock, FakeProbe(), wall=5000.0)
    a.set_targets(specs)
    b.set_targets(specs)
    assert [a.due(n) for n in names] == [b.due(n) for n in names]

    # A restart 1234.5 s later (another monotonic origin) keeps each target's wall phase.
    c_clock = ManualClock(77.0)
    c = make(c_clock, FakeProbe(), wall=5000.0 + 1234.5 + (1000.0 - 77.0))
    c.set_targets(specs)
    for n in names:
        wall_a = a.due(n) - 1000.0 + 5000.0  # type: ignore[operator]
        wall_c = c.due(n) - 77.0 + 5000.0 + 1234.5  # type: ignore[operator]
        drift = (wall_c - wall_a) % 30.0
        assert min(drift, 30.0 - drift) < 1e-6
        assert 0.0 <= c.due(n) - 77.0 < 30.0  # type: ignore[operator]


async def test_intervals_stay_within_jitter_and_do_not_drift(clock: ManualClock) -> None:
    probe = FakeProbe(clock=clock)
    sched = make(clock, probe, jitter=0.2)
    sched.set_targets([tcp(f"t{i}", interval=1.0) for i in range(10)])
    step = 0.005
    await drive(sched, clock, 40.0, step)
    runs = probe.by_name()
    assert len(runs) == 10
    all_gaps: list[float] = []
    for calls in runs.values():
        starts = [c.start for c in calls]
        assert 39 <= len(starts) <= 41
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        assert all(0.8 - step <= g <= 1.2 + step for g in gaps), gaps
        # No drift: run k stays within jitter/2 of the grid laid from the first run.
        assert all(abs(s - (starts[0] + k)) <= 0.1 + step for k, s in enumerate(starts))
        all_gaps.extend(gaps)
    assert max(all_gaps) - min(all_gaps) > 0.2  # jitter is really applied
    assert sched.skipped == 0
    await sched.drain()


async def test_without_jitter_runs_sit_exactly_on_the_grid(clock: ManualClock) -> None:
    probe = FakeProbe(clock=clock)
    sched = make(clock, probe)
    sched.add(tcp("a", interval=0.5))
    first = sched.due("a")
    assert first is not None
    for k in range(6):
        clock.t = first + k * 0.5
        await sched.dispatch_due()
        await settle()
    assert probe.starts("a") == pytest.approx([first + k * 0.5 for k in range(6)])
    await sched.drain()


async def test_lag_is_start_minus_due_in_summary_and_histogram(clock: ManualClock) -> None:
    metrics = Metrics()
    sched = make(clock, FakeProbe(clock=clock), metrics=metrics)
    sched.add(tcp("a", interval=10.0))
    due = sched.due("a")
    assert due is not None
    assert sched.lag_summary().count == 0
    clock.t = due + 0.25
    await sched.dispatch_due()
    await settle()
    lag = sched.lag_summary()
    assert lag.count == 1
    assert lag.p50_s == pytest.approx(0.25)
    assert lag.max_s == pytest.approx(0.25)
    assert metrics.schedule_lag.count == 1
    assert metrics.schedule_lag.sum == pytest.approx(0.25)
    sample = metrics.registry.get_sample_value
    assert sample("netvigil_schedule_lag_seconds_bucket", {"le": "0.1"}) == 0
    assert sample("netvigil_schedule_lag_seconds_bucket", {"le": "0.25"}) == 1
    await sched.drain()


async def test_a_stalled_loop_skips_missed_runs_instead_of_bursting(clock: ManualClock) -> None:
    probe = FakeProbe(clock=clock)
    metrics = Metrics()
    sched = make(clock, probe, metrics=metrics)
    sched.add(tcp("a", interval=1.0))
    first = sched.due("a")
    assert first is not None
    clock.t = first + 5.5  # the loop was stalled for five and a half intervals
    await sched.dispatch_due()
    await settle()
    assert len(probe.calls) == 1
    assert sched.skipped == 5
    assert sched.due("a") == pytest.approx(first + 6.0)
    assert metrics.registry.get_sample_value("netvigil_skipped_runs_total") == 5
    await sched.drain()


async def test_a_run_still_in_flight_when_due_again_is_skipped_and_counted(
    clock: ManualClock,
) -> None:
    probe = FakeProbe(clock=clock, hang={"a"})
    metrics = Metrics()
    results: list[Result] = []
    sched = make(clock, probe, metrics=metrics, results=results)
    sched.add(tcp("a", interval=1.0, timeout=0.1))
    first = sched.due("a")
    assert first is not None
    for k in range(3):
        clock.t = first + k
        await sched.dispatch_due()
        await settle()
    assert len(probe.calls) == 1
    assert sched.skipped == 2
    assert metrics.registry.get_sample_value("netvigil_skipped_runs_total") == 2
    await sched.drain()  # the hung probe is abandoned after timeout_s + grace_s
    assert [r[1].detail["error"] for r in results] == [OVERRAN_ERROR]


async def test_many_targets_dispatch_only_what_is_due(clock: ManualClock) -> None:
    probe = FakeProbe(clock=clock)
    sched = make(clock, probe)
    hosts = [f"127.0.{i >> 8}.{i & 255}" for i in range(20_000)]
    sched.set_targets([tcp(f"t{i}", interval=60.0, host=h) for i, h in enumerate(hosts)])
    clock.advance(1.0)
    await sched.dispatch_due()
    await settle()
    assert 333 - 60 <= len(probe.calls) <= 333 + 60  # 20,000 targets / 60 s
    assert sched.dispatched == len(probe.calls)
    next_due = sched.next_due()
    assert next_due is not None
    assert next_due > clock.t
    await sched.drain()

"""The guards around each probe: concurrency cap, per-destination rate, deadlines (real time)."""

from __future__ import annotations

import asyncio
import itertools
import time

from schedfakes import FakeProbe, tcp

from netvigil.config.model import SchedulerConfig
from netvigil.metrics import Metrics
from netvigil.model import Observation
from netvigil.outcome import Outcome, Phase
from netvigil.probes import TargetSpec
from netvigil.scheduler import OVERRAN_ERROR, Scheduler

Result = tuple[TargetSpec, Observation, float, float]


def make(
    probe: FakeProbe,
    results: list[Result],
    *,
    concurrency: int = 100,
    rate: float = 1e6,
    metrics: Metrics | None = None,
    grace_s: float = 0.05,
) -> Scheduler:
    return Scheduler(
        SchedulerConfig(concurrency=concurrency, per_address_rate=rate, jitter=0.0),
        probe,
        lambda spec, obs, ts, dur: results.append((spec, obs, ts, dur)),
        metrics=metrics,
        grace_s=grace_s,
    )


async def run_for(sched: Scheduler, seconds: float) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(sched.run(stop))
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.wait_for(task, 5.0)


async def test_concurrency_cap_is_never_exceeded() -> None:
    probe = FakeProbe(delays={f"t{i}": 0.04 for i in range(12)})
    results: list[Result] = []
    metrics = Metrics()
    sched = make(probe, results, concurrency=3, metrics=metrics)
    sched.set_targets([tcp(f"t{i}", interval=0.05, host=f"127.0.0.{i + 1}") for i in range(12)])
    seen: list[int] = []

    async def watch() -> None:
        while True:
            seen.append(sched.in_flight)
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    await run_for(sched, 0.5)
    watcher.cancel()
    assert probe.max_in_flight == 3  # the cap was reached...
    assert max(seen) <= 3  # ...and never passed
    assert len(results) >= 20
    assert sched.in_flight == 0
    assert metrics.registry.get_sample_value("netvigil_checks_in_flight") == 0


async def test_rate_guard_caps_one_destination_while_others_proceed() -> None:
    busy = [tcp(f"busy{i}", interval=0.1, host="127.0.0.1") for i in range(8)]  # wants 80/s
    calm = tcp("calm", interval=0.05, host="127.0.0.2")  # wants 20/s
    probe = FakeProbe()
    results: list[Result] = []
    sched = make(probe, results, rate=20.0)  # burst 5
    sched.set_targets([*busy, calm])
    await run_for(sched, 1.0)

    busy_starts = sorted(c.start for c in probe.calls if c.destination == "127.0.0.1")
    # In any window, at most rate * window + burst probes (+1 for timer slop).
    for i in range(len(busy_starts)):
        for j in range(i, len(busy_starts)):
            window = busy_starts[j] - busy_starts[i]
            assert j - i + 1 <= 20.0 * window + 5 + 1
    assert 15 <= len(busy_starts) <= 27  # the rate was used, not more
    assert sched.skipped > 0  # delayed runs kept their targets busy

    calm_starts = probe.starts("calm")
    assert len(calm_starts) >= 14  # ~20 expected: not held up by the busy host
    gaps = [b - a for a, b in itertools.pairwise(calm_starts)]
    assert max(gaps) < 0.12


async def test_a_hanging_probe_yields_an_overran_measurement_and_delays_no_one() -> None:
    probe = FakeProbe(hang={"hang"})
    results: list[Result] = []
    sched = make(probe, results, grace_s=0.05)
    sched.set_targets(
        [tcp("hang", interval=0.05, timeout=0.1), tcp("fast", interval=0.05, host="127.0.0.2")]
    )
    await run_for(sched, 0.6)

    hung = [(obs, dur) for spec, obs, _, dur in results if spec.name == "hang"]
    assert hung
    for obs, dur in hung:
        assert obs.ok is False
        assert obs.outcome is Outcome.UNKNOWN
        assert obs.detail["error"] == OVERRAN_ERROR
        assert 0.14 <= obs.timings["total"] < 0.5
        assert 0.14 <= dur < 0.5
    fast = probe.starts("fast")
    assert len(fast) >= 8  # ~12 expected in 0.6 s
    assert max(b - a for a, b in itertools.pairwise(fast)) < 0.12
    assert sched.lag_summary().p50_s < 0.03


async def test_a_probe_that_raises_still_yields_a_measurement() -> None:
    probe = FakeProbe(raise_for={"buggy"})
    results: list[Result] = []
    sched = make(probe, results)
    obs, ts, dur = await sched.check(tcp("buggy"))
    assert obs.outcome is Outcome.UNKNOWN
    assert obs.detail["error"] == "probe raised RuntimeError: fake probe bug"
    assert abs(ts - time.time()) < 5
    assert dur >= 0


async def test_a_probe_that_times_out_by_itself_keeps_its_outcome_and_phase() -> None:
    own = Observation(ok=False, outcome=Outcome.TCP_TIMEOUT, phase=Phase.CONNECT)
    probe = FakeProbe(results={"slow": own}, delays={"slow": 0.05})
    sched = make(probe, [])
    obs, _, dur = await sched.check(tcp("slow", timeout=0.05))
    assert obs is own  # returned within timeout_s + grace: passed through as is
    assert dur >= 0.04


async def test_an_overrunning_target_is_skipped_and_counted_never_doubled() -> None:
    probe = FakeProbe(delays={"slow": 0.12})
    results: list[Result] = []
    metrics = Metrics()
    sched = make(probe, results, metrics=metrics)
    sched.add(tcp("slow", interval=0.05, timeout=1.0))
    await run_for(sched, 0.6)
    calls = probe.by_name()["slow"]
    assert 3 <= len(calls) <= 6
    for before, after in itertools.pairwise(calls):
        assert before.end is not None
        assert after.start >= before.end  # never two runs of one target at once
    assert sched.skipped >= 4
    assert metrics.registry.get_sample_value("netvigil_skipped_runs_total") == sched.skipped
    assert probe.max_in_flight == 1


async def test_stop_drains_running_probes_and_cancels_waiting_ones() -> None:
    probe = FakeProbe(delays={"a": 0.15, "b": 0.15})
    results: list[Result] = []
    sched = make(probe, results, rate=0.5)  # the second target on one host waits 2 s
    sched.set_targets(
        [tcp("a", interval=0.05, host="127.0.0.1"), tcp("b", interval=0.05, host="127.0.0.1")]
    )
    stop = asyncio.Event()
    task = asyncio.create_task(sched.run(stop))
    await asyncio.sleep(0.1)
    started = time.monotonic()
    stop.set()
    await asyncio.wait_for(task, 2.0)
    assert time.monotonic() - started < 1.0  # did not wait out the rate delay
    assert len(results) == 1  # the running probe finished and was reported
    assert results[0][1].ok
    assert sched.in_flight == 0

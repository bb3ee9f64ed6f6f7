"""Exact watermarks: the local vantage's measurements go as soon as no older probe is in
flight, an agent's as soon as it has marked that nothing older is on its way; an agent
that does not mark keeps the lateness rule, and so does one the config names until it
has been heard from."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from netvigil.config.model import Config, SchedulerConfig
from netvigil.detect.local_watermark import LocalWatermark
from netvigil.detect.reorder import ReorderBuffer
from netvigil.model import Measurement, Observation, new_measurement_id
from netvigil.monitor import Monitor
from netvigil.outcome import Outcome
from netvigil.pipeline.detection import LiveDetection
from netvigil.probes import TargetSpec, TCPSpec

LATENESS = 5.0


def meas(vantage: str, ts: float, target: str = "t") -> Measurement:
    return Measurement(
        id=new_measurement_id(),
        ts=ts,
        vantage=vantage,
        target=target,
        kind="tcp",
        ok=True,
        outcome=Outcome.OK,
    )


class InFlight:
    """A scheduler's watermark by hand: the oldest start in flight, or `now`."""

    def __init__(self, now: float) -> None:
        self.now = now
        self.starts: list[float] = []

    def __call__(self) -> float:
        return min(self.starts, default=self.now)


def followed(in_flight: InFlight) -> tuple[ReorderBuffer, LocalWatermark]:
    buffer = ReorderBuffer(LATENESS)
    local = LocalWatermark("local", in_flight)
    buffer.follow(local)
    return buffer, local


def hand_on(buffer: ReorderBuffer, local: LocalWatermark, m: Measurement) -> list[Measurement]:
    """What detection does with one of the local vantage's results (as `Detector.feed`)."""
    local.note(m)
    buffer.push(m)
    return buffer.release(buffer.watermark)


def test_a_result_goes_as_soon_as_no_older_probe_is_in_flight() -> None:
    clock = InFlight(now=100.0)
    buffer, local = followed(clock)
    clock.starts = [100.0, 101.0]  # a (slow) and b in flight
    clock.starts.remove(101.0)
    clock.now = 101.2
    b = meas("local", 101.0, "b")
    assert hand_on(buffer, local, b) == []  # a started earlier and is still in flight
    assert buffer.watermark == 100.0  # not 101 - 5 = 96: the oldest start in flight
    clock.starts.remove(100.0)
    clock.now = 103.0
    a = meas("local", 100.0, "a")
    assert hand_on(buffer, local, a) == [a, b]  # in (ts, id) order, at once
    assert buffer.watermark == 103.0
    assert buffer.late == 0


def test_without_the_exact_mark_the_same_results_wait_out_the_lateness() -> None:
    buffer = ReorderBuffer(LATENESS)
    for m in (meas("local", 101.0, "b"), meas("local", 100.0, "a")):
        buffer.push(m)
        assert buffer.release(buffer.watermark) == []
    assert buffer.watermark == 101.0 - LATENESS


def test_agents_keep_the_lateness_rule() -> None:
    clock = InFlight(now=110.0)
    buffer, local = followed(clock)
    buffer.push(meas("agent-de", 108.0))
    mine = meas("local", 109.0)
    assert hand_on(buffer, local, mine) == []
    assert buffer.watermark == 108.0 - LATENESS  # the agent's point holds it back
    agent = meas("agent-de", 115.0)
    buffer.push(agent)
    # Now the local mark (nothing was in flight at 110) holds it, not the agent's 110 alone.
    assert buffer.watermark == 110.0
    assert [m.ts for m in buffer.release(buffer.watermark)] == [108.0, 109.0]


def test_an_agents_mark_releases_its_measurements_at_once() -> None:
    clock = InFlight(now=110.0)
    buffer, local = followed(clock)
    agent = meas("agent-de", 108.0)
    buffer.push(agent)
    mine = meas("local", 109.0)
    assert hand_on(buffer, local, mine) == []  # the agent's lateness holds it
    buffer.mark("agent-de", 109.5)  # nothing older than 109.5 is still to come from it
    assert buffer.watermark == 109.5
    assert buffer.release(buffer.watermark) == [agent, mine]
    assert buffer.late == 0


def test_an_agent_that_stops_marking_falls_back_to_the_lateness_rule() -> None:
    buffer = ReorderBuffer(LATENESS)
    buffer.push(meas("de", 100.0))
    buffer.mark("de", 100.5)
    buffer.push(meas("fr", 100.2))
    buffer.mark("fr", 100.6)
    assert buffer.watermark == 100.5
    buffer.push(meas("de", 120.0))  # no mark with it (an agent of an older version)
    buffer.mark("fr", 121.0)
    assert buffer.watermark == 120.0 - LATENESS  # its old mark is behind its lateness point
    late = meas("de", 114.0)
    assert buffer.push(late)  # still in time by the lateness rule


def test_a_mark_far_ahead_makes_no_other_vantage_late() -> None:
    buffer = ReorderBuffer(LATENESS)
    buffer.push(meas("de", 100.0))
    buffer.mark("de", 101.0)
    buffer.push(meas("it", 100.2))
    buffer.mark("it", 101.5)
    buffer.push(meas("fr", 100.0))
    buffer.mark("fr", 5000.0)  # a clock (or a bug) far ahead
    assert buffer.watermark == 101.0  # the slowest vantage that keeps up holds it
    assert buffer.push(meas("de", 101.0))
    assert buffer.push(meas("it", 101.4))


def test_an_expected_agent_not_yet_heard_from_holds_the_lateness_rule() -> None:
    clock = InFlight(now=200.0)
    buffer, local = followed(clock)
    buffer.expect(["de"])
    mine = meas("local", 199.0)
    assert hand_on(buffer, local, mine) == []
    assert buffer.watermark == 199.0 - LATENESS  # "de" may still send anything since 194
    assert buffer.release(200.0 - LATENESS) == []  # the timer: now - lateness, no further
    buffer.mark("de", 199.5)  # it announces itself: nothing of it older than 199.5 will come
    assert buffer.watermark == 199.5
    first = meas("de", 199.2)  # its batch, sent with that mark
    assert buffer.push(first)  # not late
    assert buffer.release(buffer.watermark) == [mine, first]
    assert buffer.late == 0


def test_an_expected_agent_seen_first_by_its_results_counts_from_them() -> None:
    buffer = ReorderBuffer(LATENESS)
    buffer.expect(["de", "fr"])
    buffer.push(meas("de", 300.0))
    buffer.mark("de", 300.5)
    assert buffer.watermark == 300.0 - LATENESS  # "fr" not heard from yet
    buffer.push(meas("fr", 300.2))  # no mark: the lateness rule for it
    assert buffer.watermark == 300.2 - LATENESS
    buffer.mark("fr", 300.3)
    assert buffer.watermark == 300.3


def test_the_timer_releases_up_to_the_mark_between_results() -> None:
    clock = InFlight(now=200.0)
    buffer, local = followed(clock)
    clock.starts = [199.0]
    m = meas("local", 200.0)
    assert hand_on(buffer, local, m) == []
    assert buffer.release(150.0) == []  # the timer's advance(now) asks for now - lateness
    clock.starts = []
    clock.now = 200.5
    assert buffer.release(200.5 - LATENESS) == [m]  # nothing in flight: up to now
    assert buffer.processed_to == 200.5


def test_the_timer_never_passes_a_result_still_on_its_way() -> None:
    clock = InFlight(now=300.0)
    buffer, local = followed(clock)
    clock.starts = [299.5]
    first = meas("local", 299.0)
    assert hand_on(buffer, local, first) == [first]
    assert buffer.watermark == 299.5
    clock.starts = []  # that probe ended: its result is handed on, but not yet in the buffer
    on_its_way = meas("local", 299.5)
    local.note(on_its_way)
    clock.now = 301.0
    assert buffer.release(301.0 - LATENESS) == []
    assert buffer.watermark == 299.5  # the mark waits for it
    assert buffer.push(on_its_way)  # not late
    assert buffer.release(buffer.watermark) == [on_its_way]


def test_a_dropped_measurement_does_not_stop_the_marks() -> None:
    clock = InFlight(now=400.0)
    buffer, local = followed(clock)
    dropped = meas("local", 399.0)
    local.note(dropped)  # a full queue dropped it: never pushed
    clock.now = 401.0
    kept = meas("local", 400.5)
    assert hand_on(buffer, local, kept) == [kept]
    assert len(local) == 0


class _Clock:
    """A clock that moves only when told to."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


class _Probe:
    """Answers ok; the target `slow` after `slow_s` of real time."""

    def __init__(self, slow_s: float) -> None:
        self.slow_s = slow_s

    async def measure(self, spec: TargetSpec) -> Observation:
        if spec.name == "slow":
            await asyncio.sleep(self.slow_s)
        return Observation(ok=True, outcome=Outcome.OK, timings={"total": 0.001})


class _Store:
    """What LiveDetection asks of a store when no incident happens."""

    async def incidents(self, query: Any) -> list[Any]:
        return []

    def submit_incident_event(self, event: Any) -> None:
        pass


@pytest.mark.parametrize("threaded", [False, True])
async def test_live_detection_takes_the_schedulers_watermark(threaded: bool) -> None:
    """A real scheduler (fake probe, hand-driven clock) feeding live detection."""
    clock = _Clock()

    def wall() -> float:
        return 5000.0 + (clock.t - 1000.0)

    slow = TCPSpec(name="slow", host="127.0.0.1", port=9, interval_s=60, control=True)
    fast = TCPSpec(name="fast", host="127.0.0.2", port=9, interval_s=60, control=True)
    config = Config(targets=[slow, fast])
    detection = LiveDetection(
        config,
        _Store(),  # type: ignore[arg-type]
        lateness_s=30.0,
        tick_s=0.1,
        clock=wall,
        threaded=threaded,
    )
    await detection.start()
    monitor = Monitor(
        [slow], _Probe(0.3), [detection], "local", SchedulerConfig(jitter=0.0), now=clock, wall=wall
    )
    detection.follow_local("local", monitor.scheduler.watermark)
    sched = monitor.scheduler
    try:
        clock.t = sched.due("slow")  # type: ignore[assignment]
        slow_start = wall()
        await sched.dispatch_due()
        await asyncio.sleep(0)  # the slow probe starts: in flight for 0.3 s of real time
        clock.t += 2.0
        fast_m = (await monitor.run_once([fast]))[0]
        await _settle(detection, 1)
        assert detection.detector.watermark == slow_start  # held by the probe in flight
        clock.t += 1.0
        await _settle(detection, 2, timeout_s=5.0)
        deadline = time.monotonic() + 5.0
        while detection.detector.watermark <= fast_m.ts and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        # Both results taken as soon as the slow one came in: not 30 s of lateness later.
        assert detection.detector.watermark > fast_m.ts
        assert detection.detector.late == 0
    finally:
        await detection.stop()


async def _settle(detection: LiveDetection, count: int, timeout_s: float = 5.0) -> None:
    """Wait until `count` measurements reached detection (and its worker took them)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        worker = detection.worker
        if detection.stats.measurements >= count and (worker is None or worker.depth == 0):
            await asyncio.sleep(0.02)  # the worker's chunk in hand
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"{count} measurement(s) did not reach detection in {timeout_s} s")


async def test_an_agent_the_config_names_holds_the_lateness_rule_until_heard_from() -> None:
    """An agent may connect at any time: until it has, nothing is released sooner than its
    lateness; once it marks, the local vantage's exact watermark counts again."""
    spec = TCPSpec(name="t", host="127.0.0.1", port=9, interval_s=60, control=True)
    with_agent = Config.model_validate(
        {"targets": [spec.model_dump()], "agents": [{"name": "de", "token_sha256": "a" * 64}]}
    )
    alone = Config(targets=[spec])
    detection = LiveDetection(with_agent, _Store(), lateness_s=LATENESS)  # type: ignore[arg-type]
    now = [1000.0]
    detection.follow_local("local", lambda: now[0])
    detection.submit(meas("local", 990.0))
    assert detection.detector.watermark == 990.0 - LATENESS
    detection.reconfigure(alone)  # the agent is gone from the config: followed from now on
    detection.submit(meas("local", 995.0))
    assert detection.detector.watermark == 1000.0
    detection.reconfigure(with_agent)
    detection.submit(meas("local", 1001.0))
    assert detection.detector.watermark == 1000.0  # never back, and no further than the rule
    detection.submit(meas("local", 1010.0))
    assert detection.detector.watermark == 1010.0 - LATENESS
    now[0] = 1020.0
    detection.mark("de", 1015.0)  # the agent is heard from: nothing of it before 1015 is due
    assert detection.detector.watermark == 1015.0  # exact from now on: no lateness behind

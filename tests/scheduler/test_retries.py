"""Quick re-probes after a failed run, and the watermark of the runs in flight."""

from __future__ import annotations

import asyncio
import random
import time

import pytest
from schedfakes import FakeProbe, ManualClock, tcp

from netvigil.config import parse_config
from netvigil.config.model import SchedulerConfig
from netvigil.errors import ConfigError
from netvigil.model import Observation
from netvigil.outcome import Outcome, Phase
from netvigil.probes import ProbeSet, TargetSpec, TCPSpec
from netvigil.scheduler import DEFAULT_CONFIRM, Scheduler
from netvigil.state.health import HealthPolicy

Result = tuple[TargetSpec, Observation, float, float]
REFUSED = Observation(ok=False, outcome=Outcome.TCP_REFUSED, phase=Phase.CONNECT)


def make(
    clock: ManualClock,
    probe: object,
    results: list[Result],
    *,
    concurrency: int = 512,
    rate: float = 1e6,
    rate_burst: float | None = None,
) -> Scheduler:
    return Scheduler(
        SchedulerConfig(jitter=0.0, per_address_rate=rate, concurrency=concurrency),
        probe,  # type: ignore[arg-type]
        lambda spec, obs, ts, dur: results.append((spec, obs, ts, dur)),
        now=clock,
        wall=lambda: 5000.0 + (clock.t - 1000.0),
        rng=random.Random(1),
        grace_s=0.5,
        rate_burst=rate_burst,
    )


async def next_result(results: list[Result], count: int, timeout_s: float = 5.0) -> Result:
    """Wait (real time) until `results` holds `count` results; return the last."""
    deadline = time.monotonic() + timeout_s
    while len(results) < count:
        assert time.monotonic() < deadline, f"no result {count} within {timeout_s} s"
        await asyncio.sleep(0.005)
    return results[count - 1]


class Listener:
    """A loopback TCP listener that can be closed (connects refused) and opened again."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None

    async def open(self) -> None:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writer.close()

        self._server = await asyncio.start_server(
            answer, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None


def test_the_scheduler_stops_re_probing_where_the_detector_confirms() -> None:
    assert HealthPolicy().confirm == DEFAULT_CONFIRM


async def test_a_failing_target_is_re_probed_until_confirmed_then_keeps_its_grid() -> None:
    """A real loopback listener, closed and opened again; the schedule on a fake clock."""
    clock = ManualClock()
    listener = Listener()
    await listener.open()
    spec = TCPSpec(name="svc", host="127.0.0.1", port=listener.port, interval_s=30, timeout_s=2)
    assert spec.retry_s == 10.0  # a third of the interval
    results: list[Result] = []
    outcomes: list[str] = []
    try:
        async with ProbeSet() as probes:
            sched = make(clock, probes, results)
            sched.set_targets([spec])
            grid = sched.due("svc")
            assert grid is not None

            async def run_at(t: float, up: bool) -> float | None:
                """Run what is due at `t`; return when the target runs next."""
                clock.t = t
                if up and listener.port and listener._server is None:
                    await listener.open()
                if not up:
                    await listener.close()
                await sched.dispatch_due()
                _, obs, _, _ = await next_result(results, len(results) + 1)
                outcomes.append(obs.outcome.value)
                return sched.due("svc")

            assert await run_at(grid, True) == grid + 30  # healthy: every interval
            # The listener closes: two quick re-probes, then the grid again.
            assert await run_at(grid + 30, False) == grid + 40
            assert await run_at(grid + 40, False) == grid + 50
            assert await run_at(grid + 50, False) == grid + 60  # 3 in a row: confirmed
            assert await run_at(grid + 60, False) == grid + 90  # still down: no re-probes
            assert await run_at(grid + 90, True) == grid + 120  # recovered
            # A new episode: re-probed again; a success ends the re-probes at once.
            assert await run_at(grid + 120, False) == grid + 130
            assert await run_at(grid + 130, True) == grid + 150
            assert outcomes == ["ok"] + ["tcp_refused"] * 4 + ["ok", "tcp_refused", "ok"]
            assert sched.retries == 3
            assert sched.skipped == 0
    finally:
        await listener.close()


async def test_re_probes_are_bounded_per_failure_episode_and_within_the_cap() -> None:
    clock = ManualClock()
    n = 500
    probe = FakeProbe(clock=clock, results={f"t{i}": REFUSED for i in range(n)})
    results: list[Result] = []
    sched = make(clock, probe, results, concurrency=50)
    sched.set_targets([tcp(f"t{i}", interval=30.0) for i in range(n)])
    for _ in range(int(95 / 0.5)):  # three intervals and a bit, every half second
        await sched.dispatch_due()
        for _ in range(3):
            await asyncio.sleep(0)
        clock.advance(0.5)
    # Each target: one episode, confirm - 1 re-probes, then three or four regular runs.
    assert sched.retries == (DEFAULT_CONFIRM - 1) * n
    per_target = {len(probe.starts(f"t{i}")) for i in range(n)}
    assert per_target <= {DEFAULT_CONFIRM - 1 + 3, DEFAULT_CONFIRM - 1 + 4}
    for i in range(0, n, 50):
        starts = probe.starts(f"t{i}")
        # Re-probes 10 s after each failure (seen on the half-second steps), then the grid.
        assert 10.0 <= starts[1] - starts[0] <= 10.5
        assert 10.0 <= starts[2] - starts[1] <= 10.5
        assert abs(starts[3] - starts[0] - 30.0) < 0.5
    assert probe.max_in_flight <= 50
    assert sched.skipped == 0


async def test_a_re_probe_waits_for_the_rate_guard() -> None:
    clock = ManualClock()
    spec = TCPSpec(
        name="a", host="127.0.0.1", port=9, interval_s=30, timeout_s=1, retry_interval_s=0.1
    )
    probe = FakeProbe(clock=clock, results={"a": REFUSED})
    results: list[Result] = []
    # At most 5 probes a second to one host, no burst: a token every 0.2 s.
    sched = make(clock, probe, results, rate=5.0, rate_burst=1.0)
    sched.set_targets([spec])
    first = sched.due("a")
    assert first is not None
    clock.t = first
    await sched.dispatch_due()
    await next_result(results, 1)
    assert sched.due("a") == pytest.approx(first + 0.1)
    clock.t = first + 0.1  # the re-probe is due; the host's next token comes 0.1 s later
    began = time.monotonic()
    await sched.dispatch_due()
    assert len(probe.calls) == 1  # held back, not probing yet
    await next_result(results, 2)
    assert time.monotonic() - began >= 0.09


async def test_the_watermark_is_the_oldest_start_in_flight_until_handed_on() -> None:
    clock = ManualClock()
    probe = FakeProbe(clock=clock)
    seen: list[tuple[float, float]] = []
    sched: Scheduler | None = None

    def wall() -> float:
        return 5000.0 + (clock.t - 1000.0)

    def on_result(spec: TargetSpec, obs: Observation, ts: float, dur: float) -> None:
        assert sched is not None
        seen.append((ts, sched.watermark()))

    sched = Scheduler(
        SchedulerConfig(jitter=0.0, per_address_rate=1e6),
        probe,
        on_result,
        now=clock,
        wall=wall,
    )
    sched.set_targets([tcp("fast", interval=30.0)])
    assert sched.watermark() == wall()  # nothing in flight: now
    clock.t = sched.due("fast")  # type: ignore[assignment]
    await sched.dispatch_due()
    for _ in range(3):
        await asyncio.sleep(0)
    assert seen == [(wall(), wall())]  # its own run holds the mark until handed on
    clock.advance(1.0)
    assert sched.watermark() == wall()

    probe.hang.add("slow")
    slow = asyncio.ensure_future(sched.check(tcp("slow", timeout=60.0)))
    await asyncio.sleep(0)
    slow_start = wall()
    clock.advance(2.0)
    await sched.check(tcp("other"))
    assert sched.watermark() == slow_start  # a slow probe in flight holds it back
    slow.cancel()
    with pytest.raises(asyncio.CancelledError):
        await slow
    await asyncio.sleep(0)
    clock.advance(1.0)
    assert sched.watermark() == wall()


@pytest.mark.parametrize(
    ("interval", "retry", "expected"),
    [
        (60.0, None, 20.0),
        (10.0, None, 10.0 / 3.0),
        (2.0, None, 1.0),  # at least a second
        (1.0, None, 0.0),  # which is the interval itself: off
        (0.5, None, 0.0),
        (60.0, 0.0, 0.0),
        (60.0, 60.0, 0.0),
        (60.0, 5.0, 5.0),
        (60.0, 0.25, 0.25),
    ],
)
def test_retry_interval_defaults_and_switches(
    interval: float, retry: float | None, expected: float
) -> None:
    spec = TCPSpec(name="t", host="h", port=1, interval_s=interval, retry_interval_s=retry)
    assert spec.retry_s == pytest.approx(expected)


TARGET = """
[[services]]
name = "s"

[[targets]]
name = "t"
kind = "tcp"
host = "127.0.0.1"
port = 80
service = "s"
interval_s = 30
"""


@pytest.mark.parametrize(
    ("setting", "problem"),
    [
        (
            "retry_interval_s = 45",
            (
                "targets[0]",
                "retry_interval_s (45) must not exceed interval_s (30);"
                " 0 turns quick re-probes off",
            ),
        ),
        ("retry_interval_s = -1", ("targets[0].retry_interval_s", "greater than or equal to 0")),
        ('retry_interval_s = "soon"', ("targets[0].retry_interval_s", "valid number")),
    ],
)
def test_bad_retry_intervals_are_refused_with_their_place(
    setting: str, problem: tuple[str, str]
) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(TARGET + setting + "\n")
    [(where, message)] = info.value.problems
    assert where == problem[0]
    assert problem[1] in message


def test_retry_interval_in_defaults_reaches_every_target() -> None:
    config = parse_config("[defaults]\nretry_interval_s = 4\n" + TARGET)
    assert config.targets[0].retry_interval_s == 4.0
    assert config.targets[0].retry_s == 4.0
    with pytest.raises(ConfigError) as info:
        parse_config("[defaults]\nretry_interval_s = -2\n" + TARGET)
    assert [w for w, _ in info.value.problems] == ["defaults.retry_interval_s"]

"""The monitor: observations become measurements delivered to every sink; run_once; drain."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest

from netvigil.config.model import SchedulerConfig
from netvigil.metrics import Metrics
from netvigil.model import Measurement, Observation
from netvigil.monitor import MeasurementSink, Monitor
from netvigil.outcome import Outcome, Phase
from netvigil.probes import ProbeSet, TargetSpec, TCPSpec


class ScriptedProbe:
    """Sleeps `delay` then answers `ok`, or a refused connection for names starting 'down'."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.running = 0
        self.most = 0
        self.finished = 0

    async def measure(self, spec: TargetSpec) -> Observation:
        self.running += 1
        self.most = max(self.most, self.running)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.running -= 1
        self.finished += 1
        if spec.name.startswith("down"):
            return Observation(ok=False, outcome=Outcome.TCP_REFUSED, phase=Phase.CONNECT)
        return Observation(ok=True, outcome=Outcome.OK, timings={"total": self.delay})


class ListSink:
    def __init__(self) -> None:
        self.got: list[Measurement] = []

    def submit(self, m: Measurement) -> None:
        self.got.append(m)


class BrokenSink:
    def submit(self, m: Measurement) -> None:
        raise RuntimeError("queue closed")


def tcp(name: str, *, interval: float = 0.05, host: str = "127.0.0.1", port: int = 9) -> TCPSpec:
    return TCPSpec(name=name, host=host, port=port, interval_s=interval, timeout_s=1.0)


async def run_for(monitor: Monitor, seconds: float) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(monitor.run(stop))
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.wait_for(task, 5.0)


async def test_every_sink_gets_every_measurement_stamped_with_identity() -> None:
    sinks = [ListSink(), ListSink()]
    metrics = Metrics()
    before = time.time()
    monitor = Monitor(
        [tcp("up", host="127.0.0.1"), tcp("down", host="127.0.0.2")],
        ScriptedProbe(),
        sinks,
        "tirana-1",
        SchedulerConfig(jitter=0.1),
        metrics,
    )
    await run_for(monitor, 0.3)
    first, second = sinks
    assert len(first.got) >= 6
    assert [m.id for m in first.got] == [m.id for m in second.got]
    assert len({m.id for m in first.got}) == len(first.got)
    for m in first.got:
        assert m.vantage == "tirana-1"
        assert m.kind == "tcp"
        assert before <= m.ts <= time.time()
        if m.target == "up":
            assert (m.ok, m.outcome, m.phase) == (True, Outcome.OK, None)
        else:
            assert m.target == "down"
            assert (m.ok, m.outcome, m.phase) == (False, Outcome.TCP_REFUSED, Phase.CONNECT)
    assert metrics.checks_total() == len(first.got)
    assert metrics.checks_total("tcp", "tcp_refused") == sum(m.target == "down" for m in first.got)
    assert monitor.lag_summary().count == len(first.got)


async def test_stop_drains_probes_in_flight_into_the_sinks() -> None:
    probe = ScriptedProbe(delay=0.2)
    sink = ListSink()
    monitor = Monitor([tcp("slow", interval=0.05)], probe, [sink], "v", SchedulerConfig())
    stop = asyncio.Event()
    task = asyncio.create_task(monitor.run(stop))
    await asyncio.sleep(0.1)
    assert probe.running == 1
    stop.set()
    await asyncio.wait_for(task, 2.0)
    assert probe.running == 0
    assert probe.finished == 1
    assert [m.target for m in sink.got] == ["slow"]
    assert monitor.scheduler.in_flight == 0


async def test_run_once_probes_all_targets_under_the_cap_in_order() -> None:
    probe = ScriptedProbe(delay=0.05)
    sink = ListSink()
    names = ["a", "down-b", "c", "d", "e"]
    targets = [tcp(n, host=f"127.0.0.{i + 1}") for i, n in enumerate(names)]
    monitor = Monitor([], probe, [sink], "v", SchedulerConfig(concurrency=2))
    started = time.monotonic()
    got = await monitor.run_once(targets)
    assert time.monotonic() - started >= 0.14  # five probes, two at a time
    assert probe.most == 2
    assert [m.target for m in got] == names
    assert [m.ok for m in got] == [True, False, True, True, True]
    assert sink.got == got

    quiet = ListSink()
    monitor = Monitor([], probe, [quiet], "v", SchedulerConfig())
    assert len(await monitor.run_once(targets[:2], deliver=False)) == 2
    assert quiet.got == []


async def test_a_failing_sink_does_not_starve_the_others() -> None:
    good = ListSink()
    metrics = Metrics()
    sinks: list[MeasurementSink] = [BrokenSink(), good]
    monitor = Monitor([], ScriptedProbe(), sinks, "v", SchedulerConfig(), metrics)
    await monitor.run_once([tcp("a"), tcp("b", host="127.0.0.2")])
    assert [m.target for m in good.got] == ["a", "b"]
    assert metrics.registry.get_sample_value("netvigil_sink_errors_total") == 2


async def test_set_targets_reloads_while_running() -> None:
    sink = ListSink()
    monitor = Monitor([tcp("old")], ScriptedProbe(), [sink], "v", SchedulerConfig())
    stop = asyncio.Event()
    task = asyncio.create_task(monitor.run(stop))
    await asyncio.sleep(0.12)
    monitor.set_targets([tcp("new", host="127.0.0.2")])
    reloaded = time.time()
    assert monitor.scheduler.due("old") is None
    await asyncio.sleep(0.15)
    stop.set()
    await asyncio.wait_for(task, 2.0)
    assert {m.target for m in sink.got} == {"old", "new"}
    # A run of "old" dispatched in the loop step before the reload may start just after it
    # (its task's first step stamps the start); none is dispatched after.
    assert sum(1 for m in sink.got if m.target == "old" and m.ts > reloaded) <= 1
    assert all(m.ts >= reloaded for m in sink.got if m.target == "new")


@pytest.fixture
async def listener() -> AsyncIterator[tuple[int, list[int]]]:
    """A loopback TCP listener: its port and a one-item list counting connections."""
    count = [0]

    async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        count[0] += 1
        writer.close()

    server = await asyncio.start_server(accept, "127.0.0.1", 0)
    port: int = server.sockets[0].getsockname()[1]
    async with server:
        yield port, count


async def test_real_probes_against_a_loopback_listener(listener: tuple[int, list[int]]) -> None:
    port, connections = listener
    closed = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    closed_port: int = closed.sockets[0].getsockname()[1]
    closed.close()
    await closed.wait_closed()

    sink = ListSink()
    targets = [tcp("open", port=port), tcp("closed", port=closed_port)]
    async with ProbeSet() as probes:
        monitor = Monitor(targets, probes, [sink], "lab", SchedulerConfig(per_address_rate=100))
        await run_for(monitor, 0.35)
        once = await monitor.run_once(targets, deliver=False)

    open_runs = [m for m in sink.got if m.target == "open"]
    closed_runs = [m for m in sink.got if m.target == "closed"]
    assert len(open_runs) >= 3
    assert len(closed_runs) >= 3
    assert all(m.ok and m.outcome is Outcome.OK for m in open_runs)
    assert all(m.outcome is Outcome.TCP_REFUSED for m in closed_runs)
    assert all(m.phase is Phase.CONNECT for m in closed_runs)
    assert connections[0] >= len(open_runs)
    assert [(m.target, m.outcome) for m in once] == [
        ("open", Outcome.OK),
        ("closed", Outcome.TCP_REFUSED),
    ]

"""Live detection: the detector inside `netvigil run`, with a real SQLite store."""

from __future__ import annotations

import asyncio
import random
from pathlib import Path

from detect.streams import ONSET, SILENT, Probe, World, gov, healthy
from netvigil.cause import Cause
from netvigil.detect.detector import Detector
from netvigil.incident import EventKind, IncidentEvent, IncidentState
from netvigil.model import Measurement
from netvigil.pipeline.detection import LiveDetection
from netvigil.pipeline.tee import TeeStore
from netvigil.store import IncidentQuery, MeasurementQuery, SQLiteStore

RECOVERY = ONSET + 200.0


def shutdown_then_recovery(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
    if gov(target) and ONSET <= ts < RECOVERY:
        return SILENT
    return healthy(ts, vantage, target, rng)


class Clock:
    """Wall time for the detection timer, set by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Recorder:
    """An event sink that keeps what it gets."""

    def __init__(self) -> None:
        self.events: list[IncidentEvent] = []

    def submit(self, event: IncidentEvent) -> None:
        self.events.append(event)


class Broken:
    """An event sink that always fails."""

    def submit(self, event: IncidentEvent) -> None:
        raise RuntimeError("notifier down")


def kinds(events: list[IncidentEvent]) -> list[EventKind]:
    return [e.kind for e in events]


async def test_events_are_stored_alerted_and_match_the_pure_detector(tmp_path: Path) -> None:
    world = World()
    stream = world.stream(shutdown_then_recovery)
    expected = Detector(world.config())
    expected_events = expected.feed_many(stream) + expected.flush()

    recorder = Recorder()
    async with await SQLiteStore.open(tmp_path / "nv.db") as store:
        live = LiveDetection(world.config(), store, sinks=[recorder], clock=Clock(stream[0].ts))
        async with live:
            for m in stream:
                store.submit(m)
                live.submit(m)
            assert [i.id for i in live.open_incidents()] == []  # resolved by now
        await store.flush()
        [incident] = await store.incidents(IncidentQuery())
        log = await store.incident_events(incident.id)

    assert kinds(recorder.events) == kinds(expected_events)
    assert kinds(log) == kinds(expected_events)
    assert log[0].kind is EventKind.OPENED
    assert EventKind.CONFIRMED in kinds(log)
    assert log[-1].kind is EventKind.RESOLVED
    assert incident.to_json() == expected.incidents()[0].to_json()
    assert incident.cause is Cause.SHUTDOWN
    assert live.stats.events == len(expected_events)
    assert live.stats.store_failures == live.stats.sink_failures == 0


async def test_a_restart_keeps_the_incident_id_and_history(tmp_path: Path) -> None:
    world = World()
    stream = world.stream(shutdown_then_recovery)
    cut = ONSET + 100.0  # confirmed, not yet recovered
    before = [m for m in stream if m.ts < cut]
    after = [m for m in stream if m.ts >= cut]
    path = tmp_path / "nv.db"

    async with await SQLiteStore.open(path) as store:
        live = LiveDetection(world.config(), store, clock=Clock(before[0].ts))
        async with live:
            for m in before:
                live.submit(m)
        [first] = live.open_incidents()
        assert first.state is IncidentState.CONFIRMED

    async with await SQLiteStore.open(path) as store:
        live = LiveDetection(world.config(), store, clock=Clock(after[0].ts))
        await live.start()
        assert live.stats.seeded == 1
        assert [i.id for i in live.open_incidents()] == [first.id]
        for m in after:
            live.submit(m)
        await live.stop()
        assert live.open_incidents() == []
        await store.flush()
        stored = await store.incident(first.id)
        log = await store.incident_events(first.id)
        assert [i.id for i in await store.incidents(IncidentQuery())] == [first.id]

    assert stored is not None
    assert stored.state is IncidentState.RESOLVED
    assert stored.start == first.start
    assert stored.confirmed_at == first.confirmed_at
    assert stored.end is not None
    assert RECOVERY <= stored.end < RECOVERY + 60
    assert stored.cause_history[0] == first.cause_history[0]
    assert kinds(log)[0] is EventKind.OPENED
    assert kinds(log).count(EventKind.CONFIRMED) == 1
    assert kinds(log)[-1] is EventKind.RESOLVED


async def test_the_timer_processes_buffered_measurements_when_data_stops(tmp_path: Path) -> None:
    world = World()
    # the outage is confirmed within the last `lateness_s` of this stream, so only a
    # watermark moved by the timer (not by data) releases it
    stream = [m for m in world.stream(shutdown_then_recovery) if m.ts < ONSET + 40]
    clock = Clock(stream[0].ts)
    recorder = Recorder()
    async with await SQLiteStore.open(tmp_path / "nv.db") as store:
        live = LiveDetection(world.config(), store, sinks=[recorder], tick_s=0.01, clock=clock)
        async with live:
            for m in stream:
                live.submit(m)
            await asyncio.sleep(0.05)
            assert recorder.events == []
            clock.now = stream[-1].ts + 60  # past the lateness bound: everything is due
            for _ in range(200):
                if EventKind.CONFIRMED in kinds(recorder.events):
                    break
                await asyncio.sleep(0.01)
            assert EventKind.CONFIRMED in kinds(recorder.events)
            assert live.detector.watermark >= stream[-1].ts
            [incident] = live.open_incidents()
            assert incident.state is IncidentState.CONFIRMED


async def test_failing_store_and_sinks_never_stop_detection(tmp_path: Path) -> None:
    world = World()
    stream = world.stream(shutdown_then_recovery)
    store = await SQLiteStore.open(tmp_path / "nv.db")
    await store.close()  # every write now raises StoreError
    recorder = Recorder()
    live = LiveDetection(world.config(), store, sinks=[Broken(), recorder], clock=Clock(0.0))
    for m in stream:
        live.submit(m)
    live.tick()
    await live.stop()
    assert recorder.events
    assert kinds(recorder.events)[-1] is EventKind.RESOLVED
    assert live.stats.store_failures == len(recorder.events)
    assert live.stats.sink_failures == len(recorder.events)
    assert live.stats.detect_failures == 0


async def test_tee_store_hands_ingested_batches_to_detection(tmp_path: Path) -> None:
    world = World()
    stream = world.stream(shutdown_then_recovery)

    class Counter:
        def __init__(self) -> None:
            self.seen: list[Measurement] = []

        def submit(self, m: Measurement) -> None:
            self.seen.append(m)

    counter = Counter()
    async with await SQLiteStore.open(tmp_path / "nv.db") as inner:
        store = TeeStore(inner, [counter])
        assert await store.add(stream[:50]) == 50
        store.submit(stream[50])
        await store.flush()
        assert len(await store.measurements(MeasurementQuery())) == 51
    assert counter.seen == stream[:51]


async def test_on_its_own_thread_detection_gives_the_same_events(tmp_path: Path) -> None:
    world = World()
    stream = world.stream(shutdown_then_recovery)
    expected = Detector(world.config())
    expected_events = expected.feed_many(stream) + expected.flush()

    recorder = Recorder()
    async with await SQLiteStore.open(tmp_path / "nv.db") as store:
        live = LiveDetection(
            world.config(), store, sinks=[recorder], clock=Clock(stream[0].ts), threaded=True
        )
        async with live:
            for i, m in enumerate(stream):
                live.submit(m)
                if i % 500 == 0:
                    await asyncio.sleep(0)
        await asyncio.sleep(0.05)  # the last events' hand-over to this loop
        assert live.worker is not None and live.worker.dropped == 0
        assert live.worker.processed == len(stream)
    assert kinds(recorder.events) == kinds(expected_events)
    assert [e.incident.to_json() for e in recorder.events] == [
        e.incident.to_json() for e in expected_events
    ]


async def test_the_event_loop_stays_responsive_while_a_large_outage_is_detected(
    tmp_path: Path,
) -> None:
    """Every target of the gov network down from every vantage for the whole stream: the
    loop that would probe and serve keeps ticking while the detector works on its thread."""
    world = World()

    def everything_down(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
        return SILENT if ts >= ONSET else healthy(ts, vantage, target, rng)

    stream = world.stream(everything_down)
    lags: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        loop = asyncio.get_running_loop()
        while not done.is_set():
            t0 = loop.time()
            await asyncio.sleep(0.005)
            lags.append(loop.time() - t0 - 0.005)

    async with await SQLiteStore.open(tmp_path / "nv.db") as store:
        live = LiveDetection(world.config(), store, clock=Clock(stream[0].ts), threaded=True)
        async with live:
            ticking = asyncio.create_task(ticker())
            for i, m in enumerate(stream):
                live.submit(m)
                if i % 200 == 0:
                    await asyncio.sleep(0)
            while live.worker is not None and live.worker.depth:
                await asyncio.sleep(0.01)
            done.set()
            await ticking
        assert live.worker is not None and live.worker.processed == len(stream)
        assert live.stats.events > 0
    lags.sort()
    assert lags, "the ticker never ran"
    assert lags[int(0.99 * (len(lags) - 1))] < 0.1, lags[-10:]

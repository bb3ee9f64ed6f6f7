"""Failures on the way: the store away, nats-server killed or stopped, a collector killed.

Every test counts every measurement id produced against every id stored: 0 lost, 0 twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from nats_harness import SHARDS, Bus, make_measurements, stored_ids, wait_for

from netvigil.agent.spool import Spool
from netvigil.bus import Collector, MeasurementConsumer, MeasurementPublisher, ensure_consumer
from netvigil.errors import StoreError
from netvigil.model import Measurement
from netvigil.store.sqlite import SQLiteStore


class FailingStore:
    """A store whose `add` fails `failures` times (the database away), then works."""

    def __init__(self, store: SQLiteStore, failures: int) -> None:
        self.store = store
        self.failures = failures
        self.refused = 0

    async def add(self, batch: Sequence[Measurement]) -> int:
        if self.refused < self.failures:
            self.refused += 1
            raise StoreError("database is unavailable")
        return await self.store.add(batch)

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)


class DyingStore:
    """A store that writes the first batch and then never returns: the process "dies"
    between the commit and the ack."""

    def __init__(self, store: SQLiteStore) -> None:
        self.store = store
        self.written = asyncio.Event()

    async def add(self, batch: Sequence[Measurement]) -> int:
        new = await self.store.add(batch)
        self.written.set()
        await asyncio.Event().wait()  # never acked
        return new

    def __getattr__(self, name: str) -> object:
        return getattr(self.store, name)


async def _true(value: bool) -> bool:
    return value


async def test_collector_holds_messages_unacked_while_the_store_fails(
    bus_clients: Bus, store: SQLiteStore, tmp_path: Path
) -> None:
    bus = bus_clients
    await bus.setup(ack_wait_s=2.0)
    produced = make_measurements(300)
    await _publish_all(bus, produced, tmp_path / "spool.db")
    failing = FailingStore(store, failures=8)
    nc = await bus.connect()
    consumer = await MeasurementConsumer.bind(nc, bus.config(), batch_size=100, fetch_wait_s=0.2)
    collector = Collector(
        consumer,
        failing,  # type: ignore[arg-type]
        backoff_initial_s=0.2,
        backoff_max_s=1.5,
        keep_alive_s=0.5,  # under the ack wait of 2 s: the batch is never handed out again
        max_in_flight=1,  # one batch in hand when the store fails (two by default)
    )
    stop = asyncio.Event()
    task = asyncio.create_task(collector.run(stop))
    admin = (await bus.connect()).jetstream()
    await wait_for(lambda: _true(failing.refused >= 4), 20, "the store to refuse a few times")
    # While the store fails: nothing acked, nothing stored, the stream holds it all.
    info = await admin.consumer_info("NETVIGIL_MEASUREMENTS", "netvigil-collector")
    assert info.num_ack_pending == 100  # the batch in hand, kept alive past the ack wait
    assert info.num_pending == 200
    assert consumer.stats.acked == 0
    assert await stored_ids(store) == []
    stream = await admin.stream_info("NETVIGIL_MEASUREMENTS")
    assert stream.state.messages == 300
    # A second collector sharing the consumer takes the rest, never the batch held.
    other = await MeasurementConsumer.bind(
        await bus.connect(), bus.config(), batch_size=100, fetch_wait_s=0.2
    )
    other_stop = asyncio.Event()
    other_task = asyncio.create_task(Collector(other, store).run(other_stop))
    await wait_for(lambda: _true(other.stats.acked >= 200), 20, "the other collector's 200")
    assert failing.refused < 8  # still failing: the first collector still holds its batch
    await wait_for(lambda: _stored(store, 300), 30, "everything once the store is back")
    stop.set()
    other_stop.set()
    await task
    await other_task
    ids = await stored_ids(store)
    assert sorted(ids) == sorted(m.id for m in produced)
    assert consumer.stats.store_failures == 8
    assert (consumer.stats.acked, other.stats.acked) == (100, 200)
    info = await admin.consumer_info("NETVIGIL_MEASUREMENTS", "netvigil-collector")
    assert info.num_ack_pending == 0 and info.num_pending == 0
    assert info.num_redelivered == 0  # held for about 9 s, past the ack wait, kept alive


async def test_a_batch_stored_but_not_acked_comes_again_and_is_not_stored_twice(
    bus_clients: Bus, store: SQLiteStore, tmp_path: Path
) -> None:
    bus = bus_clients
    await bus.setup(ack_wait_s=1.0)
    produced = make_measurements(250)
    await _publish_all(bus, produced, tmp_path / "spool.db")
    dying = DyingStore(store)
    first = await MeasurementConsumer.bind(
        await bus.connect(), bus.config(), batch_size=100, fetch_wait_s=0.2
    )
    one_at_a_time = Collector(first, dying, max_in_flight=1)  # type: ignore[arg-type]
    task = asyncio.create_task(one_at_a_time.run(asyncio.Event()))
    await asyncio.wait_for(dying.written.wait(), 20)
    task.cancel()  # gone between its commit and its ack
    with contextlib.suppress(asyncio.CancelledError):
        await task
    await first.nc.close()
    assert len(await stored_ids(store)) == 100
    second = await MeasurementConsumer.bind(await bus.connect(), bus.config(), fetch_wait_s=0.2)
    stop = asyncio.Event()
    task = asyncio.create_task(Collector(second, store).run(stop))
    admin = (await bus.connect()).jetstream()
    await wait_for(lambda: _consumer_done(admin), 30, "every message acked")
    stop.set()
    await task
    ids = await stored_ids(store)
    assert sorted(ids) == sorted(m.id for m in produced)
    assert second.stats.acked == 250  # the first 100 came again after the ack wait...
    assert second.stats.stored == 150  # ...and were not stored again
    assert second.stats.duplicates == 100


@pytest.mark.slow
async def test_publisher_spools_while_nats_is_killed_and_drains_after(
    bus_clients: Bus, store: SQLiteStore, tmp_path: Path
) -> None:
    bus = bus_clients
    await bus.setup()
    async with await Spool.open(tmp_path / "spool.db") as spool:
        publisher = MeasurementPublisher(
            bus.config("tirana", publish_timeout_s=1.0),
            "tirana",
            spool,
            SHARDS,
            batch_size=50,
            backoff_initial_s=0.1,
            backoff_max_s=0.5,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(publisher.run(stop))
        produced: list[Measurement] = []
        # A collector runs throughout: it outlives the server's death too.
        consumer = await MeasurementConsumer.bind(
            await bus.connect(), bus.config(), fetch_wait_s=0.2
        )
        collecting = asyncio.Event()
        collector = asyncio.create_task(
            Collector(consumer, store, backoff_max_s=0.5).run(collecting)
        )

        async def produce(seconds: float) -> None:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                batch = make_measurements(20)
                produced.extend(batch)
                for m in batch:
                    publisher.submit(m)
                await asyncio.sleep(0.02)

        await produce(1.5)
        bus.server.kill()  # SIGKILL: no goodbye to anyone
        await produce(3.0)
        assert publisher.stats.spooled > 0
        assert spool.depth > 0
        bus.server.start()  # the same port and store dir
        await produce(1.5)
        await wait_for(lambda: _true(publisher.waiting == 0), 60, "the spool to drain")
        stop.set()
        await task
    assert publisher.stats.failures > 0
    await wait_for(lambda: _stored(store, len(produced)), 60, "the running collector to catch up")
    assert await _stream_order(bus) == [m.id for m in produced]
    await asyncio.sleep(0.5)  # anything beyond (a duplicate) would arrive now
    collecting.set()
    await collector
    ids = await stored_ids(store)
    assert len(ids) == len(produced)
    assert sorted(ids) == sorted(m.id for m in produced)


@pytest.mark.slow
async def test_publisher_cut_off_for_seconds_delivers_everything_after(
    bus_clients: Bus, store: SQLiteStore, tmp_path: Path
) -> None:
    bus = bus_clients
    await bus.setup()
    async with await Spool.open(tmp_path / "spool.db") as spool:
        publisher = MeasurementPublisher(
            bus.config("durres", publish_timeout_s=1.0),
            "durres",
            spool,
            SHARDS,
            batch_size=100,
            backoff_initial_s=0.2,
            backoff_max_s=2.0,
        )
        stop = asyncio.Event()
        task = asyncio.create_task(publisher.run(stop))
        produced = make_measurements(200, vantage="durres")
        for m in produced:
            publisher.submit(m)
        await wait_for(lambda: _true(publisher.waiting == 0), 20, "the first batch out")
        bus.server.stop()
        cut_off = make_measurements(1000, vantage="durres")
        for i, m in enumerate(cut_off):  # five seconds of measurements, none deliverable
            publisher.submit(m)
            if i % 100 == 99:
                await asyncio.sleep(0.5)
        produced += cut_off
        await spool.flush()
        assert spool.depth == len(cut_off)
        assert publisher.stats.spooled == len(cut_off)
        bus.server.start()
        await wait_for(lambda: _true(publisher.waiting == 0), 60, "the spool to drain")
        stop.set()
        await task
    assert publisher.stats.published == len(produced)
    # The stream holds them in the order they were made, the spooled ones included.
    assert await _stream_order(bus) == [m.id for m in produced]
    await _collect_all(bus, store, len(produced))
    ids = await stored_ids(store)
    assert len(ids) == len(produced)
    assert sorted(ids) == sorted(m.id for m in produced)


@pytest.mark.slow
async def test_collector_killed_mid_batch_loses_and_doubles_nothing(
    bus_clients: Bus, tmp_path: Path
) -> None:
    bus = bus_clients
    produced = make_measurements(6000)
    await bus.setup(ack_wait_s=2.0)
    await _publish_all(bus, produced, tmp_path / "spool.db")
    db = tmp_path / "collected.db"
    config = tmp_path / "collector.toml"
    config.write_text(
        f'[store]\npath = "{db}"\n\n'
        f'[bus]\nkind = "nats"\nurl = "{bus.url}"\nuser = "collector"\n'
        f'password = "{bus.passwords["collector"]}"\nack_wait_s = 2.0\n'
    )
    command = [sys.executable, "-m", "netvigil", "collector", "-c", str(config)]
    # Sixty batches: on a busy machine the poll below may be scheduled late, and the
    # collector must still be mid-stream when it is killed.
    command += ["--batch-size", "100", "--fetch-wait", "0.2"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    log = (tmp_path / "collector.log").open("wb")
    first = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 60
        # Killed as soon as a batch is in the store: most likely while it is being acked.
        while _count(db) == 0 and time.monotonic() < deadline:
            assert first.poll() is None, (tmp_path / "collector.log").read_text()
            time.sleep(0.001)
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    finally:
        if first.poll() is None:
            first.kill()
            first.wait(10)
    at_kill = _count(db)
    assert 0 < at_kill < len(produced), at_kill
    admin = (await bus.connect()).jetstream()
    info = await admin.consumer_info("NETVIGIL_MEASUREMENTS", "netvigil-collector")
    assert info.num_ack_pending + info.num_pending > 0
    second = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 90
        while _count(db) < len(produced) and time.monotonic() < deadline:
            assert second.poll() is None, (tmp_path / "collector.log").read_text()
            time.sleep(0.1)
        # Redelivered messages after the ack wait: stored already, so skipped.
        await wait_for(lambda: _consumer_done(admin), 30, "every message acked")
        second.send_signal(signal.SIGTERM)
        assert second.wait(30) == 0, (tmp_path / "collector.log").read_text()
    finally:
        if second.poll() is None:
            second.kill()
            second.wait(10)
        log.close()
    with sqlite3.connect(db) as conn:
        ids = [row[0] for row in conn.execute("SELECT id FROM measurements")]
    assert len(ids) == len(produced)
    assert sorted(ids) == sorted(m.id for m in produced)
    # The second collector stored exactly what the first had not; what the first stored
    # but had not acked came again and was acked without being stored twice.
    summary = re.findall(
        r"collector stopped: (\d+) acked \((\d+) new\)", (tmp_path / "collector.log").read_text()
    )
    acked, new = (int(x) for x in summary[-1])
    assert new == len(produced) - at_kill
    assert acked >= new


async def _stream_order(bus: Bus) -> list[str]:
    """The measurement ids in the stream, in stream order (through a consumer of its own)."""
    nc = await bus.connect()
    await ensure_consumer(nc.jetstream(), "NETVIGIL_MEASUREMENTS", "order", ack_wait_s=30)
    consumer = await MeasurementConsumer.bind(nc, bus.config(), durable="order", fetch_wait_s=0.5)
    ids: list[str] = []
    while batch := await consumer.fetch():
        ids += [d.measurement.id for d in batch]
        await consumer.ack(batch)
    return ids


async def _consumer_done(admin: object) -> bool:
    info = await admin.consumer_info("NETVIGIL_MEASUREMENTS", "netvigil-collector")  # type: ignore[attr-defined]
    return bool(info.num_ack_pending == 0 and info.num_pending == 0)


def _count(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=1) as conn:
            return int(conn.execute("SELECT count(*) FROM measurements").fetchone()[0])
    except sqlite3.Error:
        return 0


async def _stored(store: SQLiteStore, n: int) -> bool:
    return len(await stored_ids(store)) >= n


async def _publish_all(bus: Bus, produced: list[Measurement], spool_path: Path) -> None:
    async with await Spool.open(spool_path) as spool:
        publisher = MeasurementPublisher(
            bus.config("tirana"), "tirana", spool, SHARDS, batch_size=200
        )
        stop = asyncio.Event()
        task = asyncio.create_task(publisher.run(stop))
        for m in produced:
            publisher.submit(m)
        await wait_for(lambda: _true(publisher.waiting == 0), 60, "the publisher to finish")
        stop.set()
        await task
    assert publisher.stats.published == len(produced)


async def _collect_all(bus: Bus, store: SQLiteStore, n: int) -> None:
    nc = await bus.connect()
    consumer = await MeasurementConsumer.bind(nc, bus.config(), fetch_wait_s=0.2)
    stop = asyncio.Event()
    task = asyncio.create_task(Collector(consumer, store).run(stop))
    await wait_for(lambda: _stored(store, n), 60, f"{n} measurements stored")
    await asyncio.sleep(0.5)  # anything beyond n (a duplicate) would arrive now
    stop.set()
    await task

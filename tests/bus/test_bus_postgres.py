"""The scale-out path end to end on real servers: publisher → NATS JetStream → collector →
PostgreSQL, every id produced stored once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from nats_harness import SHARDS, Bus, make_measurements, wait_for

from netvigil.agent.spool import Spool
from netvigil.bus import Collector, MeasurementConsumer, MeasurementPublisher
from netvigil.store.base import MeasurementQuery
from netvigil.store.postgres import PostgresStore
from servers.postgres import PostgresServer


async def test_collector_stores_into_postgres_once_each(
    bus_clients: Bus, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    bus = bus_clients
    await bus.setup()
    produced = make_measurements(3000)
    async with await Spool.open(tmp_path / "spool.db") as spool:
        publisher = MeasurementPublisher(
            bus.config("tirana"), "tirana", spool, SHARDS, batch_size=200
        )
        stop = asyncio.Event()
        task = asyncio.create_task(publisher.run(stop))
        for m in produced:
            publisher.submit(m)
        # The first half again: a re-send after a lost PubAck is dropped by the stream.
        for m in produced[:1500]:
            publisher.submit(m)
        await wait_for(lambda: _done(publisher.waiting == 0), 30, "the publisher to finish")
        stop.set()
        await task
    dsn = await postgres_server.database_for(tmp_path)
    async with await PostgresStore.open(dsn) as store:
        consumer = await MeasurementConsumer.bind(
            await bus.connect(), bus.config(), fetch_wait_s=0.2
        )
        collector = Collector(consumer, store)
        cstop = asyncio.Event()
        ctask = asyncio.create_task(collector.run(cstop))

        async def all_there() -> bool:
            rows = await store.measurements(MeasurementQuery(limit=10_000))
            return len(rows) >= len(produced)

        await wait_for(all_there, 60, "every measurement in PostgreSQL", step_s=0.2)
        cstop.set()
        await ctask
        rows = await store.measurements(MeasurementQuery(limit=10_000))
    ids = [m.id for m in rows]
    assert len(ids) == len(set(ids)) == len(produced)
    assert set(ids) == {m.id for m in produced}
    assert collector.stats.stored == len(produced)


async def _done(value: bool) -> bool:
    return value

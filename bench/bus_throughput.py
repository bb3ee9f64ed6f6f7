"""Measurements per second through the NATS bus: publisher to stream, stream to store.

    .venv/bin/python bench/bus_throughput.py --count 20000 --batch 200

Starts a nats-server on a free loopback port with JetStream in a temporary directory
(no authentication), sets the streams up, then times two legs one after the other:
an agent's `MeasurementPublisher` publishing `--count` measurements (each acknowledged
by the stream), and a `Collector` writing them all to a fresh SQLiteStore (each batch
acked after `Store.add`). Prints both rates and checks that every id arrived once.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import tempfile
import time
from pathlib import Path

from netvigil.agent.spool import Spool
from netvigil.bus import (
    Collector,
    MeasurementConsumer,
    MeasurementPublisher,
    NATSServer,
    StreamNames,
    TargetShards,
    connect,
    ensure_consumer,
    ensure_streams,
    write_server_config,
)
from netvigil.config.model import BusConfig, Config
from netvigil.model import Measurement, Observation
from netvigil.outcome import Outcome
from netvigil.store import MeasurementQuery, SQLiteStore


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def measurements(count: int) -> list[Measurement]:
    start = time.time()
    obs = Observation(ok=True, outcome=Outcome.OK, timings={"connect": 0.01, "total": 0.05})
    return [
        Measurement.from_observation(
            obs, vantage="bench", target=f"t{i % 500}", kind="tcp", ts=start + i / 1000
        )
        for i in range(count)
    ]


async def run(count: int, batch: int, tmp: Path, url: str) -> None:
    config = BusConfig(kind="nats", url=url, ack_wait_s=30)
    nc = await connect(config, name="bench")
    js = nc.jetstream()
    await ensure_streams(js, StreamNames())
    await ensure_consumer(js, config.measurements_stream, config.consumer, ack_wait_s=30)
    produced = measurements(count)

    async with await Spool.open(tmp / "spool.db") as spool:
        shards = TargetShards(Config())
        publisher = MeasurementPublisher(config, "bench", spool, shards, batch_size=batch)
        stop = asyncio.Event()
        started = time.perf_counter()
        task = asyncio.create_task(publisher.run(stop))
        for m in produced:
            publisher.submit(m)
        while publisher.waiting:  # noqa: ASYNC110 (polling a count, 10 ms resolution)
            await asyncio.sleep(0.01)
        publish_s = time.perf_counter() - started
        stop.set()
        await task
    print(f"publish: {count} in {publish_s:.2f} s = {count / publish_s:,.0f}/s (PubAck each)")

    async with await SQLiteStore.open(tmp / "bench.db") as store:
        consumer = await MeasurementConsumer.bind(nc, config, batch_size=batch, fetch_wait_s=0.2)
        stop = asyncio.Event()
        started = time.perf_counter()
        task = asyncio.create_task(Collector(consumer, store).run(stop))
        while consumer.stats.acked < count:  # noqa: ASYNC110 (polling a count)
            await asyncio.sleep(0.01)
        collect_s = time.perf_counter() - started
        stop.set()
        await task
        ids = [m.id for m in await store.measurements(MeasurementQuery(limit=count + 10))]
    print(f"collect: {count} in {collect_s:.2f} s = {count / collect_s:,.0f}/s (stored, acked)")
    assert sorted(ids) == sorted(m.id for m in produced), "lost or doubled measurements"
    print(f"check: {len(ids)} stored, each id once")
    await nc.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        port = free_port()
        conf = write_server_config(tmp / "nats.conf", port=port, store_dir=tmp / "js", users=[])
        with NATSServer(conf, port=port) as server:
            asyncio.run(run(args.count, args.batch, tmp, server.url))


if __name__ == "__main__":
    main()

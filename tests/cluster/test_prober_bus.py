"""Probers publishing to the bus: two real `netvigil prober` processes with `[bus] kind =
"nats"` share a vantage's targets and publish what they probe; a collector stores it.
Every target is stored, each from one prober only (about one measurement per interval)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections import Counter
from pathlib import Path

import nats
import pytest
from cluster_nats import NATSServerProcess
from test_prober_processes import INTERVAL_S, TARGETS, serve_tcp_accepting, write_config

from netvigil.bus import (
    Collector,
    MeasurementConsumer,
    StreamNames,
    ensure_consumer,
    ensure_streams,
)
from netvigil.config.model import BusConfig
from netvigil.store.base import MeasurementQuery
from netvigil.store.sqlite import SQLiteStore

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

RUN_S = 5 * INTERVAL_S


async def test_probers_publish_their_share_to_the_bus(
    nats_server: NATSServerProcess, tmp_path: Path
) -> None:
    target = await serve_tcp_accepting()
    port = target.sockets[0].getsockname()[1]
    config = write_config(tmp_path / "prober.toml", port)
    config.write_text(config.read_text() + f'\n[bus]\nkind = "nats"\nurl = "{nats_server.url}"\n')
    bus = BusConfig(kind="nats", url=nats_server.url)
    admin = await nats.connect(nats_server.url)
    await ensure_streams(admin.jetstream(), StreamNames())
    await ensure_consumer(
        admin.jetstream(), bus.measurements_stream, bus.consumer, ack_wait_s=bus.ack_wait_s
    )
    probers = []
    logs = [tmp_path / f"{name}.log" for name in ("p1", "p2")]
    for name, log_path in zip(("p1", "p2"), logs, strict=True):
        command = [
            sys.executable, "-m", "netvigil", "prober", "--config", str(config),
            "--member", name, "--heartbeat", "0.3", "--member-ttl", "1.5",
            "--spool", str(tmp_path / f"{name}-spool.db"), "--duration", "120",
        ]  # fmt: skip
        with log_path.open("wb") as log:
            probers.append(
                await asyncio.create_subprocess_exec(
                    *command, stdout=log, stderr=log, env=os.environ
                )
            )
    try:
        # Both up and sharing (each has seen the other) before the window is counted.
        for _ in range(600):
            if all("among 2 prober" in p.read_text(errors="replace") for p in logs):
                break
            await asyncio.sleep(0.1)
        else:
            raise AssertionError([p.read_text(errors="replace")[-1500:] for p in logs])
        since = time.time()
        await asyncio.sleep(RUN_S)
        until = time.time()
    finally:
        for p in probers:
            if p.returncode is None:
                p.send_signal(signal.SIGTERM)
        codes = []
        for p in probers:
            try:
                codes.append(await asyncio.wait_for(p.wait(), 30))
            except TimeoutError:
                p.kill()
                codes.append(await p.wait())
        target.close()
    assert codes == [0, 0], [p.read_text(errors="replace")[-2000:] for p in logs]
    async with await SQLiteStore.open(tmp_path / "collected.db") as store:
        consumer = await MeasurementConsumer.bind(admin, bus, fetch_wait_s=0.2)
        stop = asyncio.Event()
        task = asyncio.create_task(Collector(consumer, store).run(stop))
        info = await admin.jetstream().stream_info(bus.measurements_stream)
        published = info.state.messages
        for _ in range(100):
            rows = await store.measurements(MeasurementQuery(limit=100_000))
            if len(rows) >= published:
                break
            await asyncio.sleep(0.1)
        stop.set()
        await task
    await admin.close()
    assert len(rows) == published == len({m.id for m in rows})
    per_target = Counter(m.target for m in rows if since <= m.ts < until)
    assert sorted(per_target) == TARGETS, "a target was probed by nobody"
    # One prober per target: about one measurement per interval, not two.
    runs = RUN_S / INTERVAL_S
    assert max(per_target.values()) <= runs + 2, per_target.most_common(3)

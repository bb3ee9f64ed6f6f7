"""A real agent probing loopback targets ships to a real server that restarts mid-stream.

Every measurement the agent produced must be stored exactly once: none lost while the
server was down (the spool held them), none stored twice by the retries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

from netvigil.agent.runner import run_agent
from netvigil.agent.spool import Spool
from netvigil.config.model import Config, SchedulerConfig, VantageConfig
from netvigil.metrics import Metrics
from netvigil.model import Measurement
from netvigil.outcome import Outcome
from netvigil.probes import HTTPSpec, TCPSpec
from netvigil.store.base import MeasurementQuery
from netvigil.store.sqlite import SQLiteStore
from netvigil.web.app import create_app
from netvigil.web.server import WebServer


class Recorder:
    """A sink that remembers every measurement the agent produced."""

    def __init__(self) -> None:
        self.seen: list[Measurement] = []

    def submit(self, m: Measurement) -> None:
        self.seen.append(m)


async def eventually(check: Callable[[], bool | Awaitable[bool]], timeout_s: float = 15.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        result = check()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def _accept_and_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


async def test_server_restart_loses_nothing_and_duplicates_nothing(
    tmp_path: Path, token: str, server_config: Config
) -> None:
    tcp_target = await asyncio.start_server(_accept_and_close, "127.0.0.1", 0)
    tcp_port = tcp_target.sockets[0].getsockname()[1]
    store_path = tmp_path / "server.db"
    spool_path = tmp_path / "agent-spool.db"

    store = await SQLiteStore.open(store_path)
    web = await WebServer.start(create_app(store, server_config))
    port = web.port
    agent_config = Config(
        vantage=VantageConfig(name="tirana", country="AL"),
        scheduler=SchedulerConfig(per_address_rate=1000, jitter=0),
        targets=[
            TCPSpec(
                name="loopback-tcp",
                host="127.0.0.1",
                port=tcp_port,
                control=True,
                interval_s=0.05,
                timeout_s=1,
            ),
            # The ingest server itself: refused while it is down, which is data too.
            HTTPSpec(
                name="server-health",
                url=f"{web.url}/api/v1/health",
                control=True,
                interval_s=0.1,
                timeout_s=1,
            ),
        ],
    )
    recorder = Recorder()
    metrics = Metrics()
    stop = asyncio.Event()
    agent = asyncio.create_task(
        run_agent(
            agent_config,
            web.url,
            token,
            stop,
            spool_path=spool_path,
            poll_s=0.05,
            batch_size=20,
            drain_timeout_s=10,
            extra_sinks=[recorder],
            metrics=metrics,
        )
    )
    try:

        async def some_stored() -> bool:
            return len(await store.measurements(MeasurementQuery(limit=1000))) >= 10

        await eventually(some_stored)

        # The server goes away mid-stream; the agent keeps measuring into its spool.
        await web.stop()
        await store.close()
        produced_at_stop = len(recorder.seen)
        await eventually(lambda: len(recorder.seen) >= produced_at_stop + 20)
        assert "netvigil_agent_spool_depth 0.0" not in metrics.render().decode()

        # Back on the same port, with the same database file.
        store = await SQLiteStore.open(store_path)
        web = await WebServer.start(create_app(store, server_config), port=port)
        assert web.port == port
        produced_at_restart = len(recorder.seen)
        await eventually(lambda: len(recorder.seen) >= produced_at_restart + 20)
    finally:
        stop.set()
        stats = await agent
        await web.stop()
        tcp_target.close()
        await tcp_target.wait_closed()

    try:
        rows = await store.measurements(MeasurementQuery(vantages=["tirana"], limit=100_000))
    finally:
        await store.close()
    stored_ids = [m.id for m in rows]
    produced_ids = [m.id for m in recorder.seen]
    assert len(produced_ids) == len(set(produced_ids))
    assert len(stored_ids) == len(set(stored_ids)), "a measurement was stored twice"
    assert set(stored_ids) == set(produced_ids), "a measurement was lost or invented"
    assert {m.id: m for m in rows} == {m.id: m for m in recorder.seen}

    assert stats.failures > 0, "the outage was never noticed"
    assert stats.rejected == 0
    assert stats.accepted == len(produced_ids)
    outcomes = {(m.target, m.outcome) for m in rows}
    assert ("loopback-tcp", Outcome.OK) in outcomes
    assert ("server-health", Outcome.OK) in outcomes
    assert ("server-health", Outcome.TCP_REFUSED) in outcomes, "the outage left no trace"

    async with await Spool.open(spool_path) as spool:
        assert spool.depth == 0
        assert await spool.count_rejected() == 0

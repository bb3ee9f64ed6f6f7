"""The shipper against a real ingest server: ack on 2xx, retry on failure, set aside refusals."""

from __future__ import annotations

import asyncio
import random
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import aiohttp
import pytest

from netvigil.agent.ship import Shipper, ingest_url
from netvigil.agent.spool import Spool
from netvigil.config.model import Config
from netvigil.metrics import Metrics
from netvigil.model import Measurement
from netvigil.store.base import MeasurementQuery
from netvigil.store.sqlite import SQLiteStore
from netvigil.web.app import create_app
from netvigil.web.ingest import IngestLimits
from netvigil.web.server import WebServer

Make = Callable[..., list[Measurement]]
FAST = {"poll_s": 0.02, "backoff_initial_s": 0.02, "backoff_max_s": 0.1, "request_timeout_s": 5}


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def stored_ids(store: SQLiteStore) -> list[str]:
    return [m.id for m in await store.measurements(MeasurementQuery(limit=100_000))]


@pytest.fixture
async def spool(tmp_path: Path) -> AsyncIterator[Spool]:
    s = await Spool.open(tmp_path / "spool.db")
    yield s
    await s.close()


@pytest.fixture
async def server(server_store: SQLiteStore, server_config: Config) -> AsyncIterator[WebServer]:
    web = await WebServer.start(
        create_app(server_store, server_config, limits=IngestLimits(max_measurements=4))
    )
    yield web
    await web.stop()


async def run_until(shipper: Shipper, check: Callable[[], Awaitable[bool]]) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(shipper.run(stop, drain_timeout_s=0))
    try:
        await eventually(check)
    finally:
        stop.set()
        await task


async def test_ships_spool_to_server_and_acks(
    make: Make, token: str, spool: Spool, server: WebServer, server_store: SQLiteStore
) -> None:
    batch = make(10)
    for m in batch:
        spool.submit(m)
    metrics = Metrics()
    # The server takes at most 4 per batch: 413 halves the batch size until it fits.
    shipper = Shipper(spool, server.url, token, "tirana", batch_size=10, metrics=metrics, **FAST)

    async def delivered() -> bool:
        return spool.depth == 0

    await run_until(shipper, delivered)
    assert sorted(await stored_ids(server_store)) == sorted(m.id for m in batch)
    assert shipper.stats.accepted == 10
    assert shipper.stats.duplicates == 0
    assert shipper.stats.rejected == 0
    assert shipper.batch_size <= 4
    text = metrics.render().decode()
    assert 'netvigil_agent_shipped_total{result="accepted"} 10.0' in text
    assert "netvigil_agent_spool_depth 0.0" in text


async def test_retried_batch_is_counted_as_duplicates(
    make: Make, token: str, spool: Spool, server: WebServer, server_store: SQLiteStore
) -> None:
    batch = make(3)
    # The server got this batch before, but its answer never reached the agent.
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            ingest_url(server.url),
            json={"agent": "tirana", "measurements": [m.to_json() for m in batch]},
            headers={"Authorization": f"Bearer {token}"},
        ) as resp,
    ):
        assert resp.status == 200
    for m in batch:
        spool.submit(m)
    shipper = Shipper(spool, server.url, token, "tirana", **FAST)

    async def delivered() -> bool:
        return spool.depth == 0

    await run_until(shipper, delivered)
    assert shipper.stats.duplicates == 3
    assert shipper.stats.accepted == 0
    assert len(await stored_ids(server_store)) == 3


async def test_refused_batch_is_set_aside_not_retried(
    make: Make, token: str, spool: Spool, server: WebServer, server_store: SQLiteStore
) -> None:
    bad = make(2)
    for m in bad:
        m.ts += 3600  # an hour in the future: the server refuses the batch (422)
    good = make(2)
    for m in [*bad, *good]:
        spool.submit(m)
    shipper = Shipper(spool, server.url, token, "tirana", batch_size=2, **FAST)

    async def settled() -> bool:
        return spool.depth == 0

    await run_until(shipper, settled)
    kept = await spool.rejected()
    assert [e.measurement for e in kept] == bad
    assert "HTTP 422" in kept[0].reason
    assert "measurements[0].ts" in kept[0].reason
    assert sorted(await stored_ids(server_store)) == sorted(m.id for m in good)
    assert shipper.stats.rejected == 2
    assert shipper.stats.failures == 0


@pytest.mark.parametrize(
    ("agent_token", "vantage"),
    [("nv_wrong", "tirana"), (None, "elsewhere")],
    ids=["wrong token", "wrong vantage name"],
)
async def test_wrong_identity_keeps_retrying_and_loses_nothing(
    make: Make,
    token: str,
    spool: Spool,
    server: WebServer,
    server_store: SQLiteStore,
    agent_token: str | None,
    vantage: str,
) -> None:
    for m in make(3, vantage=vantage):
        spool.submit(m)
    shipper = Shipper(spool, server.url, agent_token or token, vantage, **FAST)

    async def retried() -> bool:
        return shipper.stats.failures >= 3

    await run_until(shipper, retried)
    assert spool.depth == 3
    assert await spool.count_rejected() == 0
    assert shipper.stats.last_error is not None
    assert ("HTTP 401" if agent_token else "HTTP 403") in shipper.stats.last_error
    assert await stored_ids(server_store) == []


async def test_server_down_then_up_delivers_backlog(
    make: Make,
    token: str,
    spool: Spool,
    server_store: SQLiteStore,
    server_config: Config,
) -> None:
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused
    port = probe.getsockname()[1]
    batch = make(6)
    for m in batch:
        spool.submit(m)
    shipper = Shipper(spool, f"http://127.0.0.1:{port}", token, "tirana", **FAST)
    stop = asyncio.Event()
    task = asyncio.create_task(shipper.run(stop, drain_timeout_s=0))
    web: WebServer | None = None
    try:

        async def failing() -> bool:
            return shipper.stats.failures >= 2

        await eventually(failing)
        assert spool.depth == 6
        probe.close()
        web = await WebServer.start(create_app(server_store, server_config), port=port)

        async def delivered() -> bool:
            return spool.depth == 0

        await eventually(delivered)
    finally:
        probe.close()
        stop.set()
        await task
        if web is not None:
            await web.stop()
    assert sorted(await stored_ids(server_store)) == sorted(m.id for m in batch)


def test_backoff_doubles_with_jitter_up_to_the_cap() -> None:
    shipper = Shipper(
        None,  # type: ignore[arg-type]  # backoff needs no spool
        "http://127.0.0.1:9",
        "t",
        "a",
        backoff_initial_s=0.5,
        backoff_max_s=30.0,
        rng=random.Random(7),
    )
    for attempt, nominal in [(1, 0.5), (2, 1.0), (3, 2.0), (6, 16.0), (7, 30.0), (40, 30.0)]:
        waits = [shipper.backoff_s(attempt) for _ in range(200)]
        assert all(nominal / 2 <= w <= nominal for w in waits)
        assert max(waits) - min(waits) > nominal / 4  # jittered, not fixed


def test_ingest_url() -> None:
    assert ingest_url("http://h:8080") == "http://h:8080/api/v1/ingest"
    assert ingest_url("http://h:8080/") == "http://h:8080/api/v1/ingest"
    assert ingest_url("http://h/api/v1/ingest") == "http://h/api/v1/ingest"


async def test_stopping_drains_what_it_can(
    make: Make, token: str, spool: Spool, server: WebServer, server_store: SQLiteStore
) -> None:
    batch = make(7)
    for m in batch:
        spool.submit(m)
    stop = asyncio.Event()
    stop.set()
    shipper = Shipper(spool, server.url, token, "tirana", batch_size=3, **FAST)
    await shipper.run(stop, drain_timeout_s=5)
    assert spool.depth == 0
    assert sorted(await stored_ids(server_store)) == sorted(m.id for m in batch)


async def test_stopping_with_server_down_keeps_the_spool(
    make: Make, token: str, spool: Spool
) -> None:
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    try:
        for m in make(2):
            spool.submit(m)
        stop = asyncio.Event()
        stop.set()
        shipper = Shipper(spool, f"http://127.0.0.1:{closed.getsockname()[1]}", token, "x", **FAST)
        await asyncio.wait_for(shipper.run(stop, drain_timeout_s=5), 2)
        assert spool.depth == 2
    finally:
        closed.close()

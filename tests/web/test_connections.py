"""The web front end's limits on one client: head size, head and body time, connections."""

from __future__ import annotations

import asyncio
import json
import resource
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from netvigil.config.model import Config, SchedulerConfig, ServerConfig
from netvigil.store.sqlite import SQLiteStore
from netvigil.web.app import create_app
from netvigil.web.connections import (
    MIN_CONNECTIONS,
    ConnectionLimits,
    connection_cap,
    raise_open_files_limit,
)
from netvigil.web.server import WebServer

LIMITS = ConnectionLimits(
    max_header_bytes=4096, header_timeout_s=0.5, body_timeout_s=0.5, max_connections=20
)
HEALTH = b"GET /api/v1/health HTTP/1.1\r\nHost: nv\r\nConnection: close\r\n\r\n"


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[WebServer]:
    async with await SQLiteStore.open(tmp_path / "web.db") as store:
        app = create_app(store, Config())
        async with await WebServer.start(app, limits=LIMITS) as web:
            yield web


async def exchange(port: int, data: bytes, *, limit_s: float = 5.0) -> tuple[bytes, float]:
    """Send `data`, read until the server closes; the answer and how long it took."""
    start = time.monotonic()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), limit_s)
    finally:
        writer.close()
    return answer, time.monotonic() - start


def status_and_body(answer: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


def test_cap_leaves_the_reserve_and_never_drops_below_the_floor() -> None:
    limits = ConnectionLimits(max_connections=1000, fd_reserve=640)
    assert connection_cap(limits, 20_000) == 1000
    assert connection_cap(limits, 1024) == 1024 - 640
    assert connection_cap(limits, 600) == MIN_CONNECTIONS


def test_limits_follow_the_config() -> None:
    config = Config(
        scheduler=SchedulerConfig(concurrency=300),
        server=ServerConfig(max_header_bytes=2048, header_timeout_s=3, max_connections=77),
    )
    limits = ConnectionLimits.from_config(config)
    assert limits == ConnectionLimits(
        max_header_bytes=2048,
        header_timeout_s=3,
        body_timeout_s=30,
        max_connections=77,
        fd_reserve=300 + 128,
    )
    pinned = Config(server=ServerConfig(probe_fd_reserve=5000))
    assert ConnectionLimits.from_config(pinned).fd_reserve == 5000


def test_open_files_limit_is_raised_to_the_hard_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(soft, 256), hard))
        got = raise_open_files_limit()
        assert resource.getrlimit(resource.RLIMIT_NOFILE)[0] == got
        assert got > 256
        if hard != resource.RLIM_INFINITY:
            assert got == hard
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


async def test_head_over_the_limit_is_431_in_the_error_shape(server: WebServer) -> None:
    answer, took = await exchange(server.port, b"GET / HTTP/1.1\r\nX-Big: " + b"a" * 5000)
    status, body = status_and_body(answer)
    assert status == 431
    assert body["ok"] is False and body["status"] == 431
    assert took < 0.4  # refused as it arrives, not after the head timeout
    assert server.gate.stats.head_too_large == 1


async def test_head_just_under_the_limit_is_served(server: WebServer) -> None:
    filler = b"a" * (4096 - len(HEALTH) - 16)
    request = HEALTH.replace(b"\r\n\r\n", b"\r\nX-Pad: " + filler + b"\r\n\r\n")
    assert len(request) < 4096
    status, body = status_and_body((await exchange(server.port, request))[0])
    assert status == 200 and body["ok"] is True


async def test_slow_head_is_cut_off_with_408(server: WebServer) -> None:
    answer, took = await exchange(server.port, b"GET /api/v1/health HTTP/1.1\r\nHost")
    assert status_and_body(answer)[0] == 408
    assert 0.45 < took < 2.0
    silent, took = await exchange(server.port, b"")
    assert status_and_body(silent)[0] == 408 and took < 2.0


async def test_slow_body_is_cut_off(server: WebServer) -> None:
    head = b"POST /api/v1/ingest HTTP/1.1\r\nHost: nv\r\nContent-Length: 1000\r\n\r\n{"
    answer, took = await exchange(server.port, head)
    assert 0.45 < took < 2.0
    assert server.gate.stats.body_timeouts == 1
    assert b"200 OK" not in answer


async def test_keep_alive_requests_each_get_a_fresh_head_limit(server: WebServer) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    one = b"GET /api/v1/health HTTP/1.1\r\nHost: nv\r\nX-Pad: " + b"b" * 3000 + b"\r\n\r\n"
    try:
        for _ in range(5):  # 15 kB of heads in all, each under 4 kB
            writer.write(one)
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
            assert head.startswith(b"HTTP/1.1 200")
            lines = head.lower().split(b"\r\n")
            length = next(int(x.split(b":")[1]) for x in lines if x.startswith(b"content-length"))
            await reader.readexactly(length)
    finally:
        writer.close()


async def test_at_capacity_the_oldest_waiting_connection_makes_room(server: WebServer) -> None:
    capacity = server.gate.capacity
    assert capacity == 20
    idle = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(capacity)]
    try:
        await asyncio.sleep(0.05)
        assert len(server.gate) == capacity
        answer, _ = await exchange(server.port, HEALTH)
        assert status_and_body(answer)[0] == 200
        assert server.gate.stats.evicted >= 1
        assert len(server.gate) <= capacity
        assert await asyncio.wait_for(idle[0][0].read(), 1) == b""  # the oldest was closed
    finally:
        for _, writer in idle:
            writer.close()


async def test_at_capacity_with_every_connection_busy_the_new_one_is_closed(
    server: WebServer,
) -> None:
    head = b"GET /api/v1/stream HTTP/1.1\r\nHost: nv\r\n\r\n"  # answered for as long as open
    busy = []
    try:
        for _ in range(server.gate.capacity):
            _, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(head)
            busy.append(writer)
        await asyncio.sleep(0.2)
        answer, took = await exchange(server.port, HEALTH)
        assert answer == b"" and took < 0.4
        assert server.gate.stats.refused >= 1
        assert server.gate.stats.evicted == 0
    finally:
        for writer in busy:
            writer.close()

"""The ingest API under a hostile agent, on a real uvicorn server on loopback: invented
targets, NaN and Infinity, a clock far ahead, and clients that vanish mid-body."""

from __future__ import annotations

import asyncio
import json
import logging
import math
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from netvigil.agent.tokens import new_token
from netvigil.config.model import AgentConfig, Config, ServiceConfig, VantageConfig
from netvigil.model import Measurement
from netvigil.outcome import Outcome
from netvigil.probes import TCPSpec
from netvigil.store.base import MeasurementQuery
from netvigil.store.sqlite import SQLiteStore
from netvigil.web.app import create_app
from netvigil.web.server import WebServer

TOKEN, TOKEN_HASH = new_token()
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
CONFIG = Config(
    vantage=VantageConfig(name="server"),
    services=[ServiceConfig(name="portal")],
    targets=[TCPSpec(name="portal-tcp", service="portal", host="127.0.0.1", port=9)],
    agents=[AgentConfig(name="mallory", token_sha256=TOKEN_HASH)],
)
BATCHES = 20
PER_BATCH = 5000


def doc(i: int, target: str = "portal-tcp", **changes: Any) -> dict[str, Any]:
    m = Measurement(
        id=f"m{i:09d}",
        ts=time.time() - 1,
        vantage="mallory",
        target=target,
        kind="tcp",
        ok=True,
        outcome=Outcome.OK,
        timings={"total": 0.01},
    ).to_json()
    m.update(changes)
    return m


def body(*docs: dict[str, Any]) -> str:
    return json.dumps({"agent": "mallory", "measurements": list(docs)})  # NaN stays NaN


@pytest.fixture
async def server(tmp_path: Path) -> AsyncIterator[WebServer]:
    async with (
        await SQLiteStore.open(tmp_path / "server.db") as store,
        await WebServer.start(create_app(store, CONFIG)) as web,
    ):
        yield web


async def post(session: aiohttp.ClientSession, url: str, raw: str) -> tuple[int, Any]:
    async with session.post(f"{url}/api/v1/ingest", data=raw, headers=AUTH) as resp:
        return resp.status, await resp.json()


async def test_invented_targets_are_refused_and_nothing_persists(tmp_path: Path) -> None:
    db = tmp_path / "server.db"
    async with (
        await SQLiteStore.open(db) as store,
        await WebServer.start(create_app(store, CONFIG)) as web,
        aiohttp.ClientSession() as session,
    ):
        started = time.monotonic()
        for b in range(BATCHES):  # 100,000 invented targets in all
            docs = [doc(b * PER_BATCH + i, f"invented-{b}-{i}") for i in range(PER_BATCH)]
            status, answer = await post(session, web.url, body(*docs))
            assert status == 422, answer
            assert answer["errors"][0] == (
                f"measurements[0].target: 'invented-{b}-0' is not a target this server knows"
            )
            assert len(answer["errors"]) == 51  # capped, with a count of the rest
        took = time.monotonic() - started
        async with session.get(f"{web.url}/api/v1/targets") as resp:
            listed = await resp.read()
    assert [t["name"] for t in json.loads(listed)] == ["portal-tcp"]
    assert took < 30
    async with await SQLiteStore.open(db) as reopened:  # nothing survives a restart
        assert await reopened.measurements(MeasurementQuery(since=0, limit=10)) == []
        assert await reopened.latest() == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"detail": {"rtt_s": math.nan}}, "measurements[1].detail.rtt_s"),
        ({"detail": {"hops": [1.0, {"rtt": -math.inf}]}}, "measurements[1].detail.hops[1].rtt"),
        ({"timings": {"total": math.inf}}, "measurements[1].timings.total"),
    ],
)
async def test_nan_and_infinity_are_refused(
    server: WebServer, changes: dict[str, Any], field: str
) -> None:
    raw = body(doc(1), doc(2, **changes))
    assert "NaN" in raw or "Infinity" in raw
    async with aiohttp.ClientSession() as session:
        status, answer = await post(session, server.url, raw)
        assert status == 422
        assert [e.split(":")[0] for e in answer["errors"]] == [field]
        async with session.get(f"{server.url}/api/v1/measurements?since=0") as resp:
            assert json.loads(await resp.read())["items"] == []


async def test_a_clock_far_ahead_is_refused(server: WebServer) -> None:
    async with aiohttp.ClientSession() as session:
        status, answer = await post(session, server.url, body(doc(1, ts=time.time() + 300)))
        assert status == 422
        (line,) = answer["errors"]
        assert line.startswith("measurements[0].ts:") and "at most 30 s" in line
        status, _ = await post(session, server.url, body(doc(2, ts=time.time() + 10)))
        assert status == 200


async def test_disconnect_mid_body_logs_one_line_and_no_traceback(
    server: WebServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    raw = body(*(doc(i) for i in range(200))).encode()
    for _ in range(3):
        caplog.clear()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        head = (
            f"POST /api/v1/ingest HTTP/1.1\r\nHost: nv\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(raw)}\r\n\r\n"
        )
        writer.write(head.encode() + raw[: len(raw) // 2])
        await writer.drain()
        await asyncio.sleep(0.1)
        writer.close()
        await asyncio.sleep(0.3)
        records = [r for r in caplog.records if r.levelno >= logging.INFO]
        assert len(records) <= 1, [r.getMessage() for r in records]
        assert all(r.exc_info is None for r in caplog.records)
        assert "Traceback" not in caplog.text
        assert await reader.read() == b""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{server.url}/api/v1/health") as resp,
    ):
        assert resp.status == 200

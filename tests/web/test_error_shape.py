"""Every error the API answers with has the one shape {"ok", "error", "errors", "status"}."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter

from netvigil.agent.tokens import new_token
from netvigil.config.model import AgentConfig, Config
from netvigil.errors import StoreError
from netvigil.store.sqlite import SQLiteStore
from netvigil.web.app import create_app
from netvigil.web.ingest import IngestLimits

TOKEN, TOKEN_HASH = new_token()
GOOD = {"Authorization": f"Bearer {TOKEN}"}


def measurement(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "id": "01JAAAAAAAAAAAAAAAAAAAAAAA",
        "ts": time.time(),
        "vantage": "tirana",
        "target": "portal",
        "kind": "http",
        "ok": True,
        "outcome": "ok",
        "phase": None,
        "timings": {"total": 0.1},
        "detail": {},
        "address": None,
    }
    doc.update(changes)
    return doc


def broken_router() -> APIRouter:
    router = APIRouter()

    @router.get("/broken")
    async def broken() -> None:
        raise RuntimeError("a bug")

    @router.get("/store-down")
    async def store_down() -> None:
        raise StoreError("database is locked")

    @router.get("/typed")
    async def typed(limit: int) -> dict[str, int]:
        return {"limit": limit}

    return router


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    store = await SQLiteStore.open(tmp_path / "shape.db")
    config = Config(agents=[AgentConfig(name="tirana", token_sha256=TOKEN_HASH)])
    app = create_app(
        store,
        config,
        limits=IngestLimits(max_measurements=3, max_body_bytes=4096),
        routers=[broken_router()],
    )
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://nv.test") as c:
        yield c
    await store.close()


BAD_REQUESTS: list[tuple[str, str, str, dict[str, Any], int]] = [
    # (case, method, path, request kwargs, expected status)
    ("unknown path", "GET", "/api/v1/nothing-here", {}, 404),
    ("unknown root path", "GET", "/favicon.ico", {}, 404),
    ("wrong method", "GET", "/api/v1/ingest", {}, 405),
    ("wrong method on health", "DELETE", "/api/v1/health", {}, 405),
    ("no token", "POST", "/api/v1/ingest", {"json": {"agent": "tirana", "measurements": []}}, 401),
    (
        "bad token",
        "POST",
        "/api/v1/ingest",
        {"json": {}, "headers": {"Authorization": "Bearer nope"}},
        401,
    ),
    ("not JSON", "POST", "/api/v1/ingest", {"content": b"\xff\xfe", "headers": GOOD}, 400),
    ("empty body", "POST", "/api/v1/ingest", {"content": b"", "headers": GOOD}, 400),
    ("JSON list", "POST", "/api/v1/ingest", {"json": [1, 2], "headers": GOOD}, 422),
    (
        "bad outcome",
        "POST",
        "/api/v1/ingest",
        {
            "json": {"agent": "tirana", "measurements": [measurement(outcome="down")]},
            "headers": GOOD,
        },
        422,
    ),
    (
        "wrong vantage",
        "POST",
        "/api/v1/ingest",
        {
            "json": {"agent": "tirana", "measurements": [measurement(vantage="x")]},
            "headers": GOOD,
        },
        403,
    ),
    (
        "too many",
        "POST",
        "/api/v1/ingest",
        {"json": {"agent": "tirana", "measurements": [measurement()] * 4}, "headers": GOOD},
        413,
    ),
    ("too large", "POST", "/api/v1/ingest", {"content": b" " * 5000, "headers": GOOD}, 413),
    ("query validation", "GET", "/api/v1/typed?limit=many", {}, 422),
    ("missing query", "GET", "/api/v1/typed", {}, 422),
    ("store down", "GET", "/api/v1/store-down", {}, 503),
    ("a bug", "GET", "/api/v1/broken", {}, 500),
]


@pytest.mark.parametrize(
    ("case", "method", "path", "kwargs", "status"), BAD_REQUESTS, ids=[r[0] for r in BAD_REQUESTS]
)
async def test_error_shape(
    client: httpx.AsyncClient,
    case: str,
    method: str,
    path: str,
    kwargs: dict[str, Any],
    status: int,
) -> None:
    resp = await client.request(method, path, **kwargs)
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    data = resp.json()
    assert list(data) == ["ok", "error", "errors", "status"]
    assert data["ok"] is False
    assert data["status"] == status
    assert isinstance(data["error"], str)
    assert data["error"]
    assert isinstance(data["errors"], list)
    assert all(isinstance(e, str) for e in data["errors"])


async def test_validation_errors_name_the_field(client: httpx.AsyncClient) -> None:
    resp = await client.get("/api/v1/typed?limit=many")
    assert resp.json()["errors"] == [
        "query.limit: Input should be a valid integer, unable to parse string as an integer"
    ]


async def test_not_found_names_the_path(client: httpx.AsyncClient) -> None:
    resp = await client.get("/api/v1/nothing-here")
    assert resp.json()["error"] == "no such endpoint: GET /api/v1/nothing-here"

"""Ingest's trust boundary: which targets an agent may report, finite numbers, clock skew,
requests per agent; and that no answer of the API is JSON that `JSON.parse` refuses."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from netvigil.agent.tokens import new_token
from netvigil.config.model import AgentConfig, Config, ServerConfig, ServiceConfig, VantageConfig
from netvigil.model import Measurement
from netvigil.outcome import Outcome
from netvigil.probes import TCPSpec
from netvigil.store.base import MeasurementQuery
from netvigil.store.sqlite import SQLiteStore
from netvigil.web.app import create_app
from netvigil.web.ingest_policy import IngestRateLimit

TOKEN, TOKEN_HASH = new_token()
NOW = 1_800_000_000.0
AUTH = {"Authorization": f"Bearer {TOKEN}"}
_ids = iter(range(10**9))


def config(**agent: Any) -> Config:
    return Config(
        vantage=VantageConfig(name="server"),
        services=[ServiceConfig(name="portal")],
        targets=[TCPSpec(name="portal-tcp", service="portal", host="127.0.0.1", port=9)],
        agents=[AgentConfig(name="tirana", token_sha256=TOKEN_HASH, **agent)],
        server=ServerConfig(ingest_rate_per_agent=1000, ingest_burst=1000),
    )


def doc(target: str = "portal-tcp", ts: float = NOW - 1, **changes: Any) -> dict[str, Any]:
    m = Measurement(
        id=f"m{next(_ids):08d}",
        ts=ts,
        vantage="tirana",
        target=target,
        kind="tcp",
        ok=True,
        outcome=Outcome.OK,
        timings={"total": 0.01},
    ).to_json()
    m.update(changes)
    return m


def batch(*docs: dict[str, Any]) -> dict[str, Any]:
    return {"agent": "tirana", "measurements": list(docs)}


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    async with await SQLiteStore.open(tmp_path / "server.db") as s:
        yield s


def client_for(store: SQLiteStore, cfg: Config) -> httpx.AsyncClient:
    app = create_app(store, cfg, now=lambda: NOW)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://nv.test")


async def targets_stored(store: SQLiteStore) -> set[str]:
    return {m.target for m in await store.measurements(MeasurementQuery(since=0, limit=10**6))}


async def test_invented_targets_are_refused_naming_index_and_target(store: SQLiteStore) -> None:
    async with client_for(store, config()) as client:
        resp = await client.post(
            "/api/v1/ingest",
            json=batch(doc(), doc("invented-1"), doc(), doc("invented-2")),
            headers=AUTH,
        )
        assert resp.status_code == 422, resp.text
        data = resp.json()
        assert data["errors"] == [
            "measurements[1].target: 'invented-1' is not a target this server knows",
            "measurements[3].target: 'invented-2' is not a target this server knows",
        ]
        assert "0 other(s)" in data["error"]
        listed = (await client.get("/api/v1/targets")).json()
        assert {t["name"] for t in listed} == {"portal-tcp"}
    assert await targets_stored(store) == set()
    async with client_for(store, config()) as client:
        ok = await client.post("/api/v1/ingest", json=batch(doc()), headers=AUTH)
        assert ok.json() == {"ok": True, "accepted": 1, "duplicates": 0}


async def test_allow_list_and_capped_extras(store: SQLiteStore) -> None:
    cfg = config(allow_targets=["mirror"], max_extra_targets=2)
    async with client_for(store, cfg) as client:
        first = await client.post(
            "/api/v1/ingest", json=batch(doc("mirror"), doc("x1"), doc("x2")), headers=AUTH
        )
        assert first.status_code == 200, first.text
        again = await client.post("/api/v1/ingest", json=batch(doc("x2")), headers=AUTH)
        assert again.status_code == 200
        third = await client.post("/api/v1/ingest", json=batch(doc("x1"), doc("x3")), headers=AUTH)
        assert third.status_code == 422
        assert third.json()["errors"] == [
            "measurements[1].target: 'x3' is not a target this server knows"
        ]
    assert await targets_stored(store) == {"mirror", "x1", "x2"}
    # A restarted server counts the extras the store already holds.
    async with client_for(store, cfg) as client:
        resp = await client.post("/api/v1/ingest", json=batch(doc("x4")), headers=AUTH)
        assert resp.status_code == 422
        resp = await client.post("/api/v1/ingest", json=batch(doc("x1")), headers=AUTH)
        assert resp.status_code == 200


@pytest.mark.parametrize(
    ("measurement", "where"),
    [
        (doc(detail={"rtt": math.nan}), "measurements[0].detail.rtt"),
        (
            doc(detail={"hops": [{"rtt": 1.0}, {"rtt": math.inf}]}),
            "measurements[0].detail.hops[1].rtt",
        ),
        (doc(detail={"a": {"b": [0, -math.inf]}}), "measurements[0].detail.a.b[1]"),
        (doc(timings={"total": math.nan}), "measurements[0].timings.total"),
        (doc(timings={"connect": math.inf}), "measurements[0].timings.connect"),
        (doc(ts=math.nan), "measurements[0].ts"),
    ],
)
async def test_non_finite_numbers_are_refused_naming_the_field(
    store: SQLiteStore, measurement: dict[str, Any], where: str
) -> None:
    raw = json.dumps({"agent": "tirana", "measurements": [measurement]})
    assert "NaN" in raw or "Infinity" in raw
    async with client_for(store, config()) as client:
        resp = await client.post("/api/v1/ingest", content=raw, headers=AUTH)
    assert resp.status_code == 422, resp.text
    assert any(line.startswith(f"{where}:") for line in resp.json()["errors"]), resp.json()
    assert await targets_stored(store) == set()


@pytest.mark.parametrize(("ahead_s", "status"), [(29.0, 200), (31.0, 422), (300.0, 422)])
async def test_clock_skew_is_limited_to_max_clock_skew_s(
    store: SQLiteStore, ahead_s: float, status: int
) -> None:
    async with client_for(store, config()) as client:
        resp = await client.post(
            "/api/v1/ingest", json=batch(doc(), doc(ts=NOW + ahead_s)), headers=AUTH
        )
    assert resp.status_code == status, resp.text
    if status == 422:
        (line,) = resp.json()["errors"]
        assert line.startswith("measurements[1].ts:") and "ahead of the server's clock" in line


async def test_configured_skew_applies(store: SQLiteStore) -> None:
    cfg = config().model_copy(update={"server": ServerConfig(max_clock_skew_s=500)})
    async with client_for(store, cfg) as client:
        resp = await client.post("/api/v1/ingest", json=batch(doc(ts=NOW + 300)), headers=AUTH)
    assert resp.status_code == 200, resp.text


async def test_an_agent_over_its_rate_gets_429_with_retry_after(store: SQLiteStore) -> None:
    cfg = config().model_copy(
        update={"server": ServerConfig(ingest_rate_per_agent=0.01, ingest_burst=2)}
    )
    async with client_for(store, cfg) as client:
        answers = [
            await client.post("/api/v1/ingest", json=batch(doc()), headers=AUTH) for _ in range(3)
        ]
    assert [a.status_code for a in answers] == [200, 200, 429]
    refused = answers[2]
    assert refused.json()["status"] == 429
    assert 90 <= int(refused.headers["retry-after"]) <= 100  # one request per 100 s


def test_rate_limit_admits_burst_then_rate() -> None:
    clock = [0.0]
    limit = IngestRateLimit(rate=2.0, burst=3, clock=lambda: clock[0])
    assert [limit.wait_s("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limit.wait_s("a") == pytest.approx(0.5)
    assert limit.wait_s("b") == 0.0  # agents are counted apart
    clock[0] = 0.5
    assert limit.wait_s("a") == 0.0
    assert limit.wait_s("a") == pytest.approx(0.5)
    clock[0] = 100.0
    assert [limit.wait_s("a") for _ in range(4)][-1] > 0  # a quiet spell refills to the burst


def _strict(text: str) -> Any:
    def refuse(constant: str) -> Any:
        raise ValueError(f"{constant} is not JSON")

    return json.loads(text, parse_constant=refuse)


async def test_no_answer_holds_nan_or_infinity(store: SQLiteStore) -> None:
    async with client_for(store, config(max_extra_targets=5)) as client:
        for bad in (
            doc(detail={"v": math.nan}),
            doc(detail={"v": [math.inf]}),
            doc(timings={"total": math.inf}),
            doc("extra", detail={"v": -math.inf}),
        ):
            raw = json.dumps(batch(bad))
            resp = await client.post("/api/v1/ingest", content=raw, headers=AUTH)
            assert resp.status_code == 422
            _strict(resp.text)
        good = await client.post("/api/v1/ingest", json=batch(doc(), doc("extra")), headers=AUTH)
        assert good.status_code == 200
        for path in (
            "/api/v1/health",
            "/api/v1/targets",
            "/api/v1/targets/portal-tcp",
            f"/api/v1/measurements?since={NOW - 60}&target=portal-tcp&target=extra",
            f"/api/v1/rollups?since={NOW - 3600}",
            "/api/v1/services",
            "/api/v1/overview",
            "/api/v1/incidents",
            "/api/v1/vantages",
        ):
            resp = await client.get(path)
            assert resp.status_code == 200, (path, resp.text)
            _strict(resp.text)
    assert await targets_stored(store) == {"portal-tcp", "extra"}


def test_the_default_response_class_writes_null_for_non_finite_numbers() -> None:
    from netvigil.web.app import FiniteJSONResponse

    body = FiniteJSONResponse({"a": math.nan, "b": [math.inf, 1.5]}).body
    assert _strict(bytes(body).decode()) == {"a": None, "b": [None, 1.5]}

"""POST /api/v1/ingest: auth, whole-batch checks, limits, idempotency; refusal stores nothing."""

from __future__ import annotations

import json
import math
import re
import signal
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from netvigil.agent.tokens import new_token
from netvigil.config.model import AgentConfig, Config, ServerConfig, VantageConfig
from netvigil.metrics import Metrics
from netvigil.model import Measurement, Observation
from netvigil.outcome import Outcome, Phase
from netvigil.store.base import MeasurementQuery
from netvigil.store.sqlite import SQLiteStore
from netvigil.web.app import create_app
from netvigil.web.ingest import IngestLimits, parse_batch
from netvigil.web.server import WebServer, bind_socket

TIRANA_TOKEN, TIRANA_HASH = new_token()
DURRES_TOKEN, DURRES_HASH = new_token()
LIMITS = IngestLimits(max_measurements=50, max_body_bytes=64 * 1024)
TARGETS = ("portal", "earlier")
"""The targets the agents may report (the config names none of its own)."""


def auth(token: str = TIRANA_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def make(
    n: int, *, vantage: str = "tirana", target: str = "portal", ts: float | None = None
) -> list[Measurement]:
    now = time.time() if ts is None else ts
    out = []
    for i in range(n):
        ok = i % 3 != 2
        obs = Observation(
            ok=ok,
            outcome=Outcome.OK if ok else Outcome.TCP_REFUSED,
            phase=None if ok else Phase.CONNECT,
            timings={"connect": 0.002, "total": 0.003 + i / 1000},
            detail={} if ok else {"errno": 111},
            address="127.0.0.1",
        )
        out.append(
            Measurement.from_observation(
                obs, vantage=vantage, target=target, kind="tcp", ts=now - i
            )
        )
    return out


def body(ms: list[Measurement], agent: str = "tirana") -> dict[str, Any]:
    return {"agent": agent, "measurements": [m.to_json() for m in ms]}


@pytest.fixture
def config() -> Config:
    return Config(
        vantage=VantageConfig(name="server"),
        agents=[
            AgentConfig(
                name="tirana",
                token_sha256=TIRANA_HASH,
                country="AL",
                in_country=True,
                allow_targets=list(TARGETS),
            ),
            AgentConfig(
                name="durres", token_sha256=DURRES_HASH, country="AL", allow_targets=list(TARGETS)
            ),
        ],
        server=ServerConfig(ingest_rate_per_agent=1e4, ingest_burst=100_000),
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = await SQLiteStore.open(tmp_path / "server.db")
    yield s
    await s.close()


@pytest.fixture
def metrics() -> Metrics:
    return Metrics()


@pytest.fixture
async def client(
    store: SQLiteStore, config: Config, metrics: Metrics
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(store, config, metrics, limits=LIMITS)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://nv.test") as c:
        yield c


async def stored(store: SQLiteStore) -> list[dict[str, Any]]:
    return [m.to_json() for m in await store.measurements(MeasurementQuery(limit=100_000))]


def assert_error(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    data = resp.json()
    assert set(data) == {"ok", "error", "errors", "status"}
    assert data["ok"] is False
    assert data["status"] == status
    return data


async def test_valid_batch_is_stored_durably(client: httpx.AsyncClient, store: SQLiteStore) -> None:
    batch = make(5)
    resp = await client.post("/api/v1/ingest", json=body(batch), headers=auth())
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"ok": True, "accepted": 5, "duplicates": 0}
    got = {m["id"]: m for m in await stored(store)}
    assert got == {m.id: m.to_json() for m in batch}


async def test_duplicate_batch_counts_duplicates(
    client: httpx.AsyncClient, store: SQLiteStore
) -> None:
    batch = make(4)
    first = await client.post("/api/v1/ingest", json=body(batch), headers=auth())
    assert first.json() == {"ok": True, "accepted": 4, "duplicates": 0}
    again = await client.post("/api/v1/ingest", json=body(batch), headers=auth())
    assert again.json() == {"ok": True, "accepted": 0, "duplicates": 4}
    overlap = await client.post("/api/v1/ingest", json=body([*batch[:2], *make(1)]), headers=auth())
    assert overlap.json() == {"ok": True, "accepted": 1, "duplicates": 2}
    assert len(await stored(store)) == 5


async def test_empty_batch_is_accepted(client: httpx.AsyncClient) -> None:
    resp = await client.post("/api/v1/ingest", json=body([]), headers=auth())
    assert resp.json() == {"ok": True, "accepted": 0, "duplicates": 0}


@pytest.mark.parametrize(
    ("headers", "needle"),
    [
        ({}, "missing Authorization header"),
        ({"Authorization": "Basic dGlyYW5hOnNlY3JldA=="}, "must be 'Bearer <token>'"),
        ({"Authorization": "Bearer"}, "must be 'Bearer <token>'"),
        ({"Authorization": "Bearer nv_not-a-real-token"}, "unknown agent token"),
        ({"Authorization": f"Bearer {TIRANA_TOKEN}x"}, "unknown agent token"),
    ],
)
async def test_unauthenticated_is_401_and_nothing_stored(
    client: httpx.AsyncClient, store: SQLiteStore, headers: dict[str, str], needle: str
) -> None:
    resp = await client.post("/api/v1/ingest", json=body(make(3)), headers=headers)
    data = assert_error(resp, 401)
    assert needle in data["error"]
    assert resp.headers["www-authenticate"] == "Bearer"
    assert await stored(store) == []


async def test_wrong_vantage_is_403_naming_the_index(
    client: httpx.AsyncClient, store: SQLiteStore
) -> None:
    batch = make(4)
    batch[2] = make(1, vantage="durres")[0]
    resp = await client.post("/api/v1/ingest", json=body(batch), headers=auth())
    data = assert_error(resp, 403)
    assert data["errors"] == [
        "measurements[2].vantage: 'durres' is not this agent's vantage 'tirana'"
    ]
    # Durres' token cannot ship Tirana's measurements either.
    resp = await client.post(
        "/api/v1/ingest", json=body(make(2), agent="durres"), headers=auth(DURRES_TOKEN)
    )
    assert "measurements[0].vantage" in assert_error(resp, 403)["errors"][0]
    assert await stored(store) == []


async def test_agent_field_must_match_the_token(
    client: httpx.AsyncClient, store: SQLiteStore
) -> None:
    resp = await client.post("/api/v1/ingest", json=body(make(2), agent="durres"), headers=auth())
    data = assert_error(resp, 403)
    assert "token belongs to agent 'tirana'" in data["error"]
    assert await stored(store) == []


def _set(i: int, field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        doc["measurements"][i][field] = value

    return mutate


def _drop(i: int, field: str) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        del doc["measurements"][i][field]

    return mutate


MALFORMED: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("bad outcome", _set(3, "outcome", "tcp_exploded"), "measurements[3].outcome: Input should be"),
    ("missing field", _drop(1, "ts"), "measurements[1].ts: Field required"),
    ("wrong type", _set(2, "ok", "yes"), "measurements[2].ok: Input should be a valid boolean"),
    (
        "ts as text",
        _set(0, "ts", "yesterday"),
        "measurements[0].ts: Input should be a valid number",
    ),
    ("bad phase", _set(4, "phase", "teleport"), "measurements[4].phase: Input should be"),
    ("unknown field", _set(1, "color", "red"), "measurements[1].color: unknown field"),
    ("negative timing", _set(0, "timings", {"total": -1.0}), "measurements[0].timings.total:"),
    ("timing as text", _set(3, "timings", {"tcp": "fast"}), "measurements[3].timings.tcp:"),
    ("empty id", _set(2, "id", ""), "measurements[2].id:"),
    ("not an object", lambda d: d["measurements"].__setitem__(1, 7), "measurements[1]:"),
    ("future ts", _set(0, "ts", time.time() + 3600), "measurements[0].ts:"),
    ("ancient ts", _set(4, "ts", 1.0), "measurements[4].ts:"),
    ("no measurements", lambda d: d.pop("measurements"), "measurements: Field required"),
    ("measurements not a list", lambda d: d.__setitem__("measurements", {}), "measurements:"),
]


@pytest.mark.parametrize(("case", "mutate", "needle"), MALFORMED, ids=[c[0] for c in MALFORMED])
async def test_malformed_batch_is_refused_whole(
    client: httpx.AsyncClient,
    store: SQLiteStore,
    case: str,
    mutate: Callable[[dict[str, Any]], None],
    needle: str,
) -> None:
    earlier = make(3, target="earlier")
    assert (
        await client.post("/api/v1/ingest", json=body(earlier), headers=auth())
    ).status_code == 200
    before = await stored(store)

    doc = body(make(5))
    mutate(doc)
    resp = await client.post("/api/v1/ingest", json=doc, headers=auth())
    data = assert_error(resp, 422)
    assert any(line.startswith(needle) for line in data["errors"]), data
    assert await stored(store) == before


async def test_every_problem_is_named(client: httpx.AsyncClient) -> None:
    doc = body(make(6))
    doc["measurements"][1]["outcome"] = "nope"
    doc["measurements"][4]["ok"] = []
    resp = await client.post("/api/v1/ingest", json=doc, headers=auth())
    errors = assert_error(resp, 422)["errors"]
    assert [e.split(":")[0] for e in errors] == ["measurements[1].outcome", "measurements[4].ok"]


async def test_invalid_json_is_400(client: httpx.AsyncClient, store: SQLiteStore) -> None:
    resp = await client.post(
        "/api/v1/ingest", content=b'{"agent": "tirana", "measurements": [', headers=auth()
    )
    assert "not valid JSON" in assert_error(resp, 400)["error"]
    assert await stored(store) == []


async def test_too_many_measurements_is_413(client: httpx.AsyncClient, store: SQLiteStore) -> None:
    resp = await client.post(
        "/api/v1/ingest", json=body(make(LIMITS.max_measurements + 1)), headers=auth()
    )
    assert "at most 50" in assert_error(resp, 413)["error"]
    assert await stored(store) == []


async def test_too_large_body_is_413(client: httpx.AsyncClient, store: SQLiteStore) -> None:
    doc = body(make(1))
    doc["measurements"][0]["detail"] = {"blob": "x" * LIMITS.max_body_bytes}
    resp = await client.post("/api/v1/ingest", json=doc, headers=auth())
    assert "bytes" in assert_error(resp, 413)["error"]
    assert await stored(store) == []


async def test_real_server_refuses_oversized_body_by_content_length(
    store: SQLiteStore, config: Config
) -> None:
    server = await WebServer.start(create_app(store, config, limits=LIMITS))
    try:
        async with aiohttp.ClientSession() as session:
            big = b"[" + b" " * (LIMITS.max_body_bytes + 10) + b"]"
            async with session.post(
                f"{server.url}/api/v1/ingest", data=big, headers=auth()
            ) as resp:
                assert resp.status == 413
                assert (await resp.json())["status"] == 413
            async with session.post(
                f"{server.url}/api/v1/ingest", json=body(make(2)), headers=auth()
            ) as resp:
                assert await resp.json() == {"ok": True, "accepted": 2, "duplicates": 0}
    finally:
        await server.stop()
    assert len(await stored(store)) == 2


async def test_health_and_metrics(client: httpx.AsyncClient) -> None:
    health = await client.get("/api/v1/health")
    assert health.status_code == 200
    assert health.json()["ok"] is True
    await client.post("/api/v1/ingest", json=body(make(3)), headers=auth())
    await client.post("/api/v1/ingest", json=body(make(1)), headers={})
    text = (await client.get("/metrics")).text
    assert 'netvigil_ingest_batches_total{result="accepted"} 1.0' in text
    assert 'netvigil_ingest_batches_total{result="refused"} 1.0' in text
    assert 'netvigil_ingest_measurements_total{vantage="tirana"} 3.0' in text


def test_parse_batch_returns_measurements() -> None:
    batch = make(3)
    raw = json.dumps(body(batch)).encode()
    assert parse_batch(raw, agent="tirana", limits=LIMITS).measurements == batch


# -- property: arbitrary bodies never cause a 500 and never store anything unless valid --

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
FIELDS = [
    "id",
    "ts",
    "vantage",
    "target",
    "kind",
    "ok",
    "outcome",
    "phase",
    "timings",
    "detail",
    "address",
]


@st.composite
def near_valid_bodies(draw: st.DrawFn) -> bytes:
    docs = [m.to_json() for m in make(draw(st.integers(0, 4)), ts=time.time())]
    mutations = draw(st.sampled_from([0, 0, 1, 2]))
    for doc in docs:
        for _ in range(mutations):
            name = draw(st.sampled_from([*FIELDS, "extra"]))
            if draw(st.booleans()):
                doc[name] = draw(json_values)
            else:
                doc.pop(name, None)
    envelope: Any = {
        "agent": draw(st.sampled_from(["tirana", "tirana", "tirana", "durres", ""])),
        "measurements": docs,
    }
    if draw(st.integers(0, 9)) == 0:
        envelope = draw(json_values)
    return json.dumps(envelope).encode()


bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    near_valid_bodies(),
    near_valid_bodies(),
)


def _number(v: Any) -> float | None:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    try:
        f = float(v)
    except OverflowError:
        return None
    return f if math.isfinite(f) else None


def _all_finite(v: Any) -> bool:
    if isinstance(v, float):
        return math.isfinite(v)
    if isinstance(v, dict):
        return all(_all_finite(x) for x in v.values())
    if isinstance(v, list):
        return all(_all_finite(x) for x in v)
    return True


def _text(v: Any, max_len: int) -> bool:
    return isinstance(v, str) and 0 < len(v) <= max_len


def independently_valid(raw: bytes) -> bool:
    """A second opinion on validity, written without the ingest module."""
    try:
        doc = json.loads(raw)
    except ValueError:
        return False
    if not isinstance(doc, dict) or set(doc) != {"agent", "measurements"}:
        return False
    if doc["agent"] != "tirana" or not isinstance(doc["measurements"], list):
        return False
    now = time.time()
    for m in doc["measurements"]:
        if not isinstance(m, dict) or set(m) - set(FIELDS):
            return False
        if not {"id", "ts", "vantage", "target", "kind", "ok", "outcome"} <= set(m):
            return False
        ts = _number(m["ts"])
        if ts is None or not -90 * 86400 <= ts - now <= LIMITS.max_future_s:
            return False
        if not isinstance(m["id"], str) or not re.fullmatch(r"[0-9A-Za-z_\-]{1,64}", m["id"]):
            return False
        if m["vantage"] != "tirana" or m["target"] not in TARGETS or not _text(m["kind"], 32):
            return False
        if not isinstance(m["ok"], bool) or not isinstance(m["outcome"], str):
            return False
        if m["outcome"] not in {o.value for o in Outcome}:
            return False
        phase = m.get("phase")
        if phase is not None and (
            not isinstance(phase, str) or phase not in {p.value for p in Phase}
        ):
            return False
        timings = m.get("timings", {})
        if not isinstance(timings, dict):
            return False
        if not all((t := _number(v)) is not None and t >= 0 for v in timings.values()):
            return False
        if not isinstance(m.get("detail", {}), dict) or not _all_finite(m.get("detail", {})):
            return False
        address = m.get("address")
        if address is not None and (not isinstance(address, str) or len(address) > 64):
            return False
    return True


@settings(
    max_examples=80,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(raw=bodies)
async def test_arbitrary_bodies_never_500_and_store_only_valid(
    client: httpx.AsyncClient, store: SQLiteStore, raw: bytes
) -> None:
    before = len(await stored(store))
    resp = await client.post("/api/v1/ingest", content=raw, headers=auth())
    after = len(await stored(store))
    event(f"HTTP {resp.status_code}")
    assert resp.status_code < 500, resp.text
    if resp.status_code == 200:
        assert independently_valid(raw), raw
        assert after - before == resp.json()["accepted"]
    else:
        assert_error(resp, resp.status_code)
        assert resp.status_code in (400, 403, 413, 422)
        assert after == before
        assert not independently_valid(raw), (raw, resp.text)


# -- the server that carries ingest: in-loop uvicorn, pre-bound sockets, same-port restart --


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
async def test_server_reports_port_and_restarts_on_it(
    store: SQLiteStore, config: Config, host: str
) -> None:
    sigint = signal.getsignal(signal.SIGINT)
    server = await WebServer.start(create_app(store, config), host=host, port=0)
    port = server.port
    assert port > 0
    assert server.running
    assert signal.getsignal(signal.SIGINT) is sigint  # the host program keeps its signals
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{server.url}/api/v1/health") as resp:
            assert resp.status == 200
        await server.stop()
        assert not server.running
        with pytest.raises(aiohttp.ClientConnectionError):
            async with session.get(f"{server.url}/api/v1/health"):
                pass
        again = await WebServer.start(create_app(store, config), host=host, port=port)
        try:
            assert again.url == server.url
            async with session.get(f"{again.url}/api/v1/health") as resp:
                assert (await resp.json())["ok"] is True
        finally:
            await again.stop()


async def test_server_uses_a_prebound_socket(store: SQLiteStore, config: Config) -> None:
    sock = bind_socket("127.0.0.1", 0)
    port = sock.getsockname()[1]
    async with await WebServer.start(create_app(store, config), sock=sock) as server:
        assert server.port == port
        async with aiohttp.ClientSession() as session, session.get(f"{server.url}/metrics") as resp:
            assert resp.status == 200
            assert "text/plain" in resp.headers["content-type"]


async def test_port_in_use_is_an_oserror(store: SQLiteStore, config: Config) -> None:
    async with await WebServer.start(create_app(store, config)) as server:
        with pytest.raises(OSError):
            await WebServer.start(create_app(store, config), port=server.port)

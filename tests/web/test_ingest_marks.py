"""An agent's mark at the ingest API: taken after the batch it came with, alone when the
agent has nothing to send, refused (with nothing stored) when it is not a plausible time."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from netvigil.agent.tokens import new_token
from netvigil.config.model import AgentConfig, Config, ServerConfig, VantageConfig
from netvigil.model import Measurement, Observation
from netvigil.outcome import Outcome
from netvigil.pipeline.tee import TeeStore
from netvigil.store.base import MeasurementQuery
from netvigil.store.sqlite import SQLiteStore
from netvigil.web.app import create_app

TOKEN, TOKEN_HASH = new_token()
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class Heard:
    """What detection would hear, in order: measurements (through the tee) and marks."""

    def __init__(self) -> None:
        self.items: list[tuple[str, Any]] = []

    def submit(self, m: Measurement) -> None:
        self.items.append(("measurement", m.id))

    def mark(self, agent: str, at: float) -> None:
        self.items.append(("mark", (agent, at)))

    @property
    def marks(self) -> list[float]:
        """The marks heard, in order."""
        return [item[1] for kind, item in self.items if kind == "mark"]


def make(n: int, start: float) -> list[Measurement]:
    obs = Observation(ok=True, outcome=Outcome.OK, timings={"total": 0.01})
    return [
        Measurement.from_observation(
            obs, vantage="tirana", target="portal", kind="tcp", ts=start + i
        )
        for i in range(n)
    ]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = await SQLiteStore.open(tmp_path / "server.db")
    yield s
    await s.close()


@pytest.fixture
def heard() -> Heard:
    return Heard()


@pytest.fixture
async def client(store: SQLiteStore, heard: Heard) -> AsyncIterator[httpx.AsyncClient]:
    config = Config(
        vantage=VantageConfig(name="server"),
        agents=[AgentConfig(name="tirana", token_sha256=TOKEN_HASH, allow_targets=["portal"])],
        server=ServerConfig(ingest_rate_per_agent=1e4, ingest_burst=10_000, max_clock_skew_s=30),
    )
    app = create_app(TeeStore(store, [heard]), config, on_mark=heard.mark)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://nv.test") as c:
        yield c


async def test_a_mark_is_heard_after_the_batch_it_came_with(
    client: httpx.AsyncClient, heard: Heard, store: SQLiteStore
) -> None:
    now = time.time()
    batch = make(3, now - 5)
    body = {"agent": "tirana", "measurements": [m.to_json() for m in batch], "mark": now - 1}
    resp = await client.post("/api/v1/ingest", json=body, headers=AUTH)
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"ok": True, "accepted": 3, "duplicates": 0}
    assert heard.items == [("measurement", m.id) for m in batch] + [("mark", ("tirana", now - 1))]
    assert len(await store.measurements(MeasurementQuery(limit=10))) == 3


async def test_a_mark_alone_is_taken(client: httpx.AsyncClient, heard: Heard) -> None:
    at = time.time()
    resp = await client.post(
        "/api/v1/ingest", json={"agent": "tirana", "measurements": [], "mark": at}, headers=AUTH
    )
    assert resp.status_code == 200, resp.text
    assert resp.json() == {"ok": True, "accepted": 0, "duplicates": 0}
    assert heard.items == [("mark", ("tirana", at))]


@pytest.mark.parametrize(
    ("mark", "status", "says"),
    [
        (time.time() + 3600, 422, "mark: more than 30 s ahead of the server's clock"),
        ("soon", 422, "mark"),
        (None, 200, None),
    ],
    ids=["an-hour-ahead", "not-a-number", "none"],
)
async def test_an_implausible_mark_refuses_the_batch_whole(
    client: httpx.AsyncClient,
    heard: Heard,
    store: SQLiteStore,
    mark: Any,
    status: int,
    says: str | None,
) -> None:
    batch = make(2, time.time() - 3)
    body: dict[str, Any] = {"agent": "tirana", "measurements": [m.to_json() for m in batch]}
    if mark is not None:
        body["mark"] = mark
    resp = await client.post("/api/v1/ingest", json=body, headers=AUTH)
    assert resp.status_code == status, resp.text
    stored = await store.measurements(MeasurementQuery(limit=10))
    if status == 200:
        assert len(stored) == 2
        assert ("mark", ("tirana", mark)) not in heard.items
        return
    data = resp.json()
    assert any(line.startswith(says) for line in data["errors"]), data
    assert stored == [] and heard.items == []  # nothing stored, nothing heard


async def test_a_nan_mark_is_refused(client: httpx.AsyncClient, heard: Heard) -> None:
    raw = b'{"agent": "tirana", "measurements": [], "mark": NaN}'
    resp = await client.post(
        "/api/v1/ingest", content=raw, headers={**AUTH, "Content-Type": "application/json"}
    )
    assert resp.status_code in (400, 422), resp.text
    assert heard.items == []

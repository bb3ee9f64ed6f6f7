"""Fixtures for the agent tests: a server store, its config, and measurement makers."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from netvigil.agent.tokens import new_token
from netvigil.config.model import AgentConfig, Config, ServerConfig, VantageConfig
from netvigil.model import Measurement, Observation
from netvigil.outcome import Outcome, Phase
from netvigil.store.sqlite import SQLiteStore

AGENT = "tirana"
TOKEN, TOKEN_HASH = new_token()


def make_measurements(n: int, *, vantage: str = AGENT, target: str = "portal") -> list[Measurement]:
    """`n` measurements, oldest first, one millisecond apart."""
    start = time.time() - 1.0
    out = []
    for i in range(n):
        ok = i % 4 != 3
        obs = Observation(
            ok=ok,
            outcome=Outcome.OK if ok else Outcome.TCP_TIMEOUT,
            phase=None if ok else Phase.CONNECT,
            timings={"total": 0.001 * (i + 1)},
        )
        out.append(
            Measurement.from_observation(
                obs, vantage=vantage, target=target, kind="tcp", ts=start + i / 1000
            )
        )
    return out


MakeMeasurements = Callable[..., list[Measurement]]


@pytest.fixture
def make() -> MakeMeasurements:
    """`make(n, vantage=..., target=...)`: fresh measurements, oldest first."""
    return make_measurements


@pytest.fixture
def token() -> str:
    """The bearer token `server_config` accepts for agent 'tirana'."""
    return TOKEN


@pytest.fixture
def server_config() -> Config:
    return Config(
        vantage=VantageConfig(name="server"),
        agents=[
            AgentConfig(
                name=AGENT,
                token_sha256=TOKEN_HASH,
                country="AL",
                allow_targets=["portal", "loopback-tcp", "server-health"],
            )
        ],
        server=ServerConfig(ingest_rate_per_agent=1000, ingest_burst=1000),
    )


@pytest.fixture
async def server_store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    store = await SQLiteStore.open(tmp_path / "server.db")
    yield store
    await store.close()

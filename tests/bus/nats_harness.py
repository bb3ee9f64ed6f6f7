"""The bus tests' harness: a nats-server with users, measurements, polling helpers."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from nats.aio.client import Client

from netvigil.bus import (
    NATSServer,
    StreamNames,
    TargetShards,
    connect,
    ensure_consumer,
    ensure_streams,
    measurement_subject,
)
from netvigil.config.model import BusConfig, Config
from netvigil.model import Measurement, Observation
from netvigil.outcome import Outcome
from netvigil.store.base import MeasurementQuery
from netvigil.store.sqlite import SQLiteStore

AGENTS = ("tirana", "durres")
COLLECTOR = "collector"
SHARDS = TargetShards(Config())
"""The shards of targets no config names: each target is its own incident group."""


def subject_of(m: Measurement, vantage: str | None = None) -> str:
    """The subject `m` is published on (as `vantage`, by default its own)."""
    return measurement_subject(vantage or m.vantage, SHARDS.token(m.target))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Bus:
    """A running nats-server with its users' passwords."""

    server: NATSServer
    passwords: dict[str, str]
    tmp: Path
    clients: list[Client] = field(default_factory=list)

    @property
    def url(self) -> str:
        return self.server.url

    def config(self, user: str = COLLECTOR, **overrides: object) -> BusConfig:
        """`[bus]` for `user` ("collector", or an agent's vantage)."""
        name = user if user == COLLECTOR else f"agent-{user}"
        settings: dict[str, object] = {
            "kind": "nats",
            "url": self.url,
            "user": name,
            "password": self.passwords[user],
            "ack_wait_s": 2.0,
        }
        settings.update(overrides)
        return BusConfig.model_validate(settings)

    async def connect(self, user: str = COLLECTOR) -> Client:
        nc = await connect(self.config(user), name=f"test {user}")
        self.clients.append(nc)
        return nc

    async def setup(self, consumer: str = "netvigil-collector", ack_wait_s: float = 2.0) -> None:
        """Streams and the durable consumer, as the collector sets them up."""
        nc = await self.connect()
        js = nc.jetstream()
        await ensure_streams(js, StreamNames())
        await ensure_consumer(js, StreamNames().measurements, consumer, ack_wait_s=ack_wait_s)


def make_measurements(
    n: int, *, vantage: str = "tirana", target: str = "portal"
) -> list[Measurement]:
    """`n` fresh measurements, oldest first."""
    start = time.time()
    out = []
    for i in range(n):
        obs = Observation(ok=True, outcome=Outcome.OK, timings={"total": 0.001 * (i % 100 + 1)})
        out.append(
            Measurement.from_observation(
                obs, vantage=vantage, target=target, kind="tcp", ts=start + i / 1000
            )
        )
    return out


async def stored_ids(store: SQLiteStore) -> list[str]:
    """Every measurement id in the store (with repeats, if any were stored twice)."""
    rows = await store.measurements(MeasurementQuery(limit=1_000_000))
    return [m.id for m in rows]


async def wait_for(
    check: Callable[[], Awaitable[bool]], timeout_s: float, what: str, step_s: float = 0.05
) -> None:
    """Poll `check` until it holds; fail with `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(step_s)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")

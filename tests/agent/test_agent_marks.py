"""An agent's mark: sent with a batch that holds everything waiting, alone when nothing
waits, never with a full batch; and with it the server's detection opens an agent's
incident without waiting out its lateness."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from agent.test_ship import FAST, run_until
from netvigil.agent.runner import run_agent
from netvigil.agent.ship import Shipper
from netvigil.agent.spool import Spool
from netvigil.config.model import Config, SchedulerConfig, ServiceConfig, VantageConfig
from netvigil.model import Measurement
from netvigil.pipeline.detection import LiveDetection
from netvigil.pipeline.tee import TeeStore
from netvigil.probes import TCPSpec
from netvigil.store.sqlite import SQLiteStore
from netvigil.web.app import create_app
from netvigil.web.server import WebServer
from web.test_ingest_marks import Heard

Make = Callable[..., list[Measurement]]


class Mark:
    """An agent's mark by hand (a scheduler's watermark)."""

    def __init__(self, at: float) -> None:
        self.at = at

    def __call__(self) -> float:
        return self.at


async def eventually(check: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


@pytest.fixture
async def spool(tmp_path: Path) -> AsyncIterator[Spool]:
    s = await Spool.open(tmp_path / "spool.db")
    yield s
    await s.close()


@pytest.fixture
def heard() -> Heard:
    return Heard()


@pytest.fixture
async def server(
    server_store: SQLiteStore, server_config: Config, heard: Heard
) -> AsyncIterator[WebServer]:
    app = create_app(TeeStore(server_store, [heard]), server_config, on_mark=heard.mark)
    web = await WebServer.start(app)
    yield web
    await web.stop()


async def ship(shipper: Shipper, until: Callable[[], bool]) -> None:
    async def done() -> bool:
        return until()

    await run_until(shipper, done)


async def test_a_batch_holding_everything_waiting_carries_the_mark(
    make: Make, token: str, spool: Spool, server: WebServer, heard: Heard
) -> None:
    batch = make(3)
    mark = Mark(batch[-1].ts + 0.5)
    for m in batch:
        spool.submit(m)
    shipper = Shipper(spool, server.url, token, "tirana", batch_size=10, mark=mark, **FAST)
    await ship(shipper, lambda: bool(heard.marks))
    mine = [("measurement", m.id) for m in batch] + [("mark", ("tirana", mark.at))]
    assert heard.items[:4] == mine
    assert shipper.stats.marks >= 1


async def test_a_full_batch_carries_no_mark(
    make: Make, token: str, spool: Spool, server: WebServer, heard: Heard
) -> None:
    batch = make(5)
    mark = Mark(batch[-1].ts + 0.5)
    for m in batch:
        spool.submit(m)
    shipper = Shipper(spool, server.url, token, "tirana", batch_size=2, mark=mark, **FAST)
    await ship(shipper, lambda: bool(heard.marks))
    first_mark = heard.items.index(("mark", ("tirana", mark.at)))
    # The mark came only once all five were in: never behind a full batch of two.
    assert [kind for kind, _ in heard.items[:first_mark]] == ["measurement"] * 5


async def test_with_nothing_waiting_the_mark_goes_alone_once_it_has_moved(
    token: str, spool: Spool, server: WebServer, heard: Heard
) -> None:
    mark = Mark(time.time())
    shipper = Shipper(spool, server.url, token, "tirana", mark=mark, **FAST)
    stop = asyncio.Event()
    task = asyncio.create_task(shipper.run(stop, drain_timeout_s=0))
    try:
        await eventually(lambda: heard.marks == [mark.at])
        await asyncio.sleep(0.3)  # several polls: the mark has not moved, nothing is sent
        assert heard.marks == [mark.at]
        mark.at += 1.0
        await eventually(lambda: heard.marks[-1:] == [mark.at])
    finally:
        stop.set()
        await task
    assert heard.items == [("mark", ("tirana", at)) for at in heard.marks]  # none waited


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_an_agents_incident_opens_without_waiting_out_the_lateness(
    tmp_path: Path, token: str, server_config: Config, server_store: SQLiteStore
) -> None:
    """A real agent probes a refused port every second and ships to a real server whose
    detection waits 60 s for stragglers: with the agent's marks the incident opens
    within seconds, and nothing the agent sent is dropped as late."""
    lateness_s = 60.0
    portal = TCPSpec(
        name="portal", service="e-albania", host="127.0.0.1", port=_closed_port(), interval_s=1
    )
    services = [ServiceConfig(name="e-albania")]
    config = Config.model_validate(
        {**server_config.model_dump(), "targets": [portal.model_dump()], "services": services}
    )
    detection = LiveDetection(config, server_store, lateness_s=lateness_s, threaded=True)
    await detection.start()
    app = create_app(TeeStore(server_store, [detection]), config, on_mark=detection.mark)
    web = await WebServer.start(app)
    agent_config = Config(
        vantage=VantageConfig(name="tirana"),
        scheduler=SchedulerConfig(jitter=0),
        targets=[portal],
        services=services,
    )
    stop = asyncio.Event()
    started = time.monotonic()
    agent = asyncio.create_task(
        run_agent(agent_config, web.url, token, stop, spool_path=tmp_path / "spool.db", poll_s=0.2)
    )
    try:
        await eventually(lambda: bool(detection.open_incidents()), timeout_s=lateness_s / 3)
        opened_after = time.monotonic() - started
    finally:
        stop.set()
        stats = await agent
        await web.stop()
        await detection.stop()
    assert opened_after < lateness_s / 3
    assert stats.marks > 0
    assert detection.late == 0
    incident = detection.open_incidents()[0]
    assert incident.targets == ["portal"]

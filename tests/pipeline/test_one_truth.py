"""One truth for "what is up": every reader says the same thing at every step.

One stream of measurements goes through the pipeline as `netvigil run` wires it (the tee
the ingest API writes to, live detection keeping the current state, the web state reading
it). After each step the API, the public status page, `netvigil status --json` (a separate
process reading the store), the live change feed the SSE stream serves, and the detector
must agree on every path, target, service and vantage.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from netvigil.config import load_config
from netvigil.maintenance import Mute
from netvigil.model import Measurement, new_measurement_id
from netvigil.outcome import Outcome, Phase
from netvigil.pipeline.detection import LiveDetection
from netvigil.pipeline.tee import TeeStore
from netvigil.state.current import CurrentState
from netvigil.store.sqlite import SQLiteStore
from netvigil.web.app import create_app
from netvigil.web.state import Change, LiveState, Subscription
from netvigil.words import state_word

INTERVAL = 10.0
TARGETS = ("portal-tcp", "tax-tcp", "ctl-a", "ctl-b")
VANTAGES = ("local", "tirana", "frankfurt")

CONFIG = f"""
[vantage]
name = "local"
country = "AL"
in_country = true

[[networks]]
name = "gov"

[[services]]
name = "portal"
network = "gov"

[[services]]
name = "tax"

[[targets]]
name = "portal-tcp"
service = "portal"
kind = "tcp"
host = "192.0.2.10"
port = 443
interval_s = {INTERVAL}

[[targets]]
name = "tax-tcp"
service = "tax"
kind = "tcp"
host = "198.51.100.20"
port = 443
interval_s = {INTERVAL}

[[targets]]
name = "ctl-a"
control = true
kind = "tcp"
host = "203.0.113.1"
port = 443
interval_s = {INTERVAL}

[[targets]]
name = "ctl-b"
control = true
kind = "tcp"
host = "203.0.113.2"
port = 443
interval_s = {INTERVAL}

[[agents]]
name = "tirana"
token_sha256 = "{"a" * 64}"
country = "AL"
in_country = true

[[agents]]
name = "frankfurt"
token_sha256 = "{"b" * 64}"
country = "DE"
in_country = false

[store]
path = "nv.db"
"""


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Pipeline:
    config_path: Path
    clock: Clock
    store: SQLiteStore
    ingested: TeeStore
    detection: LiveDetection
    web_state: LiveState
    client: httpx.AsyncClient
    feed: Subscription
    pairs_seen: dict[tuple[str, str], bool] = field(default_factory=dict)

    async def round(self, failing: set[tuple[str, str]]) -> None:
        """One probe of every path, one interval later; `failing` (target, vantage) fail."""
        self.clock.now += INTERVAL
        batch = [
            _measurement(t, v, self.clock.now, ok=(t, v) not in failing)
            for t in TARGETS
            for v in VANTAGES
        ]
        await self.ingested.add(batch)
        self.clock.now += 0.5
        self.detection.tick()  # lateness 0: everything taken is processed
        await self.store.flush()
        while not self.feed.queue.empty():
            change: Change = self.feed.queue.get_nowait()
            if change.kind == "state":
                key = (change.data["target"], change.data["vantage"])
                self.pairs_seen[key] = change.data["ok"]


def _measurement(target: str, vantage: str, ts: float, *, ok: bool) -> Measurement:
    return Measurement(
        id=new_measurement_id(ts),
        ts=ts,
        vantage=vantage,
        target=target,
        kind="tcp",
        ok=ok,
        outcome=Outcome.OK if ok else Outcome.TCP_TIMEOUT,
        phase=None if ok else Phase.CONNECT,
        timings={"connect": 0.01, "total": 0.01} if ok else {},
        detail={},
        address="192.0.2.10",
    )


@pytest.fixture
async def pipeline(tmp_path: Path) -> AsyncIterator[Pipeline]:
    config_path = tmp_path / "netvigil.toml"
    config_path.write_text(CONFIG)
    config = load_config(config_path)
    clock = Clock(time.time() - 3600)
    current = CurrentState(config)
    async with await SQLiteStore.open(tmp_path / "nv.db") as store:
        web_state = LiveState(config, current=current, now=clock)
        detection = LiveDetection(
            config, store, sinks=[web_state.events], lateness_s=0.0, clock=clock, state=current
        )
        async with detection:
            ingested = TeeStore(store, [detection, web_state])
            app = create_app(ingested, config, state=web_state, now=clock)
            feed = web_state.subscribe(maxsize=10_000)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://nv.test") as c:
                yield Pipeline(config_path, clock, store, ingested, detection, web_state, c, feed)


async def cli_status(config_path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "netvigil",
        "status",
        "-c",
        str(config_path),
        "--json",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode in (0, 1), err.decode()
    rows = [json.loads(line) for line in out.decode().splitlines()]
    return {(r["target"], r["vantage"]): r for r in rows}


async def everyone_agrees(p: Pipeline, *, muted: str | None = None) -> dict[str, Any]:
    """Ask every reader; assert they agree; return what they said."""
    api_targets = {}
    for t in TARGETS:
        resp = await p.client.get(f"/api/v1/targets/{t}")
        assert resp.status_code == 200, resp.text
        api_targets[t] = resp.json()
    api_pairs = {
        (t, v["vantage"]): v["ok"] for t, body in api_targets.items() for v in body["vantages"]
    }
    cli = await cli_status(p.config_path)
    cli_pairs = {key: row["ok"] for key, row in cli.items()}
    detector = p.detection.detector.state
    now = p.clock.now
    detector_pairs = {
        (t, pair.vantage): pair.ok for t in TARGETS for pair in detector.target(t, now).pairs
    }
    assert api_pairs == cli_pairs == detector_pairs, (api_pairs, cli_pairs, detector_pairs)
    assert p.pairs_seen == api_pairs  # the newest change on the feed of every path

    services = {s["name"]: s["status"] for s in (await p.client.get("/api/v1/services")).json()}
    page = (await p.client.get("/status")).text
    for name, status in services.items():
        assert detector.service(name, now).status == status
        row = page[page.index(f">{name}<") :][:600]
        word = state_word(status)
        assert word[:1].upper() + word[1:] in row, (name, status, row)
    for t in TARGETS:
        assert (api_targets[t]["muted"] is not None) == (t == muted)
        assert detector.target(t, now).status == api_targets[t]["status"]

    vantages = {v["name"]: v["health"] for v in (await p.client.get("/api/v1/vantages")).json()}
    impaired = {v for v, health in vantages.items() if health == "impaired"}
    assert impaired == detector.paths.impaired
    api_incidents = {i["id"] for i in (await p.client.get("/api/v1/incidents?open=true")).json()}
    assert api_incidents == {i.id for i in p.detection.detector.open_incidents()}
    return {"services": services, "vantages": vantages, "pairs": api_pairs}


async def test_every_reader_says_the_same_thing_at_every_step(pipeline: Pipeline) -> None:
    p = pipeline
    for _ in range(3):
        await p.round(set())
    said = await everyone_agrees(p)
    assert set(said["services"].values()) == {"working"}
    assert all(said["pairs"].values())

    # The portal fails from tirana only: one path failing, the service degraded.
    for _ in range(3):
        await p.round({("portal-tcp", "tirana")})
    said = await everyone_agrees(p)
    assert said["pairs"][("portal-tcp", "tirana")] is False
    assert said["services"]["portal"] == "degraded"
    assert said["vantages"]["tirana"] == "healthy"

    # Tirana's controls fail too: the vantage itself is impaired.
    broken = {("portal-tcp", "tirana"), ("ctl-a", "tirana"), ("ctl-b", "tirana")}
    for _ in range(3):
        await p.round(broken)
    said = await everyone_agrees(p)
    assert said["vantages"]["tirana"] == "impaired"

    # The portal is muted for maintenance, then the mute is lifted.
    p.web_state.mute(Mute("portal-tcp", until=p.clock.now + 3600, note="router swap"))
    await p.round(broken)
    said = await everyone_agrees(p, muted="portal-tcp")
    assert said["services"]["portal"] == "maintenance"
    assert p.web_state.unmute("portal-tcp")
    await p.round(broken)
    said = await everyone_agrees(p)
    assert said["services"]["portal"] == "degraded"

    # Everything answers again: two answers in a row recover every path.
    for _ in range(2):
        await p.round(set())
    said = await everyone_agrees(p)
    assert set(said["services"].values()) == {"working"}
    assert said["vantages"]["tirana"] == "healthy"

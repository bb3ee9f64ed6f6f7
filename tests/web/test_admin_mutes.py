"""Mutes set through the admin API reach live detection: their incidents are stored
labelled maintenance and no alert goes out for them.

Wired as `netvigil run` wires it: a real SQLiteStore, the web's LiveState, LiveDetection
with an AlertDispatcher whose webhook posts to a real receiver on 127.0.0.1, and the app
(its measurements arrive through the TeeStore the ingest API writes to).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from apidata import measurement

from netvigil.config.model import (
    AgentConfig,
    Config,
    NetworkConfig,
    ServiceConfig,
    VantageConfig,
)
from netvigil.incident import Incident, IncidentState
from netvigil.maintenance import Mute
from netvigil.model import Measurement
from netvigil.notify import AlertDispatcher, AlertPolicy, WebhookNotifier
from netvigil.pipeline.detection import LiveDetection
from netvigil.pipeline.tee import TeeStore
from netvigil.probes import TCPSpec
from netvigil.store.base import IncidentQuery
from netvigil.store.sqlite import SQLiteStore
from netvigil.web.app import create_app
from netvigil.web.state import LiveState
from netvigil.web.tokens import create_admin_token
from notify.helpers import SECRET, Receiver, serving_receiver

T0 = 1_800_000_000.0  # 2027-01-15 08:00 UTC
INTERVAL = 10.0
VANTAGES = ("tirana", "frankfurt")
UNTIL = T0 + 7200.0
MUTE_NOTE = "muted until 2027-01-15 10:00 UTC: router swap"


def make_config() -> Config:
    """The portal on the government network, the tax office on another, one control."""
    return Config(
        vantage=VantageConfig(name="tirana", country="AL", in_country=True),
        networks=[NetworkConfig(name="gov"), NetworkConfig(name="other")],
        services=[
            ServiceConfig(name="portal", network="gov"),
            ServiceConfig(name="tax", network="other"),
        ],
        targets=[
            TCPSpec(
                name="portal-tcp",
                service="portal",
                host="192.0.2.10",
                port=443,
                interval_s=INTERVAL,
            ),
            TCPSpec(
                name="tax-tcp", service="tax", host="198.51.100.20", port=443, interval_s=INTERVAL
            ),
            TCPSpec(
                name="control", control=True, host="203.0.113.1", port=443, interval_s=INTERVAL
            ),
        ],
        agents=[AgentConfig(name="frankfurt", token_sha256="0" * 64, country="DE")],
    )


def measurements(start: float, end: float, failing: set[str]) -> list[Measurement]:
    """Every target from every vantage each INTERVAL in [start, end); `failing` time out."""
    out = []
    ts = start
    while ts < end:
        for i, target in enumerate(("portal-tcp", "tax-tcp", "control")):
            for j, vantage in enumerate(VANTAGES):
                at = ts + 0.3 * i + 0.1 * j
                ok = target not in failing
                out.append(measurement(target, vantage, at, ok))
        ts += INTERVAL
    return out


class Clock:
    """The wall clock of the app, the live state and detection, moved by the test."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@dataclass
class Rig:
    """The running pieces: feed measurements with `feed`, talk HTTP with `client`."""

    clock: Clock
    store: SQLiteStore
    ingested: TeeStore
    detection: LiveDetection
    dispatcher: AlertDispatcher
    receiver: Receiver
    client: httpx.AsyncClient
    auth: dict[str, str]

    async def feed(self, batch: list[Measurement]) -> None:
        """Write a batch as the ingest API does, with the clock at its end."""
        for m in batch:
            self.clock.now = max(self.clock.now, m.ts)
        await self.ingested.add(batch)

    async def settle(self) -> list[Incident]:
        """Let detection process what it holds and alerts go out; the stored incidents."""
        self.clock.now += self.detection.detector.lateness_s + 1.0
        self.detection.tick()
        assert await self.dispatcher.wait_idle(5)
        await self.store.flush()
        return await self.store.incidents(IncidentQuery())

    def alerts(self) -> list[tuple[str, list[str]]]:
        """(kind, targets) of every webhook delivery so far."""
        return [(d.json["kind"], d.json["incident"]["targets"]) for d in self.receiver.deliveries]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A webhook receiver on 127.0.0.1 (POST /hook)."""
    async with serving_receiver() as rec:
        yield rec


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "nv.db"


async def start_rig(db_path: Path, receiver: Receiver) -> AsyncIterator[Rig]:
    config = make_config()
    clock = Clock(T0)
    hook = WebhookNotifier(
        receiver.url, secret=SECRET, name="hook", timeout_s=2.0, backoff_s=0.01, max_attempts=2
    )
    dispatcher = AlertDispatcher([(hook, AlertPolicy(quiet_period_s=0))])
    async with await SQLiteStore.open(db_path) as store, dispatcher:
        web_state = LiveState(config, now=clock)
        detection = LiveDetection(
            config, store, sinks=[dispatcher, web_state.events], lateness_s=5.0, clock=clock
        )
        web_state.add_mute_listener(detection.set_mutes)
        async with detection:
            ingested = TeeStore(store, [detection, web_state])
            app = create_app(ingested, config, state=web_state, now=clock)
            token = create_admin_token(store, "alice")
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://nv.test") as c:
                yield Rig(
                    clock,
                    store,
                    ingested,
                    detection,
                    dispatcher,
                    receiver,
                    c,
                    {"Authorization": f"Bearer {token}"},
                )


@pytest.fixture
async def rig(db_path: Path, receiver: Receiver) -> AsyncIterator[Rig]:
    async for r in start_rig(db_path, receiver):
        yield r


def ok(resp: httpx.Response, status: int = 200) -> Any:
    assert resp.status_code == status, resp.text
    return resp.json()


def by_target(incidents: list[Incident], target: str) -> list[Incident]:
    return [i for i in incidents if target in i.targets]


async def test_a_muted_target_is_recorded_as_maintenance_and_not_alerted(rig: Rig) -> None:
    await rig.feed(measurements(T0, T0 + 120, set()))
    muted = ok(
        await rig.client.put(
            "/api/v1/admin/mutes/portal-tcp",
            json={"until": UNTIL, "note": "router swap"},
            headers=rig.auth,
        )
    )
    assert muted["target"] == "portal-tcp"
    # The portal goes down while muted; the tax office, not muted, goes down a bit later.
    await rig.feed(measurements(T0 + 120, T0 + 240, {"portal-tcp"}))
    await rig.feed(measurements(T0 + 240, T0 + 420, {"portal-tcp", "tax-tcp"}))
    incidents = await rig.settle()

    [portal] = by_target(incidents, "portal-tcp")
    assert portal.targets == ["portal-tcp"]
    assert portal.state is IncidentState.CONFIRMED
    assert portal.maintenance == MUTE_NOTE
    events = await rig.store.incident_events(portal.id)
    assert events
    assert all(e.quiet for e in events)
    [tax] = by_target(incidents, "tax-tcp")
    assert tax.state is IncidentState.CONFIRMED
    assert tax.maintenance is None

    # The tax office's confirmation was alerted (alerts do go out), the portal's nothing.
    await rig.receiver.wait_for(1)
    assert rig.alerts() == [("confirmed", ["tax-tcp"])]
    assert rig.dispatcher.stats()["hook"].skipped["quiet"] >= 1


async def test_after_the_mute_is_lifted_alerts_go_out_again(rig: Rig) -> None:
    ok(
        await rig.client.put(
            "/api/v1/admin/mutes/portal-tcp",
            json={"until": UNTIL, "note": "router swap"},
            headers=rig.auth,
        )
    )
    await rig.feed(measurements(T0, T0 + 60, set()))
    await rig.feed(measurements(T0 + 60, T0 + 240, {"portal-tcp"}))
    await rig.feed(measurements(T0 + 240, T0 + 360, set()))  # back: resolved, quietly
    [first] = await rig.settle()
    assert first.state is IncidentState.RESOLVED
    assert first.maintenance == MUTE_NOTE
    resp = await rig.client.delete("/api/v1/admin/mutes/portal-tcp", headers=rig.auth)
    assert resp.status_code == 204

    await rig.feed(measurements(T0 + 360, T0 + 600, {"portal-tcp"}))  # down again, unmuted
    incidents = await rig.settle()
    [second] = [i for i in incidents if i.id != first.id]
    assert second.maintenance is None
    assert not any(e.quiet for e in await rig.store.incident_events(second.id))
    await rig.receiver.wait_for(1)
    assert rig.alerts() == [("confirmed", ["portal-tcp"])]
    assert rig.receiver.deliveries[0].json["incident"]["id"] == second.id


async def test_mutes_kept_in_the_admin_tables_apply_from_start(
    db_path: Path, receiver: Receiver
) -> None:
    async with await SQLiteStore.open(db_path, now=lambda: T0) as store:
        await store.set_mute("portal-tcp", UNTIL, "router swap")
    async for rig in start_rig(db_path, receiver):
        assert ok(await rig.client.get("/api/v1/admin/mutes", headers=rig.auth))[0]["until"] == (
            UNTIL
        )
        await rig.feed(measurements(T0, T0 + 300, {"portal-tcp"}))
        [portal] = await rig.settle()
        assert portal.state is IncidentState.CONFIRMED
        assert portal.maintenance == MUTE_NOTE
    assert receiver.deliveries == []


def test_mute_listeners_hear_every_change() -> None:
    state = LiveState(make_config(), now=lambda: T0)
    state.mute(Mute("tax-tcp", UNTIL, "before"))
    heard: list[list[str]] = []

    def broken(mutes: list[Mute]) -> None:
        raise RuntimeError("listener bug")

    state.add_mute_listener(broken)  # logged, and the others still hear
    state.add_mute_listener(lambda mutes: heard.append(sorted(m.target for m in mutes)))
    state.mute(Mute("portal-tcp", UNTIL))
    assert state.unmute("tax-tcp")
    state.set_mutes([])
    assert heard == [["tax-tcp"], ["portal-tcp", "tax-tcp"], ["portal-tcp"], []]

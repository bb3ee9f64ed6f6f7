"""Maintenance mutes set through one web process's admin API reach the other processes of
a scale-out at once: another web's mute listing, a detector's current state and an
alerter's suppression. Real NATS and PostgreSQL; each process has its own NATS
connection (and the webs their own store connection), as separate processes would."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import nats
import pytest
from cluster_nats import NATSServerProcess
from nats.aio.client import Client
from web_processes import eventually, incident_event, write_config

from netvigil.bus import ensure_streams, publish_incident_event
from netvigil.bus.subjects import StreamNames
from netvigil.cluster import DetectorStats, DetectSettings, run_detector
from netvigil.cluster.alerter import AlerterSettings, run_alerter
from netvigil.cluster.mute_sync import MuteFeed, MuteTable
from netvigil.cluster.shared_alerts import AlerterStats, alert_routes
from netvigil.cluster.web_node import WebSettings, WebStats, run_web
from netvigil.config.load import load_config
from netvigil.config.model import Config
from netvigil.incident import EventKind
from netvigil.maintenance import Mute
from netvigil.store.postgres import PostgresStore
from netvigil.web.tokens import add_admin_token
from notify.helpers import SECRET, Receiver, serving_receiver
from servers.postgres import PostgresServer

MUTED = "portal-tcp"


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with serving_receiver() as rec:
        yield rec


async def _within(check: Callable[[], Awaitable[bool]], seconds: float) -> float:
    """How long until `check()` held (it must within `seconds`)."""
    began = time.monotonic()
    while not await check():
        assert time.monotonic() - began < seconds, f"not within {seconds} s"
        await asyncio.sleep(0.02)
    return time.monotonic() - began


async def _muted_on(client: httpx.AsyncClient, url: str, token: str) -> list[str]:
    resp = await client.get(
        f"{url}/api/v1/admin/mutes", headers={"Authorization": f"Bearer {token}"}
    )
    resp.raise_for_status()
    return [m["target"] for m in resp.json()]


async def test_a_mute_set_through_one_web_reaches_another_web_a_detector_and_an_alerter(
    nats_server: NATSServerProcess,
    postgres_server: PostgresServer,
    receiver: Receiver,
    tmp_path: Path,
) -> None:
    dsn = await postgres_server.database_for(tmp_path)
    notify = f'[[notify]]\nkind = "webhook"\nurl = "{receiver.url}"\nsecret = "{SECRET}"'
    path = write_config(tmp_path / "netvigil.toml", nats_url=nats_server.url, dsn=dsn, extra=notify)
    config = load_config(path)
    conns: list[Client] = [await nats.connect(nats_server.url) for _ in range(4)]
    await ensure_streams(conns[0].jetstream(), StreamNames())
    stop = asyncio.Event()
    webs = [WebStats(), WebStats()]
    detector, alerter = DetectorStats(), AlerterStats()
    tasks: list[asyncio.Task[object]] = []
    try:
        async with (
            await PostgresStore.open(dsn) as store_a,
            await PostgresStore.open(dsn) as store_b,
            httpx.AsyncClient(timeout=5) as client,
        ):
            token = await add_admin_token(store_a, "alice")
            auth = {"Authorization": f"Bearer {token}"}
            tasks = _start(config, conns, (store_a, store_b), stop, webs, detector, alerter)
            await eventually(lambda: all(w.url for w in webs), 30, "both webs serving")
            await eventually(lambda: detector.members == ["d"], 30, "the detector")
            await asyncio.sleep(0.5)  # the alerter's consumer and feed
            first, second = (w.url or "" for w in webs)

            until = time.time() + 3600
            resp = await client.put(
                f"{first}/api/v1/admin/mutes/{MUTED}",
                json={"until": until, "note": "router swap"},
                headers=auth,
            )
            assert resp.status_code == 200, resp.text

            async def web_sees() -> bool:
                return await _muted_on(client, second, token) == [MUTED]

            async def detector_sees() -> bool:
                return detector.muted == [MUTED]

            assert await _within(web_sees, 1.0) < 1.0
            assert await _within(detector_sees, 1.0) < 1.0

            # The alerter suppresses what the detector had judged before the mute.
            js = conns[0].jetstream()
            now = time.time()
            await publish_incident_event(
                js, incident_event("muted", EventKind.CONFIRMED, ts=now, service="portal")
            )
            await publish_incident_event(
                js, incident_event("loud", EventKind.CONFIRMED, ts=now, service="registry")
            )
            await eventually(lambda: alerter.acked == 2, 15, "both events handled")
            assert [d.json["incident"]["id"] for d in receiver.deliveries] == ["loud"]

            resp = await client.delete(f"{second}/api/v1/admin/mutes/{MUTED}", headers=auth)
            assert resp.status_code == 204, resp.text

            async def first_sees_lifted() -> bool:
                return await _muted_on(client, first, token) == []

            async def detector_sees_lifted() -> bool:
                return detector.muted == []

            assert await _within(first_sees_lifted, 1.0) < 1.0
            assert await _within(detector_sees_lifted, 1.0) < 1.0
            stop.set()
            await asyncio.gather(*tasks)
    finally:
        stop.set()
        for task in tasks:
            if not task.done():
                task.cancel()
            with contextlib.suppress(BaseException):
                await task
        for nc in conns:
            await nc.close()
    assert webs[0].mute_changes >= 2 and webs[1].mute_changes >= 2


def _start(
    config: Config,
    conns: list[Client],
    stores: tuple[PostgresStore, PostgresStore],
    stop: asyncio.Event,
    webs: list[WebStats],
    detector: DetectorStats,
    alerter: AlerterStats,
) -> list[asyncio.Task[object]]:
    settings = WebSettings(port=0, poll_s=0.5, idle_heartbeat_s=0.5)
    coros: list[Awaitable[object]] = [
        run_web(config, conns[0], stores[0], stop, settings, stats=webs[0]),
        run_web(config, conns[1], stores[1], stop, settings, stats=webs[1]),
        run_detector(
            config,
            conns[2],
            stores[0],
            stop,
            DetectSettings(member="d", heartbeat_s=0.2, ttl_s=1.0),
            stats=detector,
        ),
        run_alerter(
            config,
            conns[3],
            stop,
            AlerterSettings(fetch_wait_s=0.2),
            routes=alert_routes(config),
            stats=alerter,
        ),
    ]
    return [asyncio.create_task(c) for c in coros]  # type: ignore[arg-type]


async def test_an_alerter_takes_the_mutes_in_force_from_the_bucket_when_it_starts(
    nats_server: NATSServerProcess,
) -> None:
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        announcer = await MuteFeed.open(js)
        await announcer.muted(Mute(MUTED, until=time.time() + 60, note="swap"))
        await announcer.muted(Mute("registry-tcp", until=time.time() + 60))
        await announcer.unmuted("registry-tcp")
        table = MuteTable()
        late = await MuteFeed.open(js)
        late.follow(table, snapshot=True)
        assert sorted(table.mutes) == [MUTED]
        loud = incident_event("x", EventKind.CONFIRMED, ts=time.time(), service="registry")
        quiet = incident_event("y", EventKind.CONFIRMED, ts=time.time(), service="portal")
        assert not table.quieted(loud, time.time()).quiet
        assert table.quieted(quiet, time.time()).quiet
        assert not table.quieted(quiet, time.time() + 120).quiet, "an expired mute is none"
        await announcer.close()
        await late.close()
    finally:
        await nc.close()

"""BgpFeed end to end: RIS Live replay and MRT folders into a sink and the API route."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import httpx
import pytest

from netvigil.bgp.feed import BgpFeed
from netvigil.bgp.memory import RecentSignals
from netvigil.bgp.ris_live import Backoff
from netvigil.config.model import BgpFeedConfig, Config, NetworkConfig
from netvigil.signal import SignalEvent, SignalFanout, SignalSample
from netvigil.store.sqlite import SQLiteStore
from netvigil.web.api.bgp import bgp_router
from netvigil.web.app import create_app

from .conftest import RisReplay, wait_for

# the replayed UPDATEs: AS20473 originates four /48s (bgpkit's rrc10 message);
# 45.161.192.0/23 is announced by rrc00's peer (libbgpstream's message)
NETWORKS = [
    NetworkConfig(name="as20473", asn=20473),
    NetworkConfig(name="br", prefixes=[ip_network("45.161.192.0/22")]),
    NetworkConfig(name="quiet", prefixes=[ip_network("203.0.113.0/24")]),
    NetworkConfig(name="unwatched"),
]
FAST = Backoff(initial_s=0.05, max_s=0.2)


class Samples:
    """A sink keeping every sample in `into` (events go nowhere)."""

    def __init__(self, into: list[SignalSample]) -> None:
        self.into = into

    def sample(self, sample: SignalSample) -> None:
        self.into.append(sample)

    def event(self, event: SignalEvent) -> None:
        pass


def ris_feed(url: str) -> BgpFeed:
    return BgpFeed(
        [BgpFeedConfig(kind="ris_live", name="ris", url=url)], NETWORKS, backoff=FAST, tick_s=0.05
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = await SQLiteStore.open(tmp_path / "bgp.db")
    yield s
    await s.close()


async def running(feed: BgpFeed, sink: RecentSignals) -> asyncio.Task[None]:
    return asyncio.create_task(feed.run(sink))


async def stopped(feed: BgpFeed, task: asyncio.Task[None]) -> None:
    feed.stop()
    await asyncio.wait_for(task, 5)


async def test_ris_live_feed_reaches_the_sink_and_the_api(
    ris_replay: RisReplay, store: SQLiteStore
) -> None:
    ris_replay.close_after_replay = False
    feed = ris_feed(ris_replay.url)
    recent = RecentSignals()
    task = await running(feed, recent)
    try:
        await wait_for(
            lambda: (
                recent.latest("as20473", "bgp_visibility") is not None
                and recent.latest("br", "bgp_visibility") is not None
            )
        )
        await wait_for(lambda: len(recent.events("as20473")) >= 4)  # after the 1 s hold
        kinds = {(e.kind, e.prefix) for e in recent.events("as20473")}
        assert ("announcement", "2a0e:97c7::/48") in kinds
        assert len(kinds) == 4
        config = Config(networks=NETWORKS)
        app = create_app(store, config, routers=[bgp_router(feed, recent)])
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://nv.test") as client:
            answer = await client.get("/api/v1/networks/as20473/bgp")
            assert answer.status_code == 200, answer.text
            body: dict[str, Any] = answer.json()
            assert body["network"] == "as20473"
            assert body["peers_seeing"] == 1
            # rrc00's IPv4 peer was heard too, but only rrc10's IPv6 peer carries IPv6: the
            # /48s are seen by every peer that could see them (a single total read 0.5)
            assert body["peers_total"] == 1
            assert body["visibility"] == 1.0
            br = (await client.get("/api/v1/networks/br/bgp")).json()
            assert (br["peers_seeing"], br["peers_total"], br["visibility"]) == (1, 1, 1.0)
            assert sorted(p["prefix"] for p in body["prefixes"]) == [
                "2a0e:97c6:fe::/48", "2a0e:97c7::/48", "2a10:cc42:17b7::/48",
                "2a10:cc42:1feb::/48",
            ]  # fmt: skip
            assert body["prefixes"][0]["origins"] == {"AS20473": 1}
            assert body["latest_sample"]["signal"] == "bgp_visibility"
            assert {e["kind"] for e in body["events"]} == {"announcement"}
            [state] = body["feeds"]
            assert (state["name"], state["kind"], state["state"]) == (
                "ris",
                "ris_live",
                "connected",
            )
            assert state["last_message_at"] is not None
            quiet = (await client.get("/api/v1/networks/quiet/bgp")).json()
            assert quiet["visibility"] is None  # nothing said about it yet: unknown
            for name in ("unwatched", "nosuch"):
                missing = await client.get(f"/api/v1/networks/{name}/bgp")
                assert missing.status_code == 404
                assert missing.json()["ok"] is False
    finally:
        await stopped(feed, task)


async def test_feed_down_and_up_are_events_for_every_watched_network(
    ris_replay: RisReplay,
) -> None:
    ris_replay.refuse = True
    ris_replay.close_after_replay = False
    feed = ris_feed(ris_replay.url)
    recent = RecentSignals()
    task = await running(feed, recent)
    try:
        await wait_for(lambda: ris_replay.refused >= 2)
        [status] = feed.statuses()
        assert not status.connected
        assert status.since is not None
        assert "503" in status.last_error
        for name in ("as20473", "br", "quiet"):
            [down] = recent.events(name)
            assert (down.kind, down.source) == ("feed_down", "ris_live")
            assert "ris (ris_live) down" in down.detail
        assert recent.events("unwatched") == []
        ris_replay.refuse = False
        await wait_for(lambda: any(e.kind == "feed_up" for e in recent.events("quiet")))
        assert feed.statuses()[0].connected
    finally:
        await stopped(feed, task)


async def test_unreachable_server_is_down_from_the_start() -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()  # nothing listens there now
    feed = ris_feed(f"ws://127.0.0.1:{port}/v1/ws/")
    recent = RecentSignals()
    task = await running(feed, recent)
    try:
        await wait_for(lambda: bool(recent.events("br")))
        assert recent.events("br")[0].kind == "feed_down"
        assert feed.statuses()[0].last_error
    finally:
        await stopped(feed, task)


async def test_mrt_folder_is_imported_and_damage_noted(bgp_data: Path, tmp_path: Path) -> None:
    folder = tmp_path / "mrt"
    folder.mkdir()
    good = bgp_data / "libbgpstream/test/ris.rrc06.updates.1427846400.gz"
    damaged = bgp_data / "bgpkit-parser/tests/fixtures/ripe/rrc00/2000.03/updates.20000325.0345.gz"
    (folder / "a.rrc06.updates.gz").symlink_to(good)
    (folder / "b.rrc00.updates.gz").symlink_to(damaged)
    cogent = NetworkConfig(name="cogent", asn=1880)
    section = BgpFeedConfig(kind="mrt", path="mrt/*.gz", poll_s=0.1)
    feed = BgpFeed([section], [cogent], base=tmp_path, tick_s=0.05)
    recent = RecentSignals()
    samples: list[SignalSample] = []
    task = asyncio.create_task(feed.run(SignalFanout([recent, Samples(samples)])))
    try:
        await wait_for(lambda: len(feed.files_read) == 2, timeout_s=20)
        assert feed.files_read[folder / "a.rrc06.updates.gz"] == ""
        assert "damaged" in feed.files_read[folder / "b.rrc00.updates.gz"]
        [status] = feed.statuses()
        assert status.connected
        assert "b.rrc00.updates.gz" in status.last_error
        await wait_for(lambda: bool(samples))
        sample = samples[0]
        assert (sample.entity, sample.signal, sample.source) == ("cogent", "bgp_visibility", "mrt")
        assert 1427846400 <= sample.t <= 1427846400 + 300  # the file's own times
        assert any(e.kind == "announcement" for e in recent.events("cogent"))
        # a file added later is picked up on the next look
        (folder / "c.rrc06.updates.gz").symlink_to(good)
        await wait_for(lambda: len(feed.files_read) == 3, timeout_s=20)
    finally:
        await stopped(feed, task)


async def test_a_reload_resubscribes_on_the_open_connection(ris_replay: RisReplay) -> None:
    ris_replay.close_after_replay = False  # one connection for the whole test
    feed = ris_feed(ris_replay.url)
    recent = RecentSignals()
    task = await running(feed, recent)
    try:
        await wait_for(lambda: recent.latest("as20473", "bgp_visibility") is not None)
        first = list(ris_replay.subscriptions)
        assert {"prefix": "203.0.113.0/24", "moreSpecific": True, "type": "UPDATE"} in [
            s["data"] for s in first
        ]
        # "quiet" loses its prefix for another, "br" goes, AS64511 comes
        new = [
            NETWORKS[0],
            NetworkConfig(name="quiet", prefixes=[ip_network("198.51.100.0/24")]),
            NetworkConfig(name="newcomer", asn=64511),
        ]
        feed.reconfigure(Config(networks=new))
        await wait_for(lambda: len(ris_replay.subscriptions) >= len(first) + 4)
        changes = [(s["type"], s["data"]) for s in ris_replay.subscriptions[len(first) :]]
        assert changes == [
            ("ris_unsubscribe", {"prefix": "45.161.192.0/22", "moreSpecific": True,
                                 "type": "UPDATE"}),
            ("ris_unsubscribe", {"prefix": "203.0.113.0/24", "moreSpecific": True,
                                 "type": "UPDATE"}),
            ("ris_subscribe", {"prefix": "198.51.100.0/24", "moreSpecific": True,
                               "type": "UPDATE"}),
            ("ris_subscribe", {"path": "64511$", "type": "UPDATE"}),
        ]  # fmt: skip
        assert ris_replay.connections == 1  # not reconnected
        assert feed.statuses()[0].connected and feed.statuses()[0].reconnects == 0
        assert feed.watched == ["as20473", "quiet", "newcomer"]
        assert feed.network_visibility("br") is None
        seen = feed.network_visibility("as20473")
        assert seen is not None and seen.value == 1.0  # what was known is kept
    finally:
        await stopped(feed, task)

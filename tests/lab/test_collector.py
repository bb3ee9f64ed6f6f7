"""The collector feed against a real BIRD (static routes only, no kernel or network touched).

The BIRD's static protocols stand in for the collector's sessions: their import filters
give the routes an AS path and communities, and turning one off withdraws its routes,
which the feed must tell a websocket client on 127.0.0.1 in RIS Live form.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from netvigil.lab.bird import birdc
from netvigil.lab.birdroutes import BirdControl, Peer, Route, parse_routes, updates
from netvigil.lab.collector import Collector, Subscription
from netvigil.lab.feedrecord import FeedRecorder
from netvigil.lab.feedreplay import load_feed

CONFIG = """
router id 192.0.2.1;
log stderr all;
protocol static s4 {
    ipv4 { import filter { bgp_path.prepend(64498); bgp_path.prepend(64496);
                           bgp_community.add((65535, 666)); accept; }; };
    route 192.0.2.0/26 unreachable;
    route 192.0.2.64/26 unreachable;
}
protocol static t4 {
    ipv4 { import filter { bgp_path.prepend(64499); accept; }; };
    route 198.51.100.0/25 unreachable;
}
"""

pytestmark = pytest.mark.skipif(shutil.which("bird") is None, reason="needs BIRD 2 (bird2)")


@pytest.fixture
def bird_socket(tmp_path: Path) -> Iterator[str]:
    conf, sock = tmp_path / "bird.conf", str(tmp_path / "bird.ctl")
    conf.write_text(CONFIG)
    proc = subprocess.Popen(["bird", "-f", "-c", str(conf), "-s", sock],
                            stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        for _ in range(100):
            assert proc.poll() is None, "bird exited at start"
            if Path(sock).exists() and "s4" in birdc(sock, "show", "protocols", check=False):
                break
            time.sleep(0.05)
        yield sock
    finally:
        proc.terminate()
        proc.wait(timeout=5)


PEERS = {"s4": Peer("203.0.113.1", 64496), "t4": Peer("203.0.113.1", 64496)}


async def test_the_table_is_read_with_its_path_attributes(bird_socket: str) -> None:
    control = BirdControl(bird_socket)
    try:
        table = parse_routes(await control.command("show route all"))
    finally:
        await control.close()
    assert table[("s4", "192.0.2.0/26")] == Route((64496, 64498), ((65535, 666),), "", "igp")
    assert table[("t4", "198.51.100.0/25")].path == (64499,)
    assert len(table) == 3


def test_updates_group_announcements_and_withdrawals_per_session() -> None:
    a = Route((64496, 64498), (), "203.0.113.1")
    b = Route((64496, 64497, 64498), (), "203.0.113.1")
    old = {("s4", "192.0.2.0/26"): a, ("s4", "192.0.2.64/26"): a}
    new = {("s4", "192.0.2.0/26"): b, ("t4", "198.51.100.0/25"): a}
    got = updates(old, new, PEERS, host="collector", now=5.0, counter=itertools.count(1))
    data = [m["data"] for m in got]
    assert [d.get("withdrawals") for d in data] == [None, ["192.0.2.64/26"], None]
    assert data[0]["path"] == [64496, 64497, 64498]
    assert data[0]["announcements"] == [{"next_hop": "203.0.113.1", "prefixes": ["192.0.2.0/26"]}]
    assert data[2]["announcements"][0]["prefixes"] == ["198.51.100.0/25"]
    assert all(d["peer_asn"] == "64496" and d["type"] == "UPDATE" for d in data)
    assert len({d["id"] for d in data}) == 3


@pytest.mark.parametrize(
    ("subscription", "seen"),
    [({}, True), ({"prefix": "192.0.2.0/24"}, True), ({"prefix": "192.0.2.0/27"}, False),
     ({"prefix": "192.0.2.0/27", "lessSpecific": True}, True),
     ({"prefix": "192.0.2.0/24", "moreSpecific": False}, False),
     ({"path": "64498$"}, True), ({"path": "^64498"}, False), ({"path": "64496,64498"}, True),
     ({"peer": "203.0.113.9"}, False), ({"type": "RIS_PEER_STATE"}, False)],
)  # fmt: skip
def test_subscriptions_filter_like_ris_live(subscription: dict[str, Any], seen: bool) -> None:
    data = {"type": "UPDATE", "peer": "203.0.113.1", "path": [64496, 64498], "host": "c",
            "announcements": [{"next_hop": "x", "prefixes": ["192.0.2.0/26"]}]}  # fmt: skip
    assert Subscription.from_data(subscription).matches(data) is seen


@contextlib.asynccontextmanager
async def serving(collector: Collector) -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/v1/ws/", collector.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"ws://127.0.0.1:{port}/v1/ws/"
    finally:
        await runner.cleanup()


async def test_a_withdrawal_reaches_a_subscribed_client(bird_socket: str) -> None:
    collector = Collector(BirdControl(bird_socket), PEERS, host="collector", interval_s=0.1)
    stop = asyncio.Event()
    async with serving(collector) as url, aiohttp.ClientSession() as session:
        await collector.poll_once()  # the table as it is: nobody subscribed yet
        poller = asyncio.create_task(collector.run(stop))
        async with session.ws_connect(url) as ws:
            await ws.send_json({"type": "ris_subscribe", "data": {"prefix": "192.0.2.0/24"}})
            assert (await ws.receive_json(timeout=5))["type"] == "ris_subscribe_ok"
            table = await ws.receive_json(timeout=5)  # what the table holds, at once
            await ws.send_json({"type": "ris_subscribe", "data": {"prefix": "192.0.2.0/26"}})
            assert (await ws.receive_json(timeout=5))["type"] == "ris_subscribe_ok"
            await ws.send_json({"type": "ping"})  # the second brought nothing new
            assert (await ws.receive_json(timeout=5))["type"] == "pong"
            await asyncio.to_thread(birdc, bird_socket, "disable", "s4")
            message = await ws.receive_json(timeout=5)
            await ws.send_json({"type": "meteor"})
            error = await ws.receive_json(timeout=5)
        stop.set()
        await poller
    await collector.control.close()
    assert table["data"]["announcements"] == [
        {"next_hop": "", "prefixes": ["192.0.2.0/26", "192.0.2.64/26"]}
    ], table
    assert table["data"]["path"] == [64496, 64498] and table["data"]["community"] == [[65535, 666]]
    assert message["type"] == "ris_message", message
    data = message["data"]
    assert data.get("withdrawals") == ["192.0.2.0/26", "192.0.2.64/26"], str(data)  # t4: filtered
    assert data["peer"] == "203.0.113.1" and data["host"] == "collector"
    assert error["type"] == "ris_error"


async def test_the_recorder_keeps_what_a_subscriber_gets_with_times(
    bird_socket: str, tmp_path: Path
) -> None:
    collector = Collector(BirdControl(bird_socket), PEERS, host="collector", interval_s=0.1)
    stop, done = asyncio.Event(), asyncio.Event()
    path = tmp_path / "feed.jsonl"
    async with serving(collector) as url:
        await collector.poll_once()
        poller = asyncio.create_task(collector.run(stop))
        with path.open("a", encoding="utf-8") as stream:
            subscribe = [{"type": "ris_subscribe", "data": {"prefix": "192.0.2.0/24"}}]
            recorder = FeedRecorder(url, subscribe, stream)
            recording = asyncio.create_task(recorder.run(done))
            while recorder.messages < 2:  # the answer, then the table
                await asyncio.sleep(0.05)
            before = time.time()
            await asyncio.to_thread(birdc, bird_socket, "disable", "s4")
            while recorder.messages < 3:
                await asyncio.sleep(0.05)
            done.set()
            await recording
        stop.set()
        await poller
    await collector.control.close()
    lines = load_feed(path)
    assert lines[0].state == "connected"
    messages = [line.message for line in lines if line.message is not None]
    assert [m["type"] for m in messages] == ["ris_subscribe_ok", "ris_message", "ris_message"]
    assert messages[1]["data"]["announcements"][0]["prefixes"] == ["192.0.2.0/26", "192.0.2.64/26"]
    withdrawn = lines[-1]
    assert withdrawn.message is not None and withdrawn.received >= before
    assert withdrawn.message["data"]["withdrawals"] == ["192.0.2.0/26", "192.0.2.64/26"]

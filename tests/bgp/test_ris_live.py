"""The RIS Live client against a loopback websocket server replaying real RIS Live messages."""

from __future__ import annotations

import asyncio
from ipaddress import ip_network

import pytest

from netvigil.bgp.feed_state import FeedState, FeedStatus
from netvigil.bgp.model import BgpElement, BgpItem, PeerState
from netvigil.bgp.ris_live import Backoff, RisLiveClient
from netvigil.bgp.ris_messages import decode_ris_message, subscriptions
from netvigil.config.model import NetworkConfig

from .conftest import RisReplay, wait_for

FAST = Backoff(initial_s=0.05, max_s=0.2, jitter=0.5)
NETWORKS = [
    NetworkConfig(name="ripe", asn=3333, prefixes=[ip_network("193.0.0.0/21")]),
    NetworkConfig(name="v6", prefixes=[ip_network("2a0e:97c0::/29")]),
]


def client_for(
    replay: RisReplay, items: list[BgpItem], state: FeedState, **kw: object
) -> RisLiveClient:
    return RisLiveClient(
        replay.url,
        subscriptions(NETWORKS),
        items.append,
        state,
        client_name="netvigil-test",
        backoff=FAST,
        rng=lambda: 0.5,
        **kw,  # type: ignore[arg-type]
    )


async def run_until(client: RisLiveClient, condition: object, timeout_s: float = 5.0) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(client.run(stop))
    try:
        await wait_for(condition, timeout_s)
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def test_replayed_messages_become_elements_and_peer_states(ris_replay: RisReplay) -> None:
    items: list[BgpItem] = []
    state = FeedState("ris", "ris_live")
    client = client_for(ris_replay, items, state)
    await run_until(client, lambda: len(items) >= 6)

    elements = [i for i in items if isinstance(i, BgpElement)]
    peer_states = [i for i in items if isinstance(i, PeerState)]
    # libbgpstream's UPDATE: one announcement from rrc00's peer 72.22.223.9 (AS11708)
    first = elements[0]
    assert (first.kind, first.collector, first.peer_ip, first.peer_asn, first.prefix) == (
        "announce", "rrc00", "72.22.223.9", 11708, "45.161.192.0/23",
    )  # fmt: skip
    assert first.time == 1553627987.89
    assert first.as_path[0] == 11708
    assert first.as_path[-1] == 268481
    assert len(first.as_path) == 12
    assert first.origin_asns == (268481,)
    # its RIS_PEER_STATE: rrc01's peer 195.66.224.59 went down
    assert peer_states[0] == PeerState(1553625081.88, "rrc01", "195.66.224.59", 24931, "down")
    assert not peer_states[0].is_up
    # bgpkit's UPDATE from rrc10: four IPv6 announcements with the path and communities
    bgpkit = elements[1:5]
    assert [e.prefix for e in bgpkit] == [
        "2a0e:97c7::/48", "2a0e:97c6:fe::/48", "2a10:cc42:17b7::/48", "2a10:cc42:1feb::/48",
    ]  # fmt: skip
    for e in bgpkit:
        assert e.collector == "rrc10"
        assert e.peer == ("rrc10", "2001:7f8:b:100:1d1:a520:1333:74")
        assert e.peer_asn == 201333
        assert e.as_path == (201333, 6762, 174, 20473)
        assert e.origin_asns == (20473,)
        assert e.communities == ("6762:30", "6762:14400")
    # OPEN, NOTIFICATION, KEEPALIVE and ris_error carry no elements; all were read. The
    # stream file's last line lacks its closing brace: skipped as malformed, not fatal.
    assert not ris_replay.messages[6].endswith("}}")
    assert client.messages >= len(ris_replay.messages)
    assert client.malformed == 1


async def test_client_subscribes_to_prefixes_origins_and_peer_states(
    ris_replay: RisReplay,
) -> None:
    items: list[BgpItem] = []
    client = client_for(ris_replay, items, FeedState("ris", "ris_live"))
    await run_until(client, lambda: len(items) >= 6)
    assert ris_replay.queries[0] == {"client": "netvigil-test"}
    data = [s["data"] for s in ris_replay.subscriptions[:4]]
    assert all(s["type"] == "ris_subscribe" for s in ris_replay.subscriptions[:4])
    assert data == [
        {"prefix": "193.0.0.0/21", "moreSpecific": True, "type": "UPDATE"},
        {"path": "3333$", "type": "UPDATE"},
        {"prefix": "2a0e:97c0::/29", "moreSpecific": True, "type": "UPDATE"},
        {"type": "RIS_PEER_STATE"},
    ]


def test_collector_filter_subscribes_once_per_collector() -> None:
    subs = subscriptions(NETWORKS[:1], ["rrc00", "rrc21"])
    hosts = [(s["data"].get("prefix") or s["data"].get("path") or "state", s["data"]["host"])
             for s in subs]  # fmt: skip
    assert hosts == [
        ("193.0.0.0/21", "rrc00"), ("193.0.0.0/21", "rrc21"),
        ("3333$", "rrc00"), ("3333$", "rrc21"),
        ("state", "rrc00"), ("state", "rrc21"),
    ]  # fmt: skip


async def test_collector_filter_drops_other_collectors(ris_replay: RisReplay) -> None:
    items: list[BgpItem] = []
    client = client_for(ris_replay, items, FeedState("ris", "ris_live"), collectors=["rrc10"])
    await run_until(client, lambda: len(items) >= 4)
    await asyncio.sleep(0.1)
    assert {i.collector for i in items} == {"rrc10"}


async def test_reconnects_after_the_server_drops_the_connection(ris_replay: RisReplay) -> None:
    items: list[BgpItem] = []
    state = FeedState("ris", "ris_live")
    client = client_for(ris_replay, items, state)
    await run_until(client, lambda: ris_replay.connections >= 3 and len(items) >= 18)
    # each connection subscribed again and delivered the whole replay again
    assert len(ris_replay.subscriptions) >= 3 * 4
    status = state.status()
    assert status.reconnects >= 2
    assert status.last_error == "the server closed the connection"
    assert status.last_message_at is not None


async def test_feed_state_while_down_then_up(ris_replay: RisReplay) -> None:
    clock = [1000.0]
    changes: list[FeedStatus] = []
    state = FeedState("ris", "ris_live", on_change=changes.append, now=lambda: clock[0])
    items: list[BgpItem] = []
    ris_replay.refuse = True
    ris_replay.close_after_replay = False
    client = client_for(ris_replay, items, state)
    stop = asyncio.Event()
    task = asyncio.create_task(client.run(stop))
    try:
        await wait_for(lambda: ris_replay.refused >= 2)
        down = state.status()
        assert not down.connected
        assert down.since == 1000.0  # down since the first failed attempt
        assert "503" in down.last_error
        assert down.last_message_at is None
        assert [c.connected for c in changes] == [False]  # one feed_down, however many tries
        clock[0] = 1010.0
        ris_replay.refuse = False
        await wait_for(lambda: len(items) >= 6)
        up = state.status()
        assert up.connected
        assert up.since == 1010.0
        assert up.last_message_at == 1010.0
        assert [c.connected for c in changes] == [False, True]
        clock[0] = 1020.0
        await ris_replay.drop_all()  # the server cuts the open connection
        await wait_for(lambda: len(changes) >= 3)
        assert changes[2].connected is False
        assert changes[2].since == 1020.0
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


def test_backoff_is_bounded_and_jittered() -> None:
    backoff = Backoff(initial_s=1.0, max_s=60.0, jitter=0.5)
    assert backoff.delay(0, lambda: 0.0) == 1.0
    assert backoff.delay(3, lambda: 0.0) == 8.0
    assert backoff.delay(10, lambda: 0.0) == 60.0
    assert backoff.delay(1000, lambda: 0.0) == 60.0
    assert backoff.delay(10, lambda: 1.0) == 30.0  # at most half taken off


@pytest.mark.parametrize(
    "text",
    [b"not json", b'{"data": {}}', b'{"type": "ris_message", "data": {"type": "UPDATE"}}',
     b'{"type": "ris_message", "data": {"type": "UPDATE", "timestamp": 1, "peer": "192.0.2.1",'
     b' "host": "rrc00", "announcements": [7]}}'],
)  # fmt: skip
def test_malformed_messages_are_refused(text: bytes) -> None:
    with pytest.raises(ValueError, match=r"."):
        decode_ris_message(text)


def test_as_set_at_the_end_gives_several_origins() -> None:
    text = (
        b'{"type": "ris_message", "data": {"type": "UPDATE", "timestamp": 5.5, "peer": "192.0.2.1",'
        b' "peer_asn": "64500", "host": "rrc00", "path": [64500, 64501, [64510, 64511]],'
        b' "community": [[65535, 666]], "announcements": [{"next_hop": "192.0.2.1",'
        b' "prefixes": ["198.51.100.0/24"]}], "withdrawals": ["203.0.113.0/24"]}}'
    )
    message = decode_ris_message(text)
    announce, withdraw = message.items
    assert isinstance(announce, BgpElement)
    assert announce.as_path == (64500, 64501, 64510, 64511)
    assert announce.origin_asns == (64510, 64511)
    assert announce.communities == ("65535:666",)
    assert isinstance(withdraw, BgpElement)
    assert (withdraw.kind, withdraw.prefix, withdraw.as_path) == ("withdraw", "203.0.113.0/24", ())

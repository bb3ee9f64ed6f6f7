"""Membership against a real nats-server: joins, clean leaves, expiry of silent members."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import nats
import pytest
from cluster_nats import NATSServerProcess
from hypothesis import given
from hypothesis import strategies as st
from nats.aio.client import Client
from nats.js.kv import KeyValue

from netvigil.cluster import (
    DETECTOR_ROLE,
    ClusterError,
    IncidentShare,
    Membership,
    MemberTable,
    decode_name,
    encode_name,
    member_key,
    open_members_bucket,
)
from netvigil.cluster.membership import _cancel as membership_cancel
from netvigil.config import parse_config

HEARTBEAT_S = 0.2
TTL_S = 1.0


async def eventually(check: Callable[[], bool], timeout_s: float = 10.0) -> float:
    """Wait until `check()` holds; return how long that took. Fails after `timeout_s`."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < timeout_s, "condition not met in time"
        await asyncio.sleep(0.01)
    return time.monotonic() - start


@pytest.fixture
async def nc(nats_server: NATSServerProcess) -> AsyncIterator[Client]:
    client = await nats.connect(servers=[nats_server.url])
    try:
        yield client
    finally:
        await client.close()


@pytest.fixture
async def kv(nc: Client) -> KeyValue:
    bucket, ttl_s = await open_members_bucket(nc.jetstream(), ttl_s=TTL_S)
    assert ttl_s == pytest.approx(TTL_S)
    return bucket


def member(
    kv: KeyValue, role: str, name: str, seen: list[frozenset[str]] | None = None
) -> Membership:
    on_change: Callable[[frozenset[str]], None] | None = seen.append if seen is not None else None
    return Membership(kv, role, name, ttl_s=TTL_S, heartbeat_s=HEARTBEAT_S, on_change=on_change)


async def test_members_see_each_other_join_and_a_clean_leave_at_once(kv: KeyValue) -> None:
    a_seen: list[frozenset[str]] = []
    async with member(kv, "prober:paris", "a", a_seen) as a:
        assert a.members == {"a"}
        b = member(kv, "prober:paris", "b")
        await b.start()
        assert b.members == {"a", "b"}  # b read a's key before announcing itself
        await eventually(lambda: a.members == {"a", "b"})
        await b.stop()
        took = await eventually(lambda: a.members == {"a"})
        assert took < TTL_S / 2  # the deleted key, not the TTL
        assert a_seen == [frozenset({"a"}), frozenset({"a", "b"}), frozenset({"a"})]


async def test_a_silent_member_disappears_after_the_ttl(kv: KeyValue) -> None:
    async with member(kv, "detector", "live") as live:
        put_at = time.monotonic()
        await kv.put(member_key("detector", "ghost"), b"{}")  # one heartbeat, then silence
        await eventually(lambda: "ghost" in live.members)
        await eventually(lambda: "ghost" not in live.members)
        gone_after = time.monotonic() - put_at
        assert TTL_S * 0.9 <= gone_after <= TTL_S + 5.0  # not before the TTL; loose on load
        await asyncio.sleep(3 * HEARTBEAT_S)
        assert live.members == {"live"}  # the live one keeps itself alive


async def test_heartbeats_keep_a_member_alive_well_past_the_ttl(kv: KeyValue) -> None:
    seen: list[frozenset[str]] = []
    async with member(kv, "detector", "a", seen) as a, member(kv, "detector", "b"):
        await eventually(lambda: a.members == {"a", "b"})
        changes_so_far = len(seen)
        await asyncio.sleep(3 * TTL_S)
        assert a.members == {"a", "b"}
        assert len(seen) == changes_so_far  # no flapping


async def test_roles_do_not_see_each_other(kv: KeyValue) -> None:
    async with (
        member(kv, "prober:paris", "p") as paris,
        member(kv, "prober:paris.east", "e") as east,
        member(kv, "detector", "d") as detector,
    ):
        await asyncio.sleep(3 * HEARTBEAT_S)
        assert paris.members == {"p"}
        assert east.members == {"e"}
        assert detector.members == {"d"}


async def test_the_bucket_keeps_the_ttl_it_was_made_with(nc: Client, kv: KeyValue) -> None:
    _, ttl_s = await open_members_bucket(nc.jetstream(), ttl_s=30.0)
    assert ttl_s == pytest.approx(TTL_S)


def test_a_heartbeat_too_slow_for_the_ttl_is_refused() -> None:
    with pytest.raises(ClusterError, match="too slow"):
        Membership(None, "detector", "x", ttl_s=1.0, heartbeat_s=0.6)  # type: ignore[arg-type]


def test_member_table_expires_by_the_clock_it_is_given() -> None:
    table = MemberTable(ttl_s=5.0)
    assert table.heard("a", 100.0)
    assert table.heard("b", 102.0)
    assert not table.heard("a", 103.0)
    assert table.expire(106.9) == []
    assert table.expire(107.0) == ["b"]
    assert table.members == {"a"}
    assert table.left("a")
    assert not table.left("a")
    assert table.members == frozenset()


@given(st.text(min_size=1, max_size=40))
def test_names_escape_into_one_valid_key_token_and_back(name: str) -> None:
    token = encode_name(name)
    assert "." not in token
    assert all(c.isascii() and (c.isalnum() or c in "-_/=") for c in token)
    assert decode_name(token) == name


async def test_the_first_change_reports_who_was_there_before_joining(kv: KeyValue) -> None:
    async with member(kv, "detector", "first"), member(kv, "detector", "second"):
        seen: list[frozenset[str]] = []
        async with member(kv, "detector", "third", seen):
            assert seen[0] == {"first", "second", "third"}


Wait = Callable[[], Awaitable[None]]


async def test_members_find_each_other_again_after_the_server_restarts(
    nats_server: NATSServerProcess,
) -> None:
    clients = [
        await nats.connect(servers=[nats_server.url], max_reconnect_attempts=-1,
                           reconnect_time_wait=0.1)
        for _ in range(3)
    ]  # fmt: skip
    try:
        buckets = [(await open_members_bucket(c.jetstream(), ttl_s=TTL_S))[0] for c in clients]
        async with (
            member(buckets[0], "detector", "a") as a,
            member(buckets[1], "detector", "b") as b,
        ):
            await eventually(lambda: a.members == b.members == {"a", "b"})
            await asyncio.to_thread(nats_server.restart)
            await asyncio.sleep(2 * TTL_S)
            await eventually(lambda: a.members == b.members == {"a", "b"})
            async with member(buckets[2], "detector", "c"):  # the watches live again
                await eventually(lambda: a.members == b.members == {"a", "b", "c"})
            await eventually(lambda: a.members == b.members == {"a", "b"})
    finally:
        for client in clients:
            await client.close()


async def test_detectors_split_incident_groups_as_they_join_and_leave(kv: KeyValue) -> None:
    config = parse_config(SERVICES)
    one, two = IncidentShare(config, "d1"), IncidentShare(config, "d2")
    with_one = Membership(kv, DETECTOR_ROLE, "d1", ttl_s=TTL_S, heartbeat_s=HEARTBEAT_S,
                          on_change=one.assign)  # fmt: skip
    with_two = Membership(kv, DETECTOR_ROLE, "d2", ttl_s=TTL_S, heartbeat_s=HEARTBEAT_S,
                          on_change=two.assign)  # fmt: skip
    everything = {f"s{i}" for i in range(12)}
    async with with_one:
        assert one.owned.services == everything
        async with with_two:
            await eventually(lambda: with_one.members == {"d1", "d2"})
            assert one.owned.services.isdisjoint(two.owned.services)
            assert one.owned.services | two.owned.services == everything
            assert one.owned.services and two.owned.services
        await eventually(lambda: one.owned.services == everything)


SERVICES = "\n".join(
    f'[[services]]\nname = "s{i}"\n[[targets]]\nname = "t{i}"\nkind = "tcp"\n'
    f'host = "127.0.0.1"\nport = 1\nservice = "s{i}"\n'
    for i in range(12)
)


async def test_a_task_that_loses_its_cancellation_is_cancelled_again() -> None:
    """A cancellation swallowed on the way (as `asyncio.wait_for` in Python 3.11 may
    swallow one) must not leave a member's stop waiting for ever."""
    beats = 0

    async def heartbeat() -> None:
        nonlocal beats
        swallowed = False
        while True:
            try:
                await asyncio.sleep(0.01)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed = True  # the first one is lost
            beats += 1

    task = asyncio.create_task(heartbeat())
    await asyncio.sleep(0.03)
    await asyncio.wait_for(membership_cancel(task, again_s=0.05), timeout=2)
    assert task.cancelled()
    assert beats > 0


async def test_a_task_cancelled_while_it_cancels_another_still_ends() -> None:
    """The heartbeat, cancelled while it waits for the old watch task to end (watching
    afresh), must end: the stop of a member waits for it."""

    async def forever() -> None:
        await asyncio.Event().wait()

    async def slow_to_end() -> None:
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            await asyncio.sleep(0.2)  # ends, but not at once
            raise

    async def rewatching() -> None:
        inner = asyncio.create_task(slow_to_end())
        await asyncio.sleep(0)
        await membership_cancel(inner)
        await forever()  # what the heartbeat loop goes on to do if it missed its cancel

    outer = asyncio.create_task(rewatching())
    await asyncio.sleep(0.05)
    outer.cancel()
    await asyncio.wait_for(asyncio.gather(outer, return_exceptions=True), timeout=2)
    assert outer.cancelled()

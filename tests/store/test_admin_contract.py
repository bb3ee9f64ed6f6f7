"""The AdminStore contract: admin tokens, agents, mutes and notes, over every backend."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import pytest

from netvigil.errors import StoreError
from netvigil.maintenance import Mute
from netvigil.store.base import AdminStore, AgentRecord, TokenRecord

from .conftest import Clock
from .helpers import StoreFactory


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def test_admin_tokens_are_added_used_and_revoked(
    admin_store: AdminStore, admin_clock: Clock
) -> None:
    t0 = admin_clock.now
    assert await admin_store.admin_tokens() == []
    assert await admin_store.add_admin_token("bob", digest("b")) == TokenRecord("bob", t0, None)
    admin_clock.now += 10
    await admin_store.add_admin_token("alice", digest("a"))
    assert [t.name for t in await admin_store.admin_tokens()] == ["alice", "bob"]

    admin_clock.now += 5
    assert await admin_store.use_admin_token(digest("a")) == "alice"
    assert await admin_store.use_admin_token(digest("nope")) is None
    tokens = {t.name: t for t in await admin_store.admin_tokens()}
    assert tokens["alice"] == TokenRecord("alice", t0 + 10, t0 + 15)
    assert tokens["bob"].last_used is None

    assert await admin_store.revoke_admin_token("alice") is True
    assert await admin_store.revoke_admin_token("alice") is False
    assert await admin_store.use_admin_token(digest("a")) is None
    assert [t.name for t in await admin_store.admin_tokens()] == ["bob"]


async def test_a_taken_token_name_or_token_is_refused(admin_store: AdminStore) -> None:
    await admin_store.add_admin_token("alice", digest("a"))
    with pytest.raises(ValueError, match="exists already"):
        await admin_store.add_admin_token("alice", digest("other"))
    with pytest.raises(ValueError, match="exists already"):
        await admin_store.add_admin_token("carol", digest("a"))
    assert [t.name for t in await admin_store.admin_tokens()] == ["alice"]
    # The store still writes after a refused change.
    await admin_store.add_admin_token("carol", digest("c"))
    assert await admin_store.use_admin_token(digest("c")) == "carol"


async def test_agents_are_added_listed_and_revoked(
    admin_store: AdminStore, admin_clock: Clock
) -> None:
    t0 = admin_clock.now
    durres = await admin_store.add_agent("durres", digest("d"), country="AL", in_country=True)
    assert durres == AgentRecord("durres", digest("d"), "AL", True, t0)
    await admin_store.add_agent("berlin", digest("b"), country=None, in_country=False)
    assert await admin_store.agents() == [
        AgentRecord("berlin", digest("b"), None, False, t0),
        durres,
    ]
    with pytest.raises(ValueError, match="exists already"):
        await admin_store.add_agent("durres", digest("x"), country=None, in_country=False)
    assert await admin_store.revoke_agent("berlin") is True
    assert await admin_store.revoke_agent("berlin") is False
    assert await admin_store.agents() == [durres]


async def test_mutes_are_set_replaced_and_lifted(
    admin_store: AdminStore, admin_clock: Clock
) -> None:
    t0 = admin_clock.now
    assert await admin_store.set_mute("tax", t0 + 60, "") == Mute("tax", t0 + 60, "", t0)
    await admin_store.set_mute("portal", t0 - 1, "expired, still listed")
    admin_clock.now += 1
    await admin_store.set_mute("tax", t0 + 600, "longer")
    assert await admin_store.mutes() == [
        Mute("portal", t0 - 1, "expired, still listed", t0),
        Mute("tax", t0 + 600, "longer", t0 + 1),
    ]
    assert await admin_store.lift_mute("tax") is True
    assert await admin_store.lift_mute("tax") is False
    assert [m.target for m in await admin_store.mutes()] == ["portal"]


async def test_notes_are_appended_per_incident_in_order(
    admin_store: AdminStore, admin_clock: Clock
) -> None:
    t0 = admin_clock.now
    ack = await admin_store.add_note("inc-1", "ack", "alice", "on it")
    admin_clock.now += 30
    other = await admin_store.add_note("inc-2", "note", "bob", "unrelated")
    note = await admin_store.add_note("inc-1", "note", "bob", "router rebooted")
    assert (ack.incident, ack.kind, ack.ts, ack.author, ack.text) == (
        "inc-1",
        "ack",
        t0,
        "alice",
        "on it",
    )
    assert ack.seq < other.seq < note.seq
    assert await admin_store.notes("inc-1") == [ack, note]
    assert await admin_store.notes("inc-2") == [other]
    assert await admin_store.notes("inc-3") == []


async def test_concurrent_changes_are_all_kept(admin_store: AdminStore) -> None:
    notes = await asyncio.gather(
        *(admin_store.add_note("inc-1", "note", "alice", str(i)) for i in range(20))
    )
    assert sorted(n.seq for n in notes) == [n.seq for n in await admin_store.notes("inc-1")]
    assert len({n.seq for n in notes}) == 20


async def test_admin_tables_outlive_a_reopen(store_factory: StoreFactory, tmp_path: Path) -> None:
    first = await store_factory(tmp_path, now=lambda: 1_000.0)
    assert isinstance(first, AdminStore)
    try:
        await first.add_admin_token("alice", digest("a"))
        await first.add_agent("durres", digest("d"), country="AL", in_country=True)
        await first.set_mute("tax", 2_000.0, "swap")
        await first.add_note("inc-1", "ack", "alice", "")
    finally:
        await first.close()
    again = await store_factory(tmp_path, now=lambda: 1_500.0)
    assert isinstance(again, AdminStore)
    try:
        assert await again.use_admin_token(digest("a")) == "alice"
        assert [a.name for a in await again.agents()] == ["durres"]
        assert await again.mutes() == [Mute("tax", 2_000.0, "swap", 1_000.0)]
        assert [n.kind for n in await again.notes("inc-1")] == ["ack"]
    finally:
        await again.close()


async def test_a_closed_store_refuses_admin_calls(
    store_factory: StoreFactory, tmp_path: Path
) -> None:
    store = await store_factory(tmp_path)
    assert isinstance(store, AdminStore)
    await store.close()
    with pytest.raises(StoreError, match="closed"):
        await store.mutes()
    with pytest.raises(StoreError, match="closed"):
        await store.set_mute("tax", 1.0, "")

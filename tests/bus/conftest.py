"""Fixtures for the bus tests: a real nats-server on a free loopback port, JetStream in a
tmp dir, a collector user and two agents' users with their own permissions."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from nats_harness import AGENTS, COLLECTOR, Bus, free_port

from netvigil.bus import NATSServer, agent_user, collector_user, write_server_config
from netvigil.store.sqlite import SQLiteStore


@pytest.fixture
def nats_bus(tmp_path: Path) -> Iterator[Bus]:
    """A nats-server with JetStream in tmp_path/js; stopped (and waited for) at the end."""
    port = free_port()
    passwords = {name: secrets.token_urlsafe(16) for name in (COLLECTOR, *AGENTS)}
    users = [collector_user(COLLECTOR, passwords[COLLECTOR])]
    users += [agent_user(v, passwords[v]) for v in AGENTS]
    conf = write_server_config(
        tmp_path / "nats.conf", port=port, store_dir=tmp_path / "js", users=users
    )
    server = NATSServer(conf, port=port, log_path=tmp_path / "nats.log")
    server.start()
    bus = Bus(server, passwords, tmp_path)
    try:
        yield bus
    finally:
        server.stop()


@pytest.fixture
async def bus_clients(nats_bus: Bus) -> AsyncIterator[Bus]:
    """`nats_bus`, closing the connections the test opened through it."""
    try:
        yield nats_bus
    finally:
        for nc in nats_bus.clients:
            await nc.close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    async with await SQLiteStore.open(tmp_path / "collected.db") as s:
        yield s

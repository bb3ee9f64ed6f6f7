"""Fixtures for the cluster tests: a real nats-server with JetStream on a free loopback port."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from cluster_nats import NATSServerProcess, start_nats_server


@pytest.fixture
def nats_server(tmp_path: Path) -> Iterator[NATSServerProcess]:
    """A nats-server with JetStream (its store under tmp_path), killed at teardown."""
    server = start_nats_server(tmp_path / "nats")
    try:
        yield server
    finally:
        server.stop()

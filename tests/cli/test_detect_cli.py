"""`netvigil detect` warns when a killed detector's shards would reach the others too late
to count: its members' TTL and heartbeat longer than detection's lateness."""

from __future__ import annotations

import logging

import pytest

from netvigil.cli.detect import _warn_if_handover_comes_late
from netvigil.config import parse_config

CONFIG = """
[detect]
lateness_s = 5

[[services]]
name = "portal"

[[targets]]
name = "portal"
service = "portal"
kind = "tcp"
host = "127.0.0.1"
port = 443
timeout_s = {timeout}
"""


def warnings(caplog: pytest.LogCaptureFixture, timeout: float, heartbeat: float, ttl: float) -> str:
    config = parse_config(CONFIG.format(timeout=timeout))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="netvigil.detect"):
        _warn_if_handover_comes_late(config, heartbeat, ttl)
    return caplog.text


def test_a_ttl_longer_than_the_lateness_is_said_with_what_it_costs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    text = warnings(caplog, timeout=2, heartbeat=2, ttl=12)
    assert "exceed detection's lateness (5 s)" in text
    assert "up to 9 s of its shards' measurements" in text and "--member-ttl" in text


def test_the_defaults_say_nothing(caplog: pytest.LogCaptureFixture) -> None:
    # a 10-s probe timeout makes the lateness 11 s: a 6-s TTL and 2-s heartbeats are within
    assert warnings(caplog, timeout=10, heartbeat=2, ttl=6) == ""

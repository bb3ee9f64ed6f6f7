"""`[[maintenance]]` windows: parsed from TOML, checked, and matched by service and time."""

from __future__ import annotations

import pytest

from netvigil.config import parse_config
from netvigil.errors import ConfigError

BASE = """
[[services]]
name = "pm-office"

[[targets]]
kind = "tcp"
name = "pm-office-tcp"
service = "pm-office"
host = "192.0.2.10"
port = 443
"""


def test_iso_strings_and_toml_datetimes() -> None:
    config = parse_config(
        BASE
        + """
[[maintenance]]
services = ["pm-office"]
start = "2022-07-15T22:00:00+02:00"
end = 2022-07-15T21:00:00Z
note = "datacentre move"

[[maintenance]]
services = ["pm-office"]
start = 2022-07-16T10:00:00
end = "2022-07-16T11:00:00"
"""
    )
    first, second = config.maintenance
    assert first.start_ts == 1_657_915_200.0
    assert first.covers("pm-office", 1_657_915_200.0)
    assert not first.covers("pm-office", 1_657_918_800.0)
    assert not first.covers("parliament", 1_657_915_300.0)
    assert first.note == "datacentre move"
    assert second.start_ts == 1_657_965_600.0  # no offset: UTC


@pytest.mark.parametrize(
    ("window", "message"),
    [
        (
            'services = ["nope"]\nstart = 2022-07-15T20:00:00Z\nend = 2022-07-15T21:00:00Z',
            "maintenance[0].services: unknown service 'nope'",
        ),
        (
            'services = ["pm-office"]\nstart = 2022-07-15T21:00:00Z\nend = 2022-07-15T20:00:00Z',
            "maintenance[0]: end must be after start",
        ),
        (
            'services = ["pm-office"]\nstart = "tomorrow"\nend = 2022-07-15T20:00:00Z',
            "maintenance[0].start",
        ),
    ],
)
def test_bad_windows_are_refused_with_their_place(window: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_config(BASE + "\n[[maintenance]]\n" + window + "\n", source="netvigil.toml")

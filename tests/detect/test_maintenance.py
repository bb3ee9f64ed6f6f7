"""Planned maintenance: `[[maintenance]]` windows parsed and matched; mutes in the detector."""

from __future__ import annotations

import random

import pytest

from netvigil.config import parse_config
from netvigil.detect.detector import Detector
from netvigil.errors import ConfigError
from netvigil.incident import EventKind, IncidentEvent
from netvigil.maintenance import Mute, maintenance_note
from netvigil.model import Measurement

from .streams import ONSET, SILENT, Probe, World, healthy, target_name

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


# -- mutes in the detector --------------------------------------------------------------

NEWS = target_name("news")
RECOVERY = ONSET + 300.0
END = ONSET + 900.0


def news_down(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
    """The news site stops answering from every vantage at ONSET, back at RECOVERY."""
    if target == NEWS and ONSET <= ts < RECOVERY:
        return SILENT
    return healthy(ts, vantage, target, rng)


def stream() -> list[Measurement]:
    return World().stream(news_down, end=END)


def detect(mutes: list[Mute], measurements: list[Measurement]) -> list[IncidentEvent]:
    detector = Detector(World().config())
    detector.set_mutes(mutes)
    return detector.feed_many(measurements) + detector.flush()


def news_events(events: list[IncidentEvent]) -> list[IncidentEvent]:
    found = [e for e in events if NEWS in e.incident.targets]
    assert {e.kind for e in found} >= {EventKind.OPENED, EventKind.CONFIRMED, EventKind.RESOLVED}
    return found


def test_a_muted_target_makes_a_quiet_maintenance_incident() -> None:
    # 2022-07-15 21:30 UTC, an hour after the onset.
    events = news_events(detect([Mute(NEWS, ONSET + 3600, "router swap")], stream()))
    assert all(e.quiet for e in events)
    assert {e.incident.maintenance for e in events} == {
        "muted until 2022-07-15 21:30 UTC: router swap"
    }
    confirmed = next(e for e in events if e.kind is EventKind.CONFIRMED).incident
    assert "router swap" in confirmed.evidence[0].statement


def test_without_a_mute_the_same_incident_is_loud() -> None:
    events = news_events(detect([], stream()))
    assert not any(e.quiet for e in events)
    assert {e.incident.maintenance for e in events} == {None}
    # A mute on another target changes nothing.
    other = news_events(detect([Mute(target_name("parliament"), ONSET + 3600)], stream()))
    assert [(e.kind, e.quiet) for e in other] == [(e.kind, e.quiet) for e in events]


def test_an_expired_mute_is_ignored() -> None:
    events = news_events(detect([Mute(NEWS, ONSET - 60, "last week's works")], stream()))
    assert not any(e.quiet for e in events)


def test_events_after_the_mute_expires_are_loud() -> None:
    until = ONSET + 120.0  # the incident is confirmed before, resolved after
    events = news_events(detect([Mute(NEWS, until, "short")], stream()))
    before = [e for e in events if e.ts < until]
    after = [e for e in events if e.ts >= until]
    assert before
    assert after
    assert all(e.quiet for e in before)
    assert not any(e.quiet for e in after)
    assert after[-1].kind is EventKind.RESOLVED
    assert after[-1].incident.maintenance is None
    # The label comes off as the mute runs out, not only at the next change of state.
    assert after[0].kind is EventKind.UPDATED
    assert after[0].incident.maintenance is None
    assert after[0].ts - until < 30


def test_lifting_a_mute_makes_later_events_loud() -> None:
    measurements = stream()
    detector = Detector(World().config())
    detector.set_mutes([Mute(NEWS, ONSET + 3600, "router swap")])
    half = [m for m in measurements if m.ts < ONSET + 150]
    early = detector.feed_many(half)
    detector.set_mutes([])
    late = detector.feed_many(measurements[len(half) :]) + detector.flush()
    early, late = (
        [e for e in early if NEWS in e.incident.targets],
        [e for e in late if NEWS in e.incident.targets],
    )
    assert {e.kind for e in early} >= {EventKind.OPENED, EventKind.CONFIRMED}
    assert all(e.quiet for e in early)
    assert late[-1].kind is EventKind.RESOLVED
    assert not any(e.quiet for e in late)
    # Lifting the mute is itself announced (stored, shown), at the next measurement.
    assert late[0].kind is EventKind.UPDATED
    assert late[0].incident.maintenance is None
    assert late[0].ts - (ONSET + 150) < 30


def test_a_mute_set_during_an_incident_labels_it_at_once_and_quiets_the_rest() -> None:
    measurements = stream()
    detector = Detector(World().config())
    half = [m for m in measurements if m.ts < ONSET + 150]
    early = [e for e in detector.feed_many(half) if NEWS in e.incident.targets]
    detector.set_mutes([Mute(NEWS, ONSET + 3600, "router swap")])
    late = detector.feed_many(measurements[len(half) :]) + detector.flush()
    late = [e for e in late if NEWS in e.incident.targets]
    assert {e.kind for e in early} >= {EventKind.OPENED, EventKind.CONFIRMED}
    assert not any(e.quiet for e in early)
    assert late[0].kind is EventKind.UPDATED
    assert late[0].incident.maintenance == "muted until 2022-07-15 21:30 UTC: router swap"
    assert all(e.quiet for e in late)
    assert late[-1].kind is EventKind.RESOLVED


def test_mutes_and_windows_together_cover_an_incident() -> None:
    world = World(
        maintenance=[
            {
                "services": ["news"],
                "start": "2022-07-15T20:00:00Z",
                "end": "2022-07-15T21:00:00Z",
                "note": "datacentre move",
            }
        ]
    )
    config = world.config()
    parliament = target_name("parliament")

    def note(mutes: list[Mute]) -> str | None:
        return maintenance_note(
            ["news", "parliament"],
            [NEWS, parliament],
            windows=config.maintenance,
            mutes={m.target: m for m in mutes},
            start=ONSET,
            now=ONSET + 60,
            service_of=lambda t: t.removesuffix("-https"),
        )

    assert note([]) is None  # the window covers news only
    assert note([Mute(parliament, ONSET + 3600, "x")]) == (
        "datacentre move; muted until 2022-07-15 21:30 UTC: x"
    )
    assert note([Mute(parliament, ONSET + 30, "x")]) is None  # expired by `now`

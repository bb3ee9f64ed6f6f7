"""Alert wording: the headline reads as a sentence, followed by the evidence."""

from __future__ import annotations

import json

from netvigil.cause import Cause
from netvigil.incident import EventKind
from netvigil.notify.message import event_payload, headline, render

from .helpers import make_event


def test_confirmed_headline_names_services_vantages_start_and_cause() -> None:
    assert headline(make_event(EventKind.CONFIRMED)) == (
        "CONFIRMED: e-albania, kryeministria, parlament down from 3 vantages since "
        "2022-07-16 21:04:05 UTC — looks like shutdown (confidence 0.82)"
    )


def test_cause_change_says_what_it_looked_like_before() -> None:
    event = make_event(
        EventKind.CAUSE_CHANGED,
        cause=Cause.VOLUMETRIC_DDOS,
        confidence=0.7,
        history=[Cause.SHUTDOWN, Cause.VOLUMETRIC_DDOS],
    )
    line = headline(event)
    assert line.startswith("CAUSE CHANGED: e-albania, kryeministria, parlament down")
    assert "now looks like volumetric DDoS (confidence 0.70)" in line
    assert line.endswith("before it looked like shutdown")


def test_resolved_headline_gives_end_and_duration() -> None:
    assert headline(make_event(EventKind.RESOLVED)) == (
        "RESOLVED: e-albania, kryeministria, parlament back up since 2022-07-16 22:04:05 UTC "
        "after 60 min (it looked like shutdown)"
    )


def test_unknown_cause_is_said_plainly() -> None:
    line = headline(make_event(EventKind.CONFIRMED, cause=Cause.UNKNOWN, confidence=0.0))
    assert line.startswith("CONFIRMED: ")
    assert line.endswith("— cause not yet clear")


def test_a_provisional_cause_is_never_sent() -> None:
    event = make_event(EventKind.OPENED, cause=Cause.SHUTDOWN, confidence=0.55)
    message = render(event)
    assert message.subject.endswith("down")  # no "(shutdown)"
    assert headline(event).endswith("— cause judged once it is confirmed")
    assert "shutdown" not in message.subject + headline(event)
    assert event_payload(event)["provisional"] is True
    assert event_payload(make_event())["provisional"] is False


def test_text_body_lists_evidence_after_the_headline() -> None:
    message = render(make_event())
    lines = message.text.splitlines()
    assert lines[0].startswith("CONFIRMED: ")
    assert lines[2] == "Evidence:"
    assert lines[3] == "- every vantage fails: 3 of 3"
    assert lines[4] == "- all 3 services on network akshi failed within 4 s"
    assert "Incident: inc-1 (confirmed)" in lines
    assert "Networks: akshi" in lines
    assert message.subject == (
        "[netvigil] CONFIRMED: e-albania, kryeministria, parlament down (shutdown)"
    )


def test_payload_is_json_with_the_incident() -> None:
    payload = event_payload(make_event(EventKind.CAUSE_CHANGED))
    decoded = json.loads(json.dumps(payload))
    assert decoded["version"] == 1
    assert decoded["kind"] == "cause_changed"
    assert decoded["incident"]["id"] == "inc-1"
    assert decoded["incident"]["evidence"][0]["statement"] == "every vantage fails: 3 of 3"
    assert decoded["headline"].startswith("CAUSE CHANGED: ")

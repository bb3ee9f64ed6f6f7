"""One vocabulary: every state and cause has its words in netvigil/vocabulary.json, and
the CLI, alerts, the status page and the dashboard all say them."""

from __future__ import annotations

import typing
from pathlib import Path

from netvigil.cause import Cause
from netvigil.incident import EventKind, Incident, IncidentEvent, IncidentState
from netvigil.notify.message import headline
from netvigil.state.current import ServiceStatus, TargetStatus, VantageHealth
from netvigil.words import VOCABULARY, cause_label, cause_plain, state_word

STATIC = Path(__file__).resolve().parents[1] / "src" / "netvigil" / "web" / "static"


def test_every_state_and_cause_has_its_words() -> None:
    for kind in (ServiceStatus, TargetStatus, VantageHealth):
        for state in typing.get_args(kind):
            assert state in VOCABULARY["states"], state
    for cause in Cause:
        assert cause.value in VOCABULARY["causes"], cause
        assert cause_label(cause) and cause_plain(cause)
    assert state_word("degraded") == state_word("partial") == "partly down"


def test_alerts_and_the_dashboard_use_the_same_words() -> None:
    inc = Incident(
        id="i",
        state=IncidentState.CONFIRMED,
        start=0.0,
        confirmed_at=1.0,
        cause=Cause.VOLUMETRIC_DDOS,
        confidence=0.9,
        services=["portal"],
    )
    assert cause_label(Cause.VOLUMETRIC_DDOS) in headline(
        IncidentEvent(EventKind.CONFIRMED, 1.0, inc)
    )
    [bundle] = STATIC.glob("app-*.js")
    js = bundle.read_text()
    for word in (
        state_word("degraded"),
        cause_label(Cause.VANTAGE_PROBLEM),
        cause_plain(Cause.SHUTDOWN),
    ):
        assert word in js, f"the dashboard bundle lacks {word!r}: rebuild it (make frontend)"

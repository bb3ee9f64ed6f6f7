"""Report wording: spans, name lists and the headline sentence."""

from __future__ import annotations

import pytest

from netvigil.cause import Cause, Evidence, Topic
from netvigil.incident import Incident, IncidentState
from netvigil.report.markdown import escape
from netvigil.report.text import alternatives, evidence_lines, headline, join_names, span

START = 1_658_005_440.0  # 2022-07-16 21:04:00 UTC


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (12, "12 s"),
        (60, "1 min"),
        (59 * 60 + 20, "59 min"),
        (2 * 3600 + 11 * 60, "2 h 11 min"),
        (3 * 3600 + 10, "3 h"),
        (3 * 86400 + 4 * 3600, "3 d 4 h"),
        (-5, "0 s"),
    ],
)
def test_span(seconds: float, text: str) -> None:
    assert span(seconds) == text


def test_join_names() -> None:
    assert join_names([]) == ""
    assert join_names(["a"]) == "a"
    assert join_names(["a", "b", "c"]) == "a, b and c"
    assert join_names(list("abcdefgh"), limit=3) == "a, b, c and 5 more"


def _incident(**kwargs: object) -> Incident:
    base: dict[str, object] = {
        "id": "inc-1",
        "state": IncidentState.RESOLVED,
        "start": START,
        "end": START + 2 * 3600 + 11 * 60,
        "cause": Cause.SHUTDOWN,
        "confidence": 0.82,
        "services": ["e-albania", "kryeministria", "parlament"],
        "vantages": ["a", "b", "c"],
    }
    base.update(kwargs)
    return Incident(**base)  # type: ignore[arg-type]


def test_headline_of_a_resolved_shutdown() -> None:
    assert headline(_incident(), now=START + 99_999) == (
        "e-albania, kryeministria and parlament unreachable from 3 vantages from "
        "2022-07-16 21:04 UTC for 2 h 11 min; it looks like a deliberate shutdown "
        "(confidence 0.82)"
    )


def test_headline_of_an_open_incident_of_unknown_cause() -> None:
    inc = _incident(
        state=IncidentState.CONFIRMED, end=None, cause=Cause.UNKNOWN, vantages=["a"], services=[]
    )
    inc.targets = ["api-https"]
    text = headline(inc, now=START + 600)
    assert text == (
        "api-https unreachable from 1 vantage since 2022-07-16 21:04 UTC (10 min so far); "
        "the cause is not clear yet"
    )


def test_headline_of_a_vantage_problem_and_a_dns_failure() -> None:
    inc = _incident(cause=Cause.VANTAGE_PROBLEM, vantage="tirana")
    assert "as seen from vantage tirana only" in headline(inc, now=START)
    dns = headline(_incident(cause=Cause.DNS_FAILURE, confidence=0.6), now=START)
    assert "parlament failing from 3 vantages" in dns
    assert "a DNS failure" in dns


def test_evidence_lines_keep_statements_verbatim() -> None:
    evidence = [
        Evidence(
            "3 of 3 services on network gov lost within 1 s", Topic.COFATE, 1.5, Cause.SHUTDOWN
        ),
        Evidence("no build-up *at all* <here>", Topic.SHAPE, -1.5, Cause.VOLUMETRIC_DDOS),
    ]
    lines = evidence_lines(_incident(evidence=evidence))
    assert [(line.stance, line.cause) for line in lines] == [
        ("for", "shutdown"),
        ("against", "volumetric DDoS"),
    ]
    assert [line.statement for line in lines] == [e.statement for e in evidence]
    assert escape(lines[1].statement) == r"no build-up \*at all\* \<here\>"
    assert escape("tcp_timeout _x_") == r"tcp_timeout \_x\_"
    assert escape("a | b\nc") == r"a \| b c"


def test_alternatives_leave_out_the_cause_and_unknown() -> None:
    inc = _incident(
        probabilities={"shutdown": 0.7, "unknown": 0.2, "volumetric_ddos": 0.08, "dns_failure": 0.0}
    )
    assert alternatives(inc) == ["volumetric DDoS 0.08"]

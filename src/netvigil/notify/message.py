"""Alert messages: an incident event rendered as a subject, a plain-text body and JSON.

The first line of every message reads as a sentence a person can act on:

    CONFIRMED: e-albania, kryeministria, parlament down from 3 vantages since
    2022-07-16 21:04:05 UTC — looks like shutdown (confidence 0.82)

followed by the evidence statements, one per line, and the incident's particulars.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from netvigil.cause import Cause
from netvigil.incident import EventKind, Incident, IncidentEvent
from netvigil.words import cause_label, duration, names, stamp

__all__ = [
    "MAX_EVIDENCE_LINES",
    "PAYLOAD_VERSION",
    "Message",
    "cause_label",
    "event_payload",
    "headline",
    "render",
    "stamp",
]

PAYLOAD_VERSION = 1
"""Version of the JSON alert payload (`event_payload`); bumped on incompatible change."""

MAX_EVIDENCE_LINES = 12
"""At most this many evidence statements go into a text message."""

_WORDS: dict[EventKind, str] = {
    EventKind.OPENED: "SUSPECTED",
    EventKind.CONFIRMED: "CONFIRMED",
    EventKind.CAUSE_CHANGED: "CAUSE CHANGED",
    EventKind.UPDATED: "UPDATED",
    EventKind.RESOLVED: "RESOLVED",
    EventKind.CERTIFICATE: "CERTIFICATE",
}


@dataclass(frozen=True, slots=True)
class Message:
    """One alert in words: a one-line subject and a plain-text body."""

    subject: str
    text: str


def _what(inc: Incident) -> str:
    """The affected services (targets when no service is named)."""
    return names(inc.services or inc.targets, limit=6) or f"incident {inc.id}"


def _where(inc: Incident) -> str:
    if inc.vantage is not None:
        return f"as seen from vantage {inc.vantage}"
    count = len(inc.vantages)
    if count == 0:
        return ""
    return f"from {count} vantage{'s' if count != 1 else ''}"


def _looks(inc: Incident) -> str:
    if inc.open and inc.confirmed_at is None:
        return "cause judged once it is confirmed"  # a provisional label is never sent
    if inc.cause is Cause.UNKNOWN:
        return "cause not yet clear"
    return f"looks like {cause_label(inc.cause)} (confidence {inc.confidence:.2f})"


def _previous_cause(inc: Incident) -> Cause | None:
    """The cause before the latest change, when the history has one."""
    if len(inc.cause_history) < 2:
        return None
    return inc.cause_history[-2].cause


def headline(event: IncidentEvent) -> str:
    """The one-sentence summary an alert starts with."""
    inc = event.incident
    if event.kind is EventKind.CERTIFICATE:
        # Not an outage: the evidence's first statement says which certificate, and when.
        said = inc.evidence[0].statement if inc.evidence else f"{_what(inc)}: certificate"
        return f"CERTIFICATE: {said}"
    word = _WORDS.get(event.kind, event.kind.value.upper())
    where = _where(inc)
    place = f" {where}" if where else ""
    if event.kind is EventKind.RESOLVED:
        end = inc.end if inc.end is not None else event.ts
        cause = (
            f" (it looked like {cause_label(inc.cause)})" if inc.cause is not Cause.UNKNOWN else ""
        )
        return (
            f"{word}: {_what(inc)} back up since {stamp(end)} after "
            f"{duration(max(0.0, end - inc.start))}{cause}"
        )
    if event.kind is EventKind.CAUSE_CHANGED:
        before = _previous_cause(inc)
        was = f"; before it looked like {cause_label(before)}" if before is not None else ""
        return f"{word}: {_what(inc)} down{place} since {stamp(inc.start)} — now {_looks(inc)}{was}"
    return f"{word}: {_what(inc)} down{place} since {stamp(inc.start)} — {_looks(inc)}"


def _subject(event: IncidentEvent) -> str:
    inc = event.incident
    if event.kind is EventKind.CERTIFICATE:
        return f"[netvigil] CERTIFICATE: {', '.join(inc.targets)} certificate expires soon"
    word = _WORDS.get(event.kind, event.kind.value.upper())
    state = "back up" if event.kind is EventKind.RESOLVED else "down"
    provisional = inc.open and inc.confirmed_at is None
    cause = "" if inc.cause is Cause.UNKNOWN or provisional else f" ({cause_label(inc.cause)})"
    return f"[netvigil] {word}: {_what(inc)} {state}{cause}"


def _details(event: IncidentEvent) -> list[str]:
    inc = event.incident
    lines = [f"Incident: {inc.id} ({inc.state.value})", f"Started: {stamp(inc.start)}"]
    if inc.confirmed_at is not None:
        lines.append(f"Confirmed: {stamp(inc.confirmed_at)}")
    if inc.end is not None:
        lines.append(f"Ended: {stamp(inc.end)}")
    if inc.networks:
        lines.append(f"Networks: {names(inc.networks, limit=10)}")
    if inc.vantages:
        lines.append(f"Vantages: {names(inc.vantages, limit=10)}")
    if inc.targets:
        lines.append(f"Targets: {names(inc.targets, limit=10)}")
    if len(inc.cause_history) > 1:
        history = ", ".join(
            f"{cause_label(c.cause)} ({c.confidence:.2f}) at {stamp(c.ts)}"
            for c in inc.cause_history
        )
        lines.append(f"Cause history: {history}")
    if inc.maintenance:
        lines.append(f"Maintenance: {inc.maintenance}")
    return lines


def render(event: IncidentEvent) -> Message:
    """The event as a subject line and a plain-text body (headline, evidence, details)."""
    body = [headline(event)]
    evidence = event.incident.evidence
    if evidence:
        body += ["", "Evidence:"]
        body += [f"- {e.statement}" for e in evidence[:MAX_EVIDENCE_LINES]]
        if len(evidence) > MAX_EVIDENCE_LINES:
            body.append(f"- (+{len(evidence) - MAX_EVIDENCE_LINES} more statements)")
    body += ["", *_details(event)]
    return Message(subject=_subject(event), text="\n".join(body) + "\n")


def event_payload(event: IncidentEvent, message: Message | None = None) -> dict[str, Any]:
    """The JSON object a webhook receives: the event, its words and the incident."""
    message = message if message is not None else render(event)
    return {
        "version": PAYLOAD_VERSION,
        "kind": event.kind.value,
        "ts": event.ts,
        "subject": message.subject,
        "headline": headline(event),
        "text": message.text,
        "provisional": event.incident.open and event.incident.confirmed_at is None,
        "incident": event.incident.to_json(),
    }

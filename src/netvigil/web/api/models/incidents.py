"""Incidents: the summary in listings, and the detail with evidence, timeline and notes."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from netvigil.cause import Cause, Topic
from netvigil.incident import EventKind, Incident, IncidentState
from netvigil.store.base import IncidentNote
from netvigil.web.api.models.common import ResponseModel

__all__ = [
    "CauseChangeOut",
    "EvidenceOut",
    "IncidentDetail",
    "IncidentEventOut",
    "IncidentSummary",
    "NoteOut",
]


class EvidenceOut(ResponseModel):
    """One checkable evidence statement, with the weight it gave the cause it was weighed for."""

    statement: str
    topic: Topic
    weight: float
    cause: Cause


class CauseChangeOut(ResponseModel):
    """One entry of the cause history."""

    ts: float
    cause: Cause
    confidence: float


class IncidentEventOut(ResponseModel):
    """One entry of an incident's timeline."""

    kind: EventKind
    ts: float
    state: IncidentState
    cause: Cause
    confidence: float
    quiet: bool


class NoteOut(ResponseModel):
    """An acknowledgement or annotation of an incident."""

    seq: int
    kind: Literal["ack", "note"]
    ts: float
    author: str
    text: str

    @classmethod
    def of(cls, n: IncidentNote) -> NoteOut:
        return cls(seq=n.seq, kind=n.kind, ts=n.ts, author=n.author, text=n.text)


class IncidentSummary(ResponseModel):
    """An incident, without its evidence and timeline."""

    id: str
    state: IncidentState
    cause: Cause
    confidence: float
    provisional: bool = Field(
        description="The cause is provisional: the incident is not confirmed yet, its cause "
        "is judged from a few probes (confidence capped at 0.6) and no alert names it"
    )
    start: float
    confirmed_at: float | None
    end: float | None
    services: list[str]
    targets: list[str]
    vantages: list[str]
    vantage: str | None = Field(description="The vantage at fault, for a vantage problem")
    maintenance: str | None
    updated: float

    @classmethod
    def of(cls, i: Incident) -> IncidentSummary:
        return cls(**_summary(i))


def _summary(i: Incident) -> dict[str, Any]:
    return {
        "id": i.id,
        "state": i.state,
        "cause": i.cause,
        "confidence": i.confidence,
        "provisional": i.confirmed_at is None and i.open,
        "start": i.start,
        "confirmed_at": i.confirmed_at,
        "end": i.end,
        "services": list(i.services),
        "targets": list(i.targets),
        "vantages": list(i.vantages),
        "vantage": i.vantage,
        "maintenance": i.maintenance,
        "updated": i.updated,
    }


class IncidentDetail(IncidentSummary):
    """An incident with its evidence, cause history, timeline and notes."""

    first_measurement_id: str | None
    networks: list[str]
    organizations: list[str]
    evidence: list[EvidenceOut]
    cause_history: list[CauseChangeOut]
    probabilities: dict[str, float]
    features: dict[str, float]
    timeline: list[IncidentEventOut]
    notes: list[NoteOut]
    acknowledged: bool

    @classmethod
    def build(
        cls, i: Incident, timeline: list[IncidentEventOut], notes: list[IncidentNote]
    ) -> IncidentDetail:
        return cls(
            **_summary(i),
            first_measurement_id=i.first_measurement_id,
            networks=list(i.networks),
            organizations=list(i.organizations),
            evidence=[
                EvidenceOut(statement=e.statement, topic=e.topic, weight=e.weight, cause=e.cause)
                for e in i.evidence
            ],
            cause_history=[
                CauseChangeOut(ts=c.ts, cause=c.cause, confidence=c.confidence)
                for c in i.cause_history
            ],
            probabilities=dict(i.probabilities),
            features=i.features.to_json(),
            timeline=timeline,
            notes=[NoteOut.of(n) for n in notes],
            acknowledged=any(n.kind == "ack" for n in notes),
        )

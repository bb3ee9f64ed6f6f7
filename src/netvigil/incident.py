"""Incidents: one co-fated outage, its life (suspected -> confirmed -> resolved) and its cause.

An incident groups the targets that fell together (e.g. every service on one network),
records the first bad measurement, when it was confirmed and when it ended, the cause
with its confidence and evidence, how the cause changed as evidence grew, and the
feature vector the cause was judged from. `to_json`/`from_json` round-trip losslessly,
so a store can keep incidents across restarts and seed a Detector with the open ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from netvigil.cause import Cause, Evidence
from netvigil.evidence import Features

__all__ = ["CauseChange", "EventKind", "Incident", "IncidentEvent", "IncidentState"]


class IncidentState(StrEnum):
    """Where an incident is in its life."""

    SUSPECTED = "suspected"
    CONFIRMED = "confirmed"
    RESOLVED = "resolved"


class EventKind(StrEnum):
    """What happened to an incident."""

    OPENED = "opened"
    CONFIRMED = "confirmed"
    CAUSE_CHANGED = "cause_changed"
    UPDATED = "updated"
    RESOLVED = "resolved"
    CERTIFICATE = "certificate"
    """Not an outage: a target's certificate is about to run out (`pipeline.certificates`)."""


@dataclass(frozen=True, slots=True)
class CauseChange:
    """One entry of an incident's cause history."""

    ts: float
    cause: Cause
    confidence: float

    def to_json(self) -> dict[str, Any]:
        """The JSON object form."""
        return {"ts": self.ts, "cause": self.cause.value, "confidence": self.confidence}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> CauseChange:
        """Rebuild from `to_json()` output."""
        return cls(float(data["ts"]), Cause(data["cause"]), float(data["confidence"]))


def _names(value: Any) -> list[str]:
    return [str(v) for v in value or []]


@dataclass(slots=True)
class Incident:
    """One co-fated outage as seen so far.

    `start` and `first_measurement_id` name the first bad measurement; `confirmed_at` is
    when the failure was confirmed (None while suspected), `end` when the last affected
    target recovered (None while open). `vantage` is set for a vantage-problem incident
    (the vantage at fault). `maintenance` holds the note of the maintenance window that
    covers it; such an incident is labelled and its events are quiet.
    """

    id: str
    state: IncidentState
    start: float
    first_measurement_id: str | None = None
    confirmed_at: float | None = None
    end: float | None = None
    cause: Cause = Cause.UNKNOWN
    confidence: float = 0.0
    services: list[str] = field(default_factory=list)
    targets: list[str] = field(default_factory=list)
    networks: list[str] = field(default_factory=list)
    organizations: list[str] = field(default_factory=list)
    vantages: list[str] = field(default_factory=list)
    vantage: str | None = None
    evidence: list[Evidence] = field(default_factory=list)
    cause_history: list[CauseChange] = field(default_factory=list)
    probabilities: dict[str, float] = field(default_factory=dict)
    features: Features = field(default_factory=Features)
    maintenance: str | None = None
    updated: float = 0.0

    @property
    def open(self) -> bool:
        """Whether the incident has not ended."""
        return self.state is not IncidentState.RESOLVED

    def to_json(self) -> dict[str, Any]:
        """The JSON object form (API, store, alerts)."""
        return {
            "id": self.id,
            "state": self.state.value,
            "start": self.start,
            "first_measurement_id": self.first_measurement_id,
            "confirmed_at": self.confirmed_at,
            "end": self.end,
            "cause": self.cause.value,
            "confidence": self.confidence,
            "services": list(self.services),
            "targets": list(self.targets),
            "networks": list(self.networks),
            "organizations": list(self.organizations),
            "vantages": list(self.vantages),
            "vantage": self.vantage,
            "evidence": [e.to_json() for e in self.evidence],
            "cause_history": [c.to_json() for c in self.cause_history],
            "probabilities": dict(self.probabilities),
            "features": self.features.to_json(),
            "maintenance": self.maintenance,
            "updated": self.updated,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Incident:
        """Rebuild from `to_json()` output. Raises ValueError (or KeyError) on a bad object."""
        return cls(
            id=str(data["id"]),
            state=IncidentState(data["state"]),
            start=float(data["start"]),
            first_measurement_id=data.get("first_measurement_id"),
            confirmed_at=_opt_float(data.get("confirmed_at")),
            end=_opt_float(data.get("end")),
            cause=Cause(data.get("cause", Cause.UNKNOWN.value)),
            confidence=float(data.get("confidence", 0.0)),
            services=_names(data.get("services")),
            targets=_names(data.get("targets")),
            networks=_names(data.get("networks")),
            organizations=_names(data.get("organizations")),
            vantages=_names(data.get("vantages")),
            vantage=data.get("vantage"),
            evidence=[Evidence.from_json(e) for e in data.get("evidence") or []],
            cause_history=[CauseChange.from_json(c) for c in data.get("cause_history") or []],
            probabilities={str(k): float(v) for k, v in (data.get("probabilities") or {}).items()},
            features=Features.from_json(data.get("features") or {}),
            maintenance=data.get("maintenance"),
            updated=float(data.get("updated", 0.0)),
        )

    def copy(self) -> Incident:
        """An independent snapshot: its lists and mappings are new, their items (names,
        frozen `Evidence`, `CauseChange` and `Features`) shared, since nothing changes
        them in place."""
        return Incident(
            id=self.id,
            state=self.state,
            start=self.start,
            first_measurement_id=self.first_measurement_id,
            confirmed_at=self.confirmed_at,
            end=self.end,
            cause=self.cause,
            confidence=self.confidence,
            services=list(self.services),
            targets=list(self.targets),
            networks=list(self.networks),
            organizations=list(self.organizations),
            vantages=list(self.vantages),
            vantage=self.vantage,
            evidence=list(self.evidence),
            cause_history=list(self.cause_history),
            probabilities=dict(self.probabilities),
            features=self.features,
            maintenance=self.maintenance,
            updated=self.updated,
        )


def _opt_float(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass(frozen=True, slots=True)
class IncidentEvent:
    """Something that happened to an incident, with a snapshot of it at that moment.

    `quiet` is set for incidents under a maintenance window: record them, do not alert.
    """

    kind: EventKind
    ts: float
    incident: Incident
    quiet: bool = False

    def to_json(self) -> dict[str, Any]:
        """The JSON object form."""
        return {
            "kind": self.kind.value,
            "ts": self.ts,
            "quiet": self.quiet,
            "incident": self.incident.to_json(),
        }

"""The API's response and request bodies, as pydantic models (they make the OpenAPI schema).

Times are epoch seconds (float, UTC). Names of outcomes, phases, causes and incident
states are the stable public strings of `netvigil.outcome`, `netvigil.classify.base`
and `netvigil.incident`.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from netvigil.cause import Cause, Topic
from netvigil.incident import EventKind, Incident, IncidentState
from netvigil.model import Measurement
from netvigil.outcome import Outcome, Phase
from netvigil.probes import TargetSpec
from netvigil.store.base import IncidentNote, Rollup
from netvigil.web.state import (
    Mute,
    PairState,
    ServiceStatus,
    TargetStatus,
    TargetView,
    VantageHealth,
    VantageView,
)

__all__ = [
    "ERROR_RESPONSES",
    "AckIn",
    "AgentCreated",
    "AgentIn",
    "AgentOut",
    "ErrorOut",
    "IncidentDetail",
    "IncidentEventOut",
    "IncidentSummary",
    "MeasurementOut",
    "MeasurementPage",
    "MuteIn",
    "MuteOut",
    "NoteIn",
    "NoteOut",
    "Overview",
    "OverviewRow",
    "PairOut",
    "RollupOut",
    "RollupPage",
    "ServiceDetail",
    "ServiceOut",
    "TargetOut",
    "TokenCreated",
    "TokenIn",
    "TokenOut",
    "VantageOut",
    "json_response",
]


class _Out(BaseModel):
    model_config = ConfigDict(frozen=True)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ErrorOut(_Out):
    """The one error shape: what went wrong, where, and the HTTP status."""

    ok: Literal[False] = False
    error: str
    errors: list[str]
    status: int


def json_response(model: BaseModel | list[Any]) -> Response:
    """`model` as a JSON response, serialised once by pydantic (FastAPI's response
    validation is skipped: the route's `response_model` still documents the shape)."""
    if isinstance(model, list):
        body = b"[" + b",".join(m.model_dump_json().encode() for m in model) + b"]"
    else:
        body = model.model_dump_json().encode()
    return Response(body, media_type="application/json")


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorOut, "description": "Malformed request"},
    404: {"model": ErrorOut, "description": "No such thing"},
    422: {"model": ErrorOut, "description": "Invalid parameters or body"},
    503: {"model": ErrorOut, "description": "The store is unavailable"},
}
"""Error answers every API route may give, for the OpenAPI schema."""


class PairOut(_Out):
    """The newest result of one target from one vantage."""

    vantage: str
    kind: str
    ok: bool
    outcome: Outcome
    phase: Phase | None
    since: float = Field(description="When it last turned up or down from this vantage")
    last_ts: float
    latency_s: float | None
    address: str | None
    failures: int = Field(description="Consecutive failed results (0 when up)")

    @classmethod
    def of(cls, p: PairState) -> PairOut:
        return cls(
            vantage=p.vantage,
            kind=p.kind,
            ok=p.ok,
            outcome=Outcome(p.outcome),
            phase=None if p.phase is None else Phase(p.phase),
            since=p.since,
            last_ts=p.last_ts,
            latency_s=p.latency_s,
            address=p.address,
            failures=p.failures,
        )


class MuteOut(_Out):
    """A target muted for maintenance."""

    target: str
    until: float
    note: str
    created: float

    @classmethod
    def of(cls, m: Mute) -> MuteOut:
        return cls(target=m.target, until=m.until, note=m.note, created=m.created)


class TargetOut(_Out):
    """A target and how it looks now from every vantage with a fresh result."""

    name: str
    kind: str | None = Field(description="Probe kind (None for a target not in the config)")
    service: str | None
    control: bool
    interval_s: float | None
    status: TargetStatus
    since: float | None
    muted: MuteOut | None
    vantages: list[PairOut]


class ServiceOut(_Out):
    """A service and how it looks now."""

    name: str
    description: str
    organization: str | None
    network: str | None
    country: str | None
    status: ServiceStatus
    since: float | None = Field(description="When the service entered this status")
    targets: list[str]
    open_incidents: list[str]


class ServiceDetail(ServiceOut):
    """A service with the current state of each of its targets."""

    target_states: list[TargetOut]


class OverviewRow(_Out):
    """One service in the overview grid: its status, and per vantage (in `vantages` order)."""

    service: str
    status: ServiceStatus
    since: float | None
    cells: list[ServiceStatus]


class Overview(_Out):
    """The services x vantages grid."""

    generated_at: float
    vantages: list[str]
    counts: dict[str, int] = Field(description="How many services are in each status")
    services: list[OverviewRow]


class VantageOut(_Out):
    """A vantage: where it is, when it was last heard from, and its health."""

    name: str
    local: bool = Field(description="Whether this is the server's own vantage")
    country: str | None
    in_country: bool
    last_seen: float | None
    targets: int = Field(description="Targets with a fresh result from this vantage")
    ok: int = Field(description="... of which answered")
    health: VantageHealth

    @classmethod
    def of(cls, v: VantageView) -> VantageOut:
        return cls(
            name=v.name,
            local=v.local,
            country=v.country,
            in_country=v.in_country,
            last_seen=v.last_seen,
            targets=v.targets,
            ok=v.ok,
            health=v.health,
        )


class MeasurementOut(_Out):
    """One raw measurement (as `netvigil export` writes it)."""

    id: str
    ts: float
    vantage: str
    target: str
    kind: str
    ok: bool
    outcome: Outcome
    phase: Phase | None
    timings: dict[str, float]
    detail: dict[str, Any]
    address: str | None

    @classmethod
    def of(cls, m: Measurement) -> MeasurementOut:
        return cls.model_construct(
            id=m.id,
            ts=m.ts,
            vantage=m.vantage,
            target=m.target,
            kind=m.kind,
            ok=m.ok,
            outcome=m.outcome,
            phase=m.phase,
            timings=m.timings,
            detail=m.detail,
            address=m.address,
        )


class MeasurementPage(_Out):
    """A page of measurements, oldest first; pass `next_after` as `after` for the next."""

    items: list[MeasurementOut]
    next_after: str | None


class RollupOut(_Out):
    """One minute (or one bucket of `step` seconds) of one target from one vantage.

    In buckets over a minute, counts and outcomes are sums and the latencies are the
    minutes' p50 (p95) averaged, weighted by their successful measurements.
    """

    minute: int = Field(description="Start of the minute (bucket), epoch s")
    target: str
    vantage: str
    count: int
    ok_count: int
    success_ratio: float
    latency_p50_s: float | None
    latency_p95_s: float | None
    outcomes: dict[str, int]

    @classmethod
    def of(cls, r: Rollup) -> RollupOut:
        return cls.model_construct(
            minute=r.minute,
            target=r.target,
            vantage=r.vantage,
            count=r.count,
            ok_count=r.ok_count,
            success_ratio=r.success_ratio,
            latency_p50_s=r.latency_p50_s,
            latency_p95_s=r.latency_p95_s,
            outcomes=r.outcomes,
        )


class RollupPage(_Out):
    """A page of rollups, oldest first; pass `next_since` as `since` for the next."""

    items: list[RollupOut]
    next_since: int | None
    step: int = Field(description="Seconds each row sums: 60 for per-minute rows")


class EvidenceOut(_Out):
    """One checkable evidence statement, with the weight it gave the cause it was weighed for."""

    statement: str
    topic: Topic
    weight: float
    cause: Cause


class CauseChangeOut(_Out):
    """One entry of the cause history."""

    ts: float
    cause: Cause
    confidence: float


class IncidentEventOut(_Out):
    """One entry of an incident's timeline."""

    kind: EventKind
    ts: float
    state: IncidentState
    cause: Cause
    confidence: float
    quiet: bool


class NoteOut(_Out):
    """An acknowledgement or annotation of an incident."""

    seq: int
    kind: Literal["ack", "note"]
    ts: float
    author: str
    text: str

    @classmethod
    def of(cls, n: IncidentNote) -> NoteOut:
        return cls(seq=n.seq, kind=n.kind, ts=n.ts, author=n.author, text=n.text)


class IncidentSummary(_Out):
    """An incident, without its evidence and timeline."""

    id: str
    state: IncidentState
    cause: Cause
    confidence: float
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


def target_out(view: TargetView, spec: TargetSpec | None) -> TargetOut:
    """A TargetOut from the live view and the config's spec (None if not configured)."""
    return TargetOut(
        name=view.name,
        kind=None if spec is None else spec.kind,
        service=view.service,
        control=False if spec is None else spec.control,
        interval_s=None if spec is None else spec.interval_s,
        status=view.status,
        since=view.since,
        muted=None if view.muted is None else MuteOut.of(view.muted),
        vantages=[PairOut.of(p) for p in view.pairs],
    )


# -- request bodies -----------------------------------------------------------------------

_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"


class AckIn(_In):
    """Acknowledge an incident, with an optional note."""

    note: str = Field(default="", max_length=4000)


class NoteIn(_In):
    """Annotate an incident."""

    text: str = Field(min_length=1, max_length=4000)


class MuteIn(_In):
    """Mute a target for maintenance until `until` (epoch seconds, in the future)."""

    until: float = Field(gt=0, lt=1e11, allow_inf_nan=False)
    note: str = Field(default="", max_length=1000)


class TokenIn(_In):
    """Create an admin token named `name`."""

    name: str = Field(min_length=1, max_length=64, pattern=_NAME)


class TokenOut(_Out):
    """An admin token as stored (never the token itself)."""

    name: str
    created: float
    last_used: float | None


class TokenCreated(_Out):
    """A new admin token: shown once, only its hash is kept."""

    name: str
    token: str


class AgentIn(_In):
    """Add a remote vantage allowed to ingest."""

    name: str = Field(min_length=1, max_length=64, pattern=_NAME)
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    in_country: bool = False


class AgentOut(_Out):
    """A remote vantage allowed to ingest; `configured` ones come from the config file."""

    name: str
    country: str | None
    in_country: bool
    configured: bool
    created: float | None


class AgentCreated(_Out):
    """A new agent token: shown once; `token_sha256` is what a config file would hold."""

    name: str
    token: str
    token_sha256: str

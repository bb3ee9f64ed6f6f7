"""Services, targets and the overview grid: how each looks now, from every vantage."""

from __future__ import annotations

from pydantic import Field

from netvigil.outcome import Outcome, Phase
from netvigil.probes import TargetSpec
from netvigil.web.api.models.common import ResponseModel
from netvigil.web.state import (
    Mute,
    PairState,
    ServiceStatus,
    TargetStatus,
    TargetView,
)

__all__ = [
    "MuteOut",
    "Overview",
    "OverviewRow",
    "PairOut",
    "ServiceDetail",
    "ServiceOut",
    "TargetOut",
    "target_out",
]


class PairOut(ResponseModel):
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
    failures: int = Field(description="Failed results in the path's confirmation window")
    cert_days_left: float | None = Field(
        default=None, description="Days left on the certificate (TLS targets)"
    )

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
            cert_days_left=None if p.cert_days_left is None else round(p.cert_days_left, 2),
        )


class MuteOut(ResponseModel):
    """A target muted for maintenance."""

    target: str
    until: float
    note: str
    created: float

    @classmethod
    def of(cls, m: Mute) -> MuteOut:
        return cls(target=m.target, until=m.until, note=m.note, created=m.created)


class TargetOut(ResponseModel):
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


class ServiceOut(ResponseModel):
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


class OverviewRow(ResponseModel):
    """One service in the overview grid: its status, and per vantage (in `vantages` order)."""

    service: str
    status: ServiceStatus
    since: float | None
    cells: list[ServiceStatus]


class Overview(ResponseModel):
    """The services x vantages grid."""

    generated_at: float
    vantages: list[str]
    counts: dict[str, int] = Field(description="How many services are in each status")
    services: list[OverviewRow]


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

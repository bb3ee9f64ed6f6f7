"""Raw measurements and per-minute rollups, and their pages."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from netvigil.model import Measurement
from netvigil.outcome import Outcome, Phase
from netvigil.store.base import Rollup
from netvigil.web.api.models.common import ResponseModel

__all__ = ["MeasurementOut", "MeasurementPage", "RollupOut", "RollupPage"]


class MeasurementOut(ResponseModel):
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


class MeasurementPage(ResponseModel):
    """A page of measurements, oldest first; pass `next_after` as `after` for the next."""

    items: list[MeasurementOut]
    next_after: str | None


class RollupOut(ResponseModel):
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


class RollupPage(ResponseModel):
    """A page of rollups, oldest first; pass `next_since` as `since` for the next."""

    items: list[RollupOut]
    next_since: int | None
    step: int = Field(description="Seconds each row sums: 60 for per-minute rows")

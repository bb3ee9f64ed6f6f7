"""Vantages: where each is, when it was last heard from, and its health."""

from __future__ import annotations

from pydantic import Field

from netvigil.web.api.models.common import ResponseModel
from netvigil.web.state import VantageHealth, VantageView

__all__ = ["VantageOut"]


class VantageOut(ResponseModel):
    """A vantage: where it is, when it was last heard from, and its health."""

    name: str
    local: bool = Field(description="Whether this is the server's own vantage")
    country: str | None
    in_country: bool
    last_seen: float | None
    targets: int = Field(description="Targets with a fresh result from this vantage")
    ok: int = Field(description="... of which answered")
    health: VantageHealth
    reason: str = Field(
        default="", description="Why the vantage is impaired or silent (empty when healthy)"
    )
    clock_offset_s: float | None = Field(
        default=None,
        description="How far the agent's clock is estimated to run behind the server's, "
        "in seconds (negative: ahead); from the freshest measurements it ships",
    )

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
            reason=v.reason,
            clock_offset_s=None if v.clock_offset_s is None else round(v.clock_offset_s, 3),
        )

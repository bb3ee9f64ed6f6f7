"""The probe seam: a target spec type and a Probe that measures it.

A new probe kind is one new module holding its `Spec` (a pydantic model with a
`kind` literal) and its Probe class, plus one line each in `netvigil.probes`.
"""

from __future__ import annotations

from typing import ClassVar, Protocol, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

from netvigil.model import Observation

__all__ = ["Probe", "TargetBase"]

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:/@?=&%+\-\[\]]*$"


class TargetBase(BaseModel):
    """Fields every target has, whatever its kind."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200, pattern=NAME_PATTERN)
    service: str | None = None
    control: bool = False
    """A control target: a known-good endpoint that lets a vantage judge its own health."""
    interval_s: float = Field(default=60.0, gt=0, le=86400)
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    retry_interval_s: float | None = Field(default=None, ge=0, le=86400)
    """Seconds from a failed probe to a quick re-probe, while the path is not yet confirmed
    down (see `netvigil.scheduler`); None: a third of `interval_s`, at least 1 s and at
    most `interval_s`. 0, or `interval_s` itself, turns quick re-probes off."""

    @model_validator(mode="after")
    def _retry_within_interval(self) -> Self:
        retry = self.retry_interval_s
        if retry is not None and retry > self.interval_s:
            raise ValueError(
                f"retry_interval_s ({retry:g}) must not exceed interval_s ({self.interval_s:g});"
                " 0 turns quick re-probes off"
            )
        return self

    @property
    def retry_s(self) -> float:
        """Seconds from a failed probe to its quick re-probe; 0.0 when they are off."""
        interval = self.interval_s
        retry = self.retry_interval_s
        if retry is None:
            retry = min(interval, max(1.0, interval / 3.0))
        return 0.0 if retry >= interval else retry

    @property
    def destination(self) -> str:
        """The host (name or address) the probe talks to; the rate guard keys on it."""
        raise NotImplementedError


SpecT_contra = TypeVar("SpecT_contra", bound=TargetBase, contravariant=True)


class Probe(Protocol[SpecT_contra]):
    """Measures one target once.

    `measure` must return within `spec.timeout_s` (the scheduler also enforces it) and
    must never raise for a network failure: it returns an Observation whose outcome
    names the failure and whose phase says where it happened.
    """

    kind: ClassVar[str]

    async def measure(self, spec: SpecT_contra) -> Observation: ...

    async def close(self) -> None: ...

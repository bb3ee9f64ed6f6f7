"""TCP connect probe: does the host accept a connection on this port, and how fast."""

from __future__ import annotations

import asyncio
from time import perf_counter
from typing import ClassVar, Literal

from pydantic import Field

from netvigil.model import Observation
from netvigil.outcome import Outcome, Phase
from netvigil.probes.base import TargetBase
from netvigil.probes.classify import failure
from netvigil.probes.connect import connect
from netvigil.probes.context import ProbeContext

__all__ = ["TCPProbe", "TCPSpec"]


class TCPSpec(TargetBase):
    """A host and port to open a TCP connection to (and close it at once)."""

    kind: Literal["tcp"] = "tcp"
    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)

    @property
    def destination(self) -> str:
        return self.host


class _Closer(asyncio.Protocol):
    """Accepts a connection and nothing else."""


class TCPProbe:
    """Opens a TCP connection and closes it at once; times resolve and connect."""

    kind: ClassVar[str] = "tcp"

    def __init__(self, context: ProbeContext | None = None) -> None:
        self._context = context or ProbeContext()

    async def close(self) -> None:
        """Release nothing: the probe keeps no connections."""

    async def measure(self, spec: TCPSpec) -> Observation:
        """One connect to `spec.host`:`spec.port`, within `spec.timeout_s`."""
        start = perf_counter()
        timings: dict[str, float] = {}
        phase = Phase.RESOLVE
        address: str | None = None
        deadline = asyncio.get_running_loop().time() + spec.timeout_s
        try:
            async with asyncio.timeout_at(deadline):
                address = await self._context.address_of(spec.host, timings, start)
                phase = Phase.CONNECT
                t0 = perf_counter()
                transport, _ = await connect(address, spec.port, _Closer, deadline=deadline)
                timings["connect"] = perf_counter() - t0
                transport.close()
        except Exception as exc:  # every failure becomes data
            timings["total"] = perf_counter() - start
            return failure(exc, phase, timings=timings, address=address)
        timings["total"] = perf_counter() - start
        return Observation(ok=True, outcome=Outcome.OK, timings=timings, address=address)

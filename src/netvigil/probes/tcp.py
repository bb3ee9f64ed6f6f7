"""TCP connect probe: does the host accept a connection on this port, and how fast."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from netvigil.probes.base import TargetBase

__all__ = ["TCPSpec"]


class TCPSpec(TargetBase):
    """A host and port to open a TCP connection to (and close it at once)."""

    kind: Literal["tcp"] = "tcp"
    host: str = Field(min_length=1)
    port: int = Field(ge=1, le=65535)

    @property
    def destination(self) -> str:
        return self.host

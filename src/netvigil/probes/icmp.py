"""ICMP echo probe: RTT and loss over a small burst, and the ICMP error when one comes back."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from netvigil.probes.base import TargetBase

__all__ = ["ICMPSpec"]


class ICMPSpec(TargetBase):
    """`count` echo requests to `host`, `packet_interval_s` apart.

    ok when at least one reply arrives; loss and RTTs are in detail.
    """

    kind: Literal["icmp"] = "icmp"
    host: str = Field(min_length=1)
    count: int = Field(default=3, ge=1, le=20)
    packet_interval_s: float = Field(default=0.2, ge=0.01, le=5)

    @property
    def destination(self) -> str:
        return self.host

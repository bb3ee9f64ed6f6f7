"""Probes: one module per kind, registered here by kind name."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from netvigil.probes.base import Probe, TargetBase
from netvigil.probes.dns import DNSSpec
from netvigil.probes.http import HTTPSpec
from netvigil.probes.icmp import ICMPSpec
from netvigil.probes.tcp import TCPSpec
from netvigil.probes.tls import TLSSpec

__all__ = [
    "DNSSpec",
    "HTTPSpec",
    "ICMPSpec",
    "Probe",
    "TCPSpec",
    "TLSSpec",
    "TargetBase",
    "TargetSpec",
]

TargetSpec = Annotated[
    HTTPSpec | TCPSpec | DNSSpec | ICMPSpec | TLSSpec, Field(discriminator="kind")
]
"""Any target, told apart by its `kind`."""

"""Probes: one module per kind, registered here by kind name."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from netvigil.probes.base import Probe, TargetBase
from netvigil.probes.block import BlockProbe, BlockSpec
from netvigil.probes.dns import DNSProbe, DNSSpec
from netvigil.probes.http import HTTPProbe, HTTPSpec
from netvigil.probes.icmp import ICMPProbe, ICMPSpec
from netvigil.probes.registry import PROBES, ProbeSet
from netvigil.probes.tcp import TCPProbe, TCPSpec
from netvigil.probes.tls import TLSProbe, TLSSpec

__all__ = [
    "PROBES",
    "BlockProbe",
    "BlockSpec",
    "DNSProbe",
    "DNSSpec",
    "HTTPProbe",
    "HTTPSpec",
    "ICMPProbe",
    "ICMPSpec",
    "Probe",
    "ProbeSet",
    "TCPProbe",
    "TCPSpec",
    "TLSProbe",
    "TLSSpec",
    "TargetBase",
    "TargetSpec",
]

TargetSpec = Annotated[
    HTTPSpec | TCPSpec | DNSSpec | ICMPSpec | TLSSpec | BlockSpec, Field(discriminator="kind")
]
"""Any target, told apart by its `kind`."""

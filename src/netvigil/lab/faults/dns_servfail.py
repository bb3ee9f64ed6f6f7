"""`dns_servfail`: the zone's authoritative DNS server answers, but every answer is SERVFAIL
(a broken zone or a failing back end: the server is up, the names do not resolve)."""

from __future__ import annotations

import signal
from dataclasses import dataclass

from netvigil.cause import Cause
from netvigil.errors import LabError
from netvigil.lab.faults.base import Fault, LabHost, UndoRecord, register

__all__ = ["DNSServfail", "ServfailSwitch"]


@dataclass(frozen=True, slots=True)
class ServfailSwitch(UndoRecord):
    """A lab DNS server switched to SERVFAIL (SIGUSR1; SIGUSR2 switches it back)."""

    key: str


@register
class DNSServfail(Fault[ServfailSwitch]):
    kind = "dns_servfail"
    target = "dns"
    cause = Cause.DNS_FAILURE
    record_type = ServfailSwitch

    def apply(self, host: LabHost) -> ServfailSwitch:
        server = host.topology.zone_server(self.spec.target)
        if server is None:
            raise LabError(f"dns_servfail: no DNS server host or zone named {self.spec.target!r}")
        key = f"dns:{server}"
        host.signal(key, signal.SIGUSR1)
        return ServfailSwitch(key)

    def undo(self, host: LabHost, record: ServfailSwitch) -> None:
        if host.has_process(record.key):
            host.signal(record.key, signal.SIGUSR2)

"""`dns_outage`: the zone's authoritative DNS server stops answering (SIGSTOP)."""

from __future__ import annotations

import signal
from dataclasses import dataclass

from netvigil.cause import Cause
from netvigil.errors import LabError
from netvigil.lab.faults.base import Fault, LabHost, UndoRecord, register

__all__ = ["DNSOutage", "StoppedProcess"]


@dataclass(frozen=True, slots=True)
class StoppedProcess(UndoRecord):
    """A lab process paused with SIGSTOP (continued on undo)."""

    key: str


@register
class DNSOutage(Fault[StoppedProcess]):
    kind = "dns_outage"
    target = "dns"
    cause = Cause.DNS_FAILURE
    record_type = StoppedProcess

    def apply(self, host: LabHost) -> StoppedProcess:
        server = host.topology.zone_server(self.spec.target)
        if server is None:
            raise LabError(f"dns_outage: no DNS server host or zone named {self.spec.target!r}")
        key = f"dns:{server}"
        host.signal(key, signal.SIGSTOP)
        return StoppedProcess(key)

    def undo(self, host: LabHost, record: StoppedProcess) -> None:
        if host.has_process(record.key):
            host.signal(record.key, signal.SIGCONT)

"""`dns_outage`: the zone's authoritative DNS server stops answering (SIGSTOP)."""

from __future__ import annotations

import signal
from dataclasses import dataclass
from typing import ClassVar

from netvigil.cause import Cause
from netvigil.errors import LabError
from netvigil.lab.faults.base import Fault, LabHost, UndoRecord, register

__all__ = ["DNSOutage", "SignalledDNSServer", "StoppedProcess"]


@dataclass(frozen=True, slots=True)
class StoppedProcess(UndoRecord):
    """A lab DNS server sent `apply_signal` (sent `undo_signal` on undo), by its key."""

    key: str


class SignalledDNSServer(Fault[StoppedProcess]):
    """A fault on a zone's DNS server made by a signal, undone by another."""

    target = "dns"
    cause = Cause.DNS_FAILURE
    record_type = StoppedProcess
    apply_signal: ClassVar[signal.Signals]
    undo_signal: ClassVar[signal.Signals]

    def apply(self, host: LabHost) -> StoppedProcess:
        server = host.topology.zone_server(self.spec.target)
        if server is None:
            raise LabError(f"{self.kind}: no DNS server host or zone named {self.spec.target!r}")
        key = f"dns:{server}"
        host.signal(key, self.apply_signal)
        return StoppedProcess(key)

    def undo(self, host: LabHost, record: StoppedProcess) -> None:
        if host.has_process(record.key):
            host.signal(record.key, self.undo_signal)


@register
class DNSOutage(SignalledDNSServer):
    kind = "dns_outage"
    apply_signal = signal.SIGSTOP
    undo_signal = signal.SIGCONT

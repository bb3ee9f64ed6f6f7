"""`tls_expired`: the service presents an expired certificate to new connections."""

from __future__ import annotations

import signal
from dataclasses import dataclass

from netvigil.cause import Cause
from netvigil.errors import LabError
from netvigil.lab.faults.base import Fault, LabHost, UndoRecord, register

__all__ = ["ExpiredCertificate", "TLSExpired"]


@dataclass(frozen=True, slots=True)
class ExpiredCertificate(UndoRecord):
    """The service switched to its expired certificate (SIGUSR1; SIGUSR2 switches back)."""

    service: str


@register
class TLSExpired(Fault[ExpiredCertificate]):
    kind = "tls_expired"
    target = "service"
    cause = Cause.TLS_FAILURE
    record_type = ExpiredCertificate

    def apply(self, host: LabHost) -> ExpiredCertificate:
        svc = host.topology.service(self.spec.target)
        if svc.scheme != "https":
            raise LabError(f"tls_expired: service {svc.name!r} does not use TLS")
        host.signal(f"service:{svc.name}", signal.SIGUSR1)
        return ExpiredCertificate(svc.name)

    def undo(self, host: LabHost, record: ExpiredCertificate) -> None:
        key = f"service:{record.service}"
        if host.has_process(key):
            host.signal(key, signal.SIGUSR2)

"""`service_crash`: the service's server process is killed (connection refused)."""

from __future__ import annotations

import signal
from dataclasses import dataclass

from netvigil.cause import Cause
from netvigil.lab.faults.base import Fault, LabHost, UndoRecord, register

__all__ = ["CrashedService", "ServiceCrash"]


@dataclass(frozen=True, slots=True)
class CrashedService(UndoRecord):
    """The service whose process was killed (restarted on undo)."""

    service: str


@register
class ServiceCrash(Fault[CrashedService]):
    kind = "service_crash"
    target = "service"
    cause = Cause.SERVICE_FAILURE
    record_type = CrashedService

    def apply(self, host: LabHost) -> CrashedService:
        host.stop(f"service:{self.spec.target}", sig=signal.SIGKILL)
        return CrashedService(self.spec.target)

    def undo(self, host: LabHost, record: CrashedService) -> None:
        host.start_service(record.service)

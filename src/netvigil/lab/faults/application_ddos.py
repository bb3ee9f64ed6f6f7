"""`application_ddos`: the attacker keeps the service's workers busy with requests."""

from __future__ import annotations

from netvigil.cause import Cause
from netvigil.lab.faults.base import Fault, LabHost, register
from netvigil.lab.faults.processes import ProcessStarted, start_flood

__all__ = ["ApplicationDDoS"]


@register
class ApplicationDDoS(Fault[ProcessStarted]):
    kind = "application_ddos"
    target = "service"
    cause = Cause.APPLICATION_DDOS
    record_type = ProcessStarted

    def apply(self, host: LabHost) -> ProcessStarted:
        spec = self.spec
        url = host.topology.service_url(spec.target)
        argv = ["http", "--url", url, "--concurrency", str(spec.concurrency),
                "--duration", f"{spec.duration_s:g}", "--ca-file", str(host.ca_file)]  # fmt: skip
        return start_flood(host, spec, argv)

    def undo(self, host: LabHost, record: ProcessStarted) -> None:
        host.stop(record.key)

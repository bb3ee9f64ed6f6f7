"""`volumetric_ddos`: the attacker floods the network's shaped uplink with UDP."""

from __future__ import annotations

from netvigil.cause import Cause
from netvigil.lab.faults.base import Fault, LabHost, register
from netvigil.lab.faults.processes import ProcessStarted, start_flood

__all__ = ["VolumetricDDoS"]


@register
class VolumetricDDoS(Fault[ProcessStarted]):
    kind = "volumetric_ddos"
    target = "network"
    cause = Cause.VOLUMETRIC_DDOS
    record_type = ProcessStarted
    needs_uplink = True
    floods_uplink = True

    def apply(self, host: LabHost) -> ProcessStarted:
        spec, topo = self.spec, host.topology
        argv = ["udp", "--pps", str(spec.rate_pps), "--size", str(spec.packet_size),
                "--duration", f"{spec.duration_s:g}", "--pulse-on", f"{spec.pulse_on_s:g}",
                "--pulse-off", f"{spec.pulse_off_s:g}"]  # fmt: skip
        for h in topo.hosts_in(spec.target):
            argv += ["--target", str(topo.host4(h.name))]
        return start_flood(host, spec, argv)

    def undo(self, host: LabHost, record: ProcessStarted) -> None:
        host.stop(record.key)

"""`defensive_withdrawal`: a volumetric flood, then the victim withdraws its prefix.

The attacker floods the network's shaped uplink (as `volumetric_ddos`, `rate_pps`,
`packet_size`); `withdraw_after_s` seconds later the network's router turns its origin
protocols off, withdrawing its prefixes everywhere (as `bgp_withdrawal`): the flood
stops arriving, and so does everything else (Albania, July 2022, where the operator
took the services off the internet). Undo stops the flood and announces the prefixes
again.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from netvigil.cause import Cause
from netvigil.lab.faults.base import Fault, FaultSpec, LabHost, UndoRecord, register
from netvigil.lab.faults.bgp import ProtocolsToggled, undo_toggle
from netvigil.lab.faults.processes import start_flood
from netvigil.lab.topology import Topology

__all__ = ["DefensiveWithdrawal", "FloodThenWithdrawal"]

ORIGINS = '"origin?"'


@dataclass(frozen=True, slots=True)
class FloodThenWithdrawal(UndoRecord):
    """The flood's process key, the timer's process key and the origins it turns off."""

    flood: str
    timer: str
    withdrawn: ProtocolsToggled


@register
class DefensiveWithdrawal(Fault[FloodThenWithdrawal]):
    kind = "defensive_withdrawal"
    target = "network"
    cause = Cause.VOLUMETRIC_DDOS
    """What starts it; the withdrawal that follows is the operator's answer to it, a
    mitigation (`ddos_mitigation`: its own phase, see `phases`)."""
    record_type = FloodThenWithdrawal
    needs_uplink = True
    floods_uplink = True

    @classmethod
    def phases(cls, spec: FaultSpec) -> list[tuple[Cause | None, float, float]]:
        withdrawn = spec.at + spec.withdraw_after_s
        if withdrawn >= spec.until:
            return [(cls.cause, spec.at, spec.until)]
        return [(cls.cause, spec.at, withdrawn), (Cause.DDOS_MITIGATION, withdrawn, spec.until)]

    @classmethod
    def fits(cls, topology: Topology, target: str) -> bool:
        # the flood must be able to congest something first: a shaped uplink
        return topology.network(target).uplink is not None

    def apply(self, host: LabHost) -> FloodThenWithdrawal:
        spec, topo = self.spec, host.topology
        argv = ["udp", "--pps", str(spec.rate_pps), "--size", str(spec.packet_size),
                "--duration", f"{spec.duration_s:g}"]  # fmt: skip
        for h in topo.hosts_in(spec.target):
            argv += ["--target", str(topo.host4(h.name))]
        flood = start_flood(host, spec, argv)
        timer = f"withdraw:{spec.fault_id}"
        socket = shlex.quote(host.bird_socket(spec.target))
        script = (
            f"sleep {spec.withdraw_after_s:g} && "
            f"exec birdc -s {socket} disable {shlex.quote(ORIGINS)}"
        )
        try:
            host.spawn(spec.target, timer, ["sh", "-c", script])
        except BaseException:
            host.stop(flood.key)
            raise
        withdrawn = ProtocolsToggled(spec.target, (ORIGINS,), enabled=False)
        return FloodThenWithdrawal(flood.key, timer, withdrawn)

    def undo(self, host: LabHost, record: FloodThenWithdrawal) -> None:
        host.stop(record.timer)
        host.stop(record.flood)
        undo_toggle(host, record.withdrawn)

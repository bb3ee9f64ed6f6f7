"""`scrubbing_diversion`: the network's traffic is diverted through a scrubbing service.

The scrubbing network linked to the target (`also_upstream`, `scrubbing = true`)
re-originates the target's prefix as its two more-specific halves, routed over its
link to the target; everyone prefers the more-specifics, so traffic into the network
takes the detour through the scrubbing AS (which the route collector sees as a new
origin), and the detour adds `delay_ms` (netem on the scrubber's link into the network,
when the kernel has netem). Replies go back the usual way. Services stay up: benign,
no incident expected, only latency.
"""

from __future__ import annotations

from dataclasses import dataclass

from netvigil.errors import LabError
from netvigil.lab import netns
from netvigil.lab.bird import proto_name
from netvigil.lab.faults.base import Fault, LabHost, UndoRecord, register
from netvigil.lab.faults.bgp import ProtocolsToggled, enable, undo_toggle
from netvigil.lab.topology import Topology
from netvigil.lab.wiring import downlink_of

__all__ = ["Diverted", "ScrubbingDiversion", "scrubber_of"]


def scrubber_of(topology: Topology, network: str) -> str | None:
    """The scrubbing network linked to `network`, if any."""
    return next(
        (u for u in topology.network(network).also_upstream if topology.network(u).scrubbing),
        None,
    )


@dataclass(frozen=True, slots=True)
class Diverted(UndoRecord):
    """The scrubber's protocols turned on, and the device netem was put on (if any)."""

    protocols: ProtocolsToggled
    device: str | None = None


@register
class ScrubbingDiversion(Fault[Diverted]):
    kind = "scrubbing_diversion"
    target = "network"
    cause = None
    record_type = Diverted
    needs_uplink = True

    @classmethod
    def fits(cls, topology: Topology, target: str) -> bool:
        return scrubber_of(topology, target) is not None

    def check(self, host: LabHost) -> None:
        super().check(host)
        if scrubber_of(host.topology, self.spec.target) is None:
            raise LabError(
                f"scrubbing_diversion: {self.spec.target!r} is linked to no scrubbing network"
                " (add one with `scrubbing = true` to its `also_upstream`)"
            )

    def apply(self, host: LabHost) -> Diverted:
        topo, net = host.topology, self.spec.target
        scrubber = scrubber_of(topo, net)
        assert scrubber is not None
        protocols = [proto_name("scrub4", net)]
        if topo.network(net).prefix6 is not None:
            protocols.append(proto_name("scrub6", net))
        toggled = enable(host, scrubber, protocols)
        if not netns.has_netem() or self.spec.delay_ms == 0:
            return Diverted(toggled)
        device = downlink_of(topo, net, scrubber)
        try:
            host.command(scrubber, ["tc", "qdisc", "replace", "dev", device, "root", "netem",
                                    "delay", f"{self.spec.delay_ms}ms"])  # fmt: skip
        except BaseException:
            undo_toggle(host, toggled)
            raise
        return Diverted(toggled, device)

    def undo(self, host: LabHost, record: Diverted) -> None:
        undo_toggle(host, record.protocols)
        if record.device is not None:
            tc = ["tc", "qdisc", "del", "dev", record.device, "root"]
            host.command(record.protocols.network, tc, check=False)

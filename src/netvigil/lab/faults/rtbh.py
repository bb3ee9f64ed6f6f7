"""`rtbh`: remotely triggered black hole of one service's address.

The service's network announces the host's /32 (and /128) tagged with the BLACKHOLE
community (65535, 666); its upstream's import filter turns such a route into a
blackhole, so traffic to that one address is dropped at the upstream, silently, while
the rest of the network stays reachable. The route collector sees the announcement
with the community (the upstream passes blackholes on to it, not to its customers).
"""

from __future__ import annotations

from netvigil.cause import Cause
from netvigil.lab.bird import proto_name
from netvigil.lab.faults.base import Fault, LabHost, register
from netvigil.lab.faults.bgp import ProtocolsToggled, enable, undo_toggle

__all__ = ["Rtbh"]


@register
class Rtbh(Fault[ProtocolsToggled]):
    kind = "rtbh"
    target = "service"
    cause = Cause.DDOS_MITIGATION
    """Traffic to the address dropped upstream on its operator's request: what RTBH is
    for (the probes alone see a silent drop; the community on the feed names it)."""
    record_type = ProtocolsToggled

    def apply(self, host: LabHost) -> ProtocolsToggled:
        topo = host.topology
        server = topo.host(topo.service(self.spec.target).host)
        protocols = [proto_name("rtbh4", server.name)]
        if topo.host6(server.name) is not None:
            protocols.append(proto_name("rtbh6", server.name))
        return enable(host, server.network, protocols)

    def undo(self, host: LabHost, record: ProtocolsToggled) -> None:
        undo_toggle(host, record)

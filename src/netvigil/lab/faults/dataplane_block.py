"""`dataplane_block`: the upstreams drop all traffic into the network; BGP stays up.

Every upstream router of the network (primary, further and scrubbing ones) drops what
it would forward over its link into the network (iptables DROP on FORWARD), while its
BGP sessions, which are the routers' own traffic, carry on: the routes stay announced
and the collector sees nothing, but nothing gets through (Libya, March 2011).
"""

from __future__ import annotations

from typing import Literal

from netvigil.cause import Cause
from netvigil.lab.faults.base import Fault, LabHost, register
from netvigil.lab.faults.rules import IptablesRule, RulesAdded, delete_rules, insert_rules
from netvigil.lab.wiring import downlink_of

__all__ = ["DataplaneBlock"]

_FAMILIES: tuple[Literal[4, 6], ...] = (4, 6)


@register
class DataplaneBlock(Fault[RulesAdded]):
    kind = "dataplane_block"
    target = "network"
    cause = Cause.SHUTDOWN
    record_type = RulesAdded
    needs_uplink = True

    def apply(self, host: LabHost) -> RulesAdded:
        topo, net = host.topology, self.spec.target
        rules = [
            IptablesRule(up, family, ("FORWARD", "-o", downlink_of(topo, net, up), "-j", "DROP"))
            for up in topo.upstreams_of(net)
            for family in _FAMILIES
        ]
        return insert_rules(host, rules)

    def undo(self, host: LabHost, record: RulesAdded) -> None:
        delete_rules(host, record.rules)

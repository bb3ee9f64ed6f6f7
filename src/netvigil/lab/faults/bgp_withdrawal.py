"""`bgp_withdrawal`: the network stops announcing its prefixes (a real BGP withdrawal).

Its router's BIRD turns its origin protocols off, so it withdraws the prefixes from
every upstream, which withdraw them from everyone else: the route collector sees the
withdrawals, every router forgets the routes (net unreachable). With `upstream`, only
the session to that upstream goes down: the prefixes are withdrawn there and stay
announced to the other upstreams, so a multi-homed network stays reachable (a path
change, no outage).
"""

from __future__ import annotations

from netvigil.cause import Cause
from netvigil.errors import LabError
from netvigil.lab.bird import proto_name
from netvigil.lab.faults.base import Fault, FaultSpec, LabHost, register
from netvigil.lab.faults.bgp import ProtocolsToggled, disable, undo_toggle
from netvigil.lab.topology import Topology

__all__ = ["BgpWithdrawal", "bgp_upstreams"]


def bgp_upstreams(topology: Topology, network: str) -> list[str]:
    """The upstreams `network` holds BGP sessions with (scrubbing services excluded)."""
    return [u for u in topology.upstreams_of(network) if not topology.network(u).scrubbing]


@register
class BgpWithdrawal(Fault[ProtocolsToggled]):
    kind = "bgp_withdrawal"
    target = "network"
    cause = Cause.ROUTE_WITHDRAWAL
    record_type = ProtocolsToggled
    needs_uplink = True

    @classmethod
    def cause_of(cls, spec: FaultSpec) -> Cause | None:
        # Withdrawn from one upstream only, the network stays reachable through the
        # others (check() makes sure there are others): a path change, no incident.
        return None if spec.upstream is not None else cls.cause

    def check(self, host: LabHost) -> None:
        super().check(host)
        up, target = self.spec.upstream, self.spec.target
        if up is None:
            return
        ups = bgp_upstreams(host.topology, target)
        if up not in ups:
            raise LabError(f"bgp_withdrawal: {up!r} is not an upstream of {target!r} ({ups})")
        if len(ups) < 2:
            raise LabError(f"bgp_withdrawal: {target!r} has one upstream; leave `upstream` out")

    def apply(self, host: LabHost) -> ProtocolsToggled:
        if self.spec.upstream is None:
            return disable(host, self.spec.target, ['"origin?"'])
        pattern = f'"up?_{proto_name(self.spec.upstream)}"'
        return disable(host, self.spec.target, [pattern])

    def undo(self, host: LabHost, record: ProtocolsToggled) -> None:
        undo_toggle(host, record)

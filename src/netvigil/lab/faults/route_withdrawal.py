"""`route_withdrawal`: the upstream router forgets the routes to the network."""

from __future__ import annotations

from dataclasses import dataclass

from netvigil.cause import Cause
from netvigil.lab.faults.base import Fault, LabHost, UndoRecord, register

__all__ = ["RouteWithdrawal", "RoutesWithdrawn"]


@dataclass(frozen=True, slots=True)
class RoutesWithdrawn(UndoRecord):
    """The network whose routes were withdrawn (announced again on undo)."""

    network: str


@register
class RouteWithdrawal(Fault[RoutesWithdrawn]):
    kind = "route_withdrawal"
    target = "network"
    cause = Cause.ROUTE_WITHDRAWAL
    record_type = RoutesWithdrawn
    needs_uplink = True

    def apply(self, host: LabHost) -> RoutesWithdrawn:
        host.withdraw_routes(self.spec.target)
        return RoutesWithdrawn(self.spec.target)

    def undo(self, host: LabHost, record: RoutesWithdrawn) -> None:
        host.add_routes(record.network)

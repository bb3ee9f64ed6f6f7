"""`shutdown`: the network's border router drops everything inbound, silently."""

from __future__ import annotations

from typing import Literal

from netvigil.cause import Cause
from netvigil.lab.faults.base import Fault, LabHost, register
from netvigil.lab.faults.rules import IptablesRule, RulesAdded, delete_rules, insert_rules

__all__ = ["Shutdown", "border_rules"]


def border_rules(network: str, action: list[str], action6: list[str]) -> list[IptablesRule]:
    """Rules applying `action` (IPv4) and `action6` (IPv6) to all that enters over the uplink."""
    by_family: tuple[tuple[Literal[4, 6], list[str]], ...] = ((4, action), (6, action6))
    return [
        IptablesRule(network, family, (chain, "-i", "nv-up", *act))
        for family, act in by_family
        for chain in ("FORWARD", "INPUT")
    ]


@register
class Shutdown(Fault[RulesAdded]):
    kind = "shutdown"
    target = "network"
    cause = Cause.SHUTDOWN
    record_type = RulesAdded
    needs_uplink = True

    def apply(self, host: LabHost) -> RulesAdded:
        drop = ["-j", "DROP"]
        return insert_rules(host, border_rules(self.spec.target, drop, drop))

    def undo(self, host: LabHost, record: RulesAdded) -> None:
        delete_rules(host, record.rules)

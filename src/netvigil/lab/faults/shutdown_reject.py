"""`shutdown_reject`: the network's border router answers ICMP administratively prohibited."""

from __future__ import annotations

from netvigil.cause import Cause
from netvigil.lab.faults.base import Fault, LabHost, register
from netvigil.lab.faults.rules import RulesAdded, delete_rules, insert_rules
from netvigil.lab.faults.shutdown import border_rules

__all__ = ["ShutdownReject"]


@register
class ShutdownReject(Fault[RulesAdded]):
    kind = "shutdown_reject"
    target = "network"
    cause = Cause.SHUTDOWN
    record_type = RulesAdded
    needs_uplink = True

    def apply(self, host: LabHost) -> RulesAdded:
        reject4 = ["-j", "REJECT", "--reject-with", "icmp-admin-prohibited"]
        reject6 = ["-j", "REJECT", "--reject-with", "icmp6-adm-prohibited"]
        return insert_rules(host, border_rules(self.spec.target, reject4, reject6))

    def undo(self, host: LabHost, record: RulesAdded) -> None:
        delete_rules(host, record.rules)

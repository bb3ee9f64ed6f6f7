"""`in_country_filter`: the in-country ISPs drop (or reset) traffic to the network."""

from __future__ import annotations

from typing import Literal

from netvigil.cause import Cause
from netvigil.errors import LabError
from netvigil.lab.faults.base import Fault, LabHost, register
from netvigil.lab.faults.rules import IptablesRule, RulesAdded, delete_rules, insert_rules

__all__ = ["InCountryFilter"]


@register
class InCountryFilter(Fault[RulesAdded]):
    kind = "in_country_filter"
    target = "network"
    cause = Cause.IN_COUNTRY_FILTERING
    record_type = RulesAdded
    needs_uplink = True

    def apply(self, host: LabHost) -> RulesAdded:
        topo, target = host.topology, self.spec.target
        country = topo.network(target).country
        isps = sorted(
            {h.network for h in topo.hosts_with("vantage") if topo.country_of(h) == country}
            - {target}
        )
        if country is None or not isps:
            raise LabError(f"in_country_filter: no network holds a vantage in {target!r}'s country")
        prefixes = host.routed_prefixes(target)
        return insert_rules(host, [r for isp in isps for r in self._rules(isp, prefixes)])

    def _rules(self, isp: str, prefixes: list[str]) -> list[IptablesRule]:
        rules: list[IptablesRule] = []
        for prefix in prefixes:
            family: Literal[4, 6] = 6 if ":" in prefix else 4
            match = ("FORWARD", "-i", "nv-br", "-d", prefix)
            if self.spec.mode == "reset":
                unreach = "icmp-port-unreachable" if family == 4 else "icmp6-port-unreachable"
                rules.append(
                    IptablesRule(isp, family, (*match, "-j", "REJECT", "--reject-with", unreach))
                )
                rules.append(
                    IptablesRule(
                        isp, family, (*match, "-p", "tcp", "-j", "REJECT", "--reject-with",
                                      "tcp-reset")
                    )
                )  # fmt: skip
            else:
                rules.append(IptablesRule(isp, family, (*match, "-j", "DROP")))
        return rules

    def undo(self, host: LabHost, record: RulesAdded) -> None:
        delete_rules(host, record.rules)

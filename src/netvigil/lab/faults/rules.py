"""iptables rules that faults insert into the lab's namespaces, and take out again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from netvigil.lab.faults.base import LabHost, UndoRecord

__all__ = ["IptablesRule", "RulesAdded", "delete_rules", "insert_rules"]


@dataclass(frozen=True, slots=True)
class IptablesRule:
    """One rule (chain first, as for `iptables -A`) in the namespace of host or network `name`."""

    name: str
    family: Literal[4, 6]
    rule: tuple[str, ...]

    @property
    def tool(self) -> str:
        return "iptables" if self.family == 4 else "ip6tables"


@dataclass(frozen=True, slots=True)
class RulesAdded(UndoRecord):
    """The rules a fault inserted."""

    rules: tuple[IptablesRule, ...]


def insert_rules(host: LabHost, rules: Sequence[IptablesRule]) -> RulesAdded:
    """Insert each rule at the head of its chain. On a failure the ones inserted go again."""
    done: list[IptablesRule] = []
    try:
        for r in rules:
            chain, *rest = r.rule
            host.command(r.name, [r.tool, "-w", "-I", chain, "1", *rest])
            done.append(r)
    except BaseException:
        delete_rules(host, done)
        raise
    return RulesAdded(tuple(done))


def delete_rules(host: LabHost, rules: Sequence[IptablesRule]) -> None:
    """Delete these rules (those already gone are skipped)."""
    for r in rules:
        host.command(r.name, [r.tool, "-w", "-D", *r.rule], check=False)

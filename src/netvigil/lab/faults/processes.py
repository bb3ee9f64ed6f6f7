"""Processes that faults start in the lab (floods from the attacker host), and stop again."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from netvigil.errors import LabError
from netvigil.lab.faults.base import FaultSpec, LabHost, UndoRecord
from netvigil.lab.topology import Topology

__all__ = ["ProcessStarted", "attacker_of", "start_flood"]


@dataclass(frozen=True, slots=True)
class ProcessStarted(UndoRecord):
    """A lab process a fault started, by its key (stopped on undo)."""

    key: str


def attacker_of(topology: Topology) -> str:
    """The host floods come from. Raises LabError when the topology has none."""
    attackers = topology.hosts_with("attacker")
    if not attackers:
        raise LabError("this topology has no host with role = 'attacker' to flood from")
    return attackers[0].name


def start_flood(host: LabHost, spec: FaultSpec, argv: Sequence[str]) -> ProcessStarted:
    """Start `python -m netvigil.lab.flood ARGV` on the attacker host for this fault."""
    key = f"flood:{spec.fault_id}"
    attacker = attacker_of(host.topology)
    host.spawn(attacker, key, host.python("netvigil.lab.flood", *argv))
    return ProcessStarted(key)

"""`vantage_down`: the vantage loses its uplink (its link on the router goes down)."""

from __future__ import annotations

from dataclasses import dataclass

from netvigil.cause import Cause
from netvigil.lab.faults.base import Fault, LabHost, UndoRecord, register

__all__ = ["LinkDown", "VantageDown"]


@dataclass(frozen=True, slots=True)
class LinkDown(UndoRecord):
    """A router interface set down (set up again on undo)."""

    network: str
    port: str


@register
class VantageDown(Fault[LinkDown]):
    kind = "vantage_down"
    target = "vantage"
    cause = Cause.VANTAGE_PROBLEM
    record_type = LinkDown

    def apply(self, host: LabHost) -> LinkDown:
        vantage = host.topology.host(self.spec.target)
        port = host.port_of(vantage.name)
        host.command(vantage.network, ["ip", "link", "set", port, "down"])
        return LinkDown(vantage.network, port)

    def undo(self, host: LabHost, record: LinkDown) -> None:
        host.command(record.network, ["ip", "link", "set", record.port, "up"], check=False)

"""What the BGP fault kinds share: steering a router's BIRD protocols on and off."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from netvigil.lab.faults.base import LabHost, UndoRecord

__all__ = ["ProtocolsToggled", "disable", "enable", "undo_toggle"]


@dataclass(frozen=True, slots=True)
class ProtocolsToggled(UndoRecord):
    """BIRD protocols (names or `"patterns"`) of network `network`'s router a fault turned
    on (`enabled`) or off; undo turns them back."""

    network: str
    protocols: tuple[str, ...]
    enabled: bool


def _toggle(host: LabHost, network: str, protocols: Sequence[str], on: bool) -> None:
    for proto in protocols:
        host.birdc(network, "enable" if on else "disable", proto)


def disable(host: LabHost, network: str, protocols: Sequence[str]) -> ProtocolsToggled:
    """Turn these protocols off (announcements they carry are withdrawn)."""
    _toggle(host, network, protocols, False)
    return ProtocolsToggled(network, tuple(protocols), enabled=False)


def enable(host: LabHost, network: str, protocols: Sequence[str]) -> ProtocolsToggled:
    """Turn these protocols on; on a failure the ones turned on go off again."""
    try:
        _toggle(host, network, protocols, True)
    except BaseException:
        _toggle(host, network, protocols, False)
        raise
    return ProtocolsToggled(network, tuple(protocols), enabled=True)


def undo_toggle(host: LabHost, record: ProtocolsToggled) -> None:
    """Turn the protocols of `record` back the way they were."""
    _toggle(host, record.network, record.protocols, not record.enabled)

"""What is seen of a watched network and of each of its prefixes at one time: the answer
of `PrefixVisibility.visibility` (`netvigil.bgp.visibility`), as the API shows it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["NetworkVisibility", "PrefixView"]


@dataclass(frozen=True, slots=True)
class PrefixView:
    """One prefix as the peers see it: how many route it, from which origins, by which path."""

    prefix: str
    peers: int
    origins: dict[int, int]
    path: tuple[int, ...]
    blackholed: int

    def to_json(self) -> dict[str, Any]:
        return {
            "prefix": self.prefix,
            "peers": self.peers,
            "origins": {f"AS{asn}": n for asn, n in self.origins.items()},
            "path": list(self.path),
            "blackholed": self.blackholed,
        }


@dataclass(frozen=True, slots=True)
class NetworkVisibility:
    """A network's visibility at `t`: `value` in [0, 1] (None: nothing known yet),
    peers routing any of its prefixes, peers carrying any of its prefixes' address
    families, and each prefix's view."""

    network: str
    t: float
    value: float | None
    peers_seeing: int
    peers_total: int
    prefixes: tuple[PrefixView, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "network": self.network,
            "t": self.t,
            "value": self.value,
            "peers_seeing": self.peers_seeing,
            "peers_total": self.peers_total,
            "prefixes": [p.to_json() for p in self.prefixes],
        }

"""What every BGP source yields: one route change seen by one collector peer.

RIS Live messages and MRT records (update files and RIB dumps alike) become the same
`BgpElement`, so visibility and events are computed the same way whatever the source.
A collector's word on one of its peer sessions (RIS Live `RIS_PEER_STATE`) is a
`PeerState`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "BLACKHOLE_COMMUNITY",
    "BgpElement",
    "BgpItem",
    "ElementKind",
    "PeerKey",
    "PeerState",
]

ElementKind = Literal["announce", "withdraw"]

BLACKHOLE_COMMUNITY = "65535:666"
"""The well-known BLACKHOLE community (RFC 7999): the origin asks for its traffic to be dropped."""

PeerKey = tuple[str, str]
"""A collector peer session: (collector, peer IP). One router may peer with several collectors."""


@dataclass(frozen=True, slots=True)
class BgpElement:
    """One prefix announced or withdrawn by one collector peer at one time.

    `time` is epoch seconds (the BGP message's, not the time it was read). `collector` is
    the route collector ("rrc00", "route-views.jinx", or the file's name for MRT without
    one). `as_path` lists the AS numbers in order, an AS_SET flattened in place;
    `origin_asns` are the possible origins (more than one when the path ends in an AS_SET).
    `communities` are "a:b" strings (large communities "a:b:c"). A withdrawal has an
    empty path, origins and communities.
    """

    time: float
    kind: ElementKind
    collector: str
    peer_ip: str
    peer_asn: int
    prefix: str
    as_path: tuple[int, ...] = ()
    origin_asns: tuple[int, ...] = ()
    communities: tuple[str, ...] = ()

    @property
    def peer(self) -> PeerKey:
        """The collector peer session this element came from."""
        return (self.collector, self.peer_ip)


@dataclass(frozen=True, slots=True)
class PeerState:
    """A collector's word on one peer session: `connected` (up) or `down` (its routes gone)."""

    time: float
    collector: str
    peer_ip: str
    peer_asn: int
    state: str

    @property
    def peer(self) -> PeerKey:
        """The collector peer session this state is about."""
        return (self.collector, self.peer_ip)

    @property
    def is_up(self) -> bool:
        """Whether the session is up (RIS Live says "connected"; anything else is down)."""
        return self.state == "connected"


BgpItem = BgpElement | PeerState
"""What a BGP source hands on: route changes and peer session states, in arrival order."""

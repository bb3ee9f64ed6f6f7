"""Network-level signals: what a network looks like from the control and the data plane.

Service probes say whether one service answers. Signals say whether a whole network is
still there: how many route collector peers see its prefixes (`bgp_visibility`), how many
of its /24 blocks still answer pings (`blocks_up`), and any other per-network series an
observatory publishes (IODA's `active_probing`, `bgp`, `telescope`, ...). Every source
yields `SignalSample`s; the signal detector reads them, whatever made them.

`SignalEvent`s are the discrete control-plane facts beside the series (a prefix
withdrawn, a new origin, a blackhole community) that attribution quotes as evidence.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = [
    "SIGNAL_KINDS",
    "SignalEvent",
    "SignalEventKind",
    "SignalFanout",
    "SignalSample",
    "SignalSink",
]

SIGNAL_KINDS: tuple[str, ...] = (
    "bgp_visibility",
    "blocks_up",
    "active_probing",
    "bgp_prefixes",
    "telescope",
)
"""Signal names netvigil itself produces or imports; a sample may carry another name."""


@dataclass(frozen=True, slots=True)
class SignalSample:
    """One value of one signal of one entity at one time.

    `entity` is a configured network's name, an AS ("AS64500") or a country ("IQ").
    `value` is in the signal's own unit: a fraction in [0, 1] for `bgp_visibility` (peers
    seeing the network's prefixes / peers heard from) and `blocks_up` (blocks believed up
    / blocks watched), a count or rate for imported series. `source` says what made it
    ("ris_live", "mrt", "block_probe", "ioda", ...).
    """

    entity: str
    signal: str
    t: float
    value: float
    source: str = ""


SignalEventKind = Literal[
    "withdrawal",
    "announcement",
    "origin_change",
    "path_change",
    "blackhole",
    "feed_down",
    "feed_up",
]


@dataclass(frozen=True, slots=True)
class SignalEvent:
    """A discrete control-plane fact about a network, worded for evidence.

    `prefix` is the prefix it concerns ("" for facts about a feed). `peers` / `peers_total`
    say how many collector peers the fact was seen from, out of how many heard from.
    """

    entity: str
    kind: SignalEventKind
    t: float
    prefix: str = ""
    peers: int = 0
    peers_total: int = 0
    detail: str = ""
    source: str = ""

    @property
    def host_route(self) -> bool:
        """Whether `prefix` is one address (`host_route`)."""
        return host_route(self.prefix)


def host_route(prefix: str) -> bool:
    """Whether `prefix` is one address (a /32 or a /128): the shape of an RTBH route, the
    only one announced for a single address."""
    try:
        net = ipaddress.ip_network(prefix, strict=False)
    except ValueError:
        return False
    return net.prefixlen == net.max_prefixlen


class SignalSink(Protocol):
    """Where signal sources deliver what they see (the live pipeline, a store, a test)."""

    def sample(self, sample: SignalSample) -> None:
        """Take one sample; must not block."""
        ...

    def event(self, event: SignalEvent) -> None:
        """Take one event; must not block."""
        ...


class SignalFanout:
    """One sink that hands every sample and event to several (what the API shows, what
    detection judges)."""

    def __init__(self, sinks: list[SignalSink]) -> None:
        self.sinks = sinks

    def sample(self, sample: SignalSample) -> None:
        for sink in self.sinks:
            sink.sample(sample)

    def event(self, event: SignalEvent) -> None:
        for sink in self.sinks:
            sink.event(event)

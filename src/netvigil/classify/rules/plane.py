"""The network plane in words, for the rules that weigh it (route, shutdown, DDoS, DDoS
mitigation): what BGP and the address blocks say, quoted with their figures.

Every helper reads `window.network_plane`; without signals it is None and the rules
weigh exactly what they weighed before.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from typing import TYPE_CHECKING

from netvigil.signal import SignalEvent, host_route
from netvigil.words import clock, latency, names, share

if TYPE_CHECKING:
    from netvigil.evidence import EvidenceWindow, NetworkPlaneFacts

__all__ = [
    "ABRUPT",
    "SLOW_LAST",
    "SLOW_SINCE_ONSET",
    "blackholed_addresses",
    "blackholed_hosts",
    "flood_before",
    "flood_until_complete",
    "host_address",
    "host_route",
    "parse_address",
    "parse_addresses",
    "routes_gone",
    "undone_before",
    "widest_withdrawal",
    "withdrawal_words",
]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

MOST_PEERS = 0.5
"""A withdrawal seen from at least this share of the collector peers is a withdrawal."""


def widest_withdrawal(facts: NetworkPlaneFacts) -> SignalEvent | None:
    """The withdrawal of the networks' routes seen from the largest share of peers (the
    first such), or None."""
    best: SignalEvent | None = None
    best_share = -1.0
    for e in facts.route_withdrawals:
        part = e.peers / e.peers_total if e.peers_total else 1.0
        if part > best_share:
            best, best_share = e, part
    return best


def withdrawal_words(facts: NetworkPlaneFacts) -> str:
    """'192.0.2.0/26 withdrawn by 5 of 5 collector peers at 21:03:12 UTC; 0 of 4 blocks
    answer' (the blocks only when they are watched)."""
    e = widest_withdrawal(facts)
    if e is None:
        return ""
    peers = f"{e.peers} of {e.peers_total} collector peers" if e.peers_total else "collector peers"
    words = f"{e.prefix or 'the prefixes'} withdrawn by {peers} at {clock(e.t)}"
    if facts.blocks_up_now is not None:
        words += f"; {facts.blocks_words()}"
    return words


def routes_gone(window: EvidenceWindow, facts: NetworkPlaneFacts) -> tuple[float, str] | None:
    """The networks' routes gone, as the network plane says it: withdrawn by most peers
    (the widest withdrawal's share of peers, `withdrawal_words`), or, with no such
    withdrawal heard (yet), seen by at most half as many peers as before (the share of
    the visibility lost, and "prefixes of gov seen by 0% of collector peers, 100%
    before"); None when neither, or when the withdrawals were undone before the
    incident began (`undone_before`). A collapse of visibility and the withdrawal that
    explains it may reach the detector seconds apart: both are the same fact."""
    if undone_before(window, facts):
        return None
    if facts.withdrawn_share >= MOST_PEERS:
        return facts.withdrawn_share, withdrawal_words(facts)
    now, before = facts.visibility_now, facts.visibility_before
    if now is not None and before and now <= 0.5 * before:
        return (
            1.0 - now / before,
            f"prefixes of {names(facts.networks)} seen by {share(now)} of collector peers, "
            f"{share(before)} before",
        )
    return None


def undone_before(window: EvidenceWindow, facts: NetworkPlaneFacts) -> bool:
    """Whether every withdrawal among the facts came over a probe interval before the
    incident began and the routes are seen again as widely as before (within 10 %): an
    earlier outage of the network, over, not this incident's doing. A withdrawal within
    a probe interval before the onset is the incident's own (its first failed probe
    follows it by up to an interval), its routes seen back as the incident ends."""
    now, before = facts.visibility_now, facts.visibility_before
    back = now is not None and before is not None and now >= 0.9 * before
    earlier = window.onset - max(0.0, window.features.interval_s)
    return back and all(e.t < earlier for e in facts.route_withdrawals)


def blackholed_hosts(window: EvidenceWindow, facts: NetworkPlaneFacts) -> list[SignalEvent]:
    """Blackhole communities on single addresses (RTBH), oldest first: on an address of
    the incident's targets, when their addresses are known (another host of the network
    blackholed says nothing of these)."""
    hosts = [e for e in facts.blackholes if e.host_route]
    if not window.addresses:
        return hosts
    mine = parse_addresses(window.addresses)
    return [e for e in hosts if host_address(e.prefix) in mine]


def blackholed_addresses(blackholes: Iterable[SignalEvent]) -> set[IPAddress]:
    """The single addresses `blackholes` (blackhole community events) are on (RTBH)."""
    return {a for e in blackholes if (a := host_address(e.prefix)) is not None}


def parse_addresses(texts: Iterable[str]) -> set[IPAddress]:
    """Those of `texts` that are IP addresses, as addresses."""
    return {a for a in map(parse_address, texts) if a is not None}


def parse_address(text: str) -> IPAddress | None:
    """`text` as an IP address, or None when it is not one."""
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


def host_address(prefix: str) -> IPAddress | None:
    """The one address a /32 or /128 `prefix` names (None for a wider or bad prefix)."""
    return parse_address(prefix.split("/", 1)[0]) if host_route(prefix) else None


ABRUPT = 0.8
"""The share of the last probes before the onset that were clean (`Features.abruptness`)
from which the onset was abrupt: nothing built up to it."""

SLOW_SINCE_ONSET = 1.5
"""How many times their usual time the probes that got through since the onset took
(`Features.latency_post_ratio`) from which they waited in a flood's queues."""

SLOW_LAST = 0.25
"""The share of the last probes before the onset that answered slowly (`Features.slow_last`)
from which they are a flood's sign: a flood short against the pre window (twenty seconds
before the operator withdraws) barely moves its p95 latency, loss or jitter."""


def flood_before(window: EvidenceWindow) -> tuple[float, str] | None:
    """Signs of a flood before the routes went: before the onset (latency, loss, jitter
    against the baseline; the last probes slow) or, in an incident that began as the
    flood, since the onset until no probe got through any more (`flood_until_complete`):
    their strength in [0, 1] and their words; None when there were none."""
    f = window.features
    if f.abruptness >= ABRUPT:
        # The last probes before the onset were clean: whatever the pre window saw before
        # them (an earlier outage of the network, over) built nothing up to this onset.
        return flood_until_complete(window)
    if f.latency_ratio >= 1.5:
        return (
            min(1.0, (f.latency_ratio - 1) / 2),
            f"p95 latency before onset {latency(f.latency_p95_pre_s)} vs baseline "
            f"{latency(f.latency_p95_base_s)} (x{f.latency_ratio:.1f})",
        )
    if f.loss_pre >= 0.05:
        return min(1.0, f.loss_pre * 4), f"{share(f.loss_pre)} of probes lost before onset"
    if f.jitter_ratio >= 2:
        return (
            min(1.0, (f.jitter_ratio - 1) / 4),
            f"jitter before onset {latency(f.jitter_pre_s)} vs baseline {latency(f.jitter_base_s)}",
        )
    if f.slow_last >= SLOW_LAST:
        return (
            min(1.0, 2 * f.slow_last),
            f"{share(f.slow_last)} of the last probes before onset answered at over twice "
            "their usual time: a queue filling",
        )
    return flood_until_complete(window)


def flood_until_complete(window: EvidenceWindow) -> tuple[float, str] | None:
    """A flood inside the incident before its loss became complete: part of the probes
    lost (5-95 %) and those answered slow (p95 latency since onset x1.5 the baseline or
    more). A withdrawal that follows is the operator's answer to the flood it was part
    of, not a loss that came alone. The loss is that of the recent window before loss
    became complete or, when that window was complete loss too (the first answers after
    a withdrawal end the stretch of complete loss it is measured from), since the onset."""
    f = window.features
    if f.latency_post_ratio < SLOW_SINCE_ONSET:
        return None
    if 0.05 <= f.loss_before_complete < 0.95:
        words = f"before no probe got through, {share(f.loss_before_complete)} were lost"
    elif f.loss_before_complete >= 0.95 and 0.05 <= f.loss_post < 0.95:
        words = f"since the onset {share(f.loss_post)} of probes were lost"
    else:
        return None
    return (
        min(1.0, (f.latency_post_ratio - 1) / 2),
        f"{words} and those answered took x{f.latency_post_ratio:.1f} their usual time",
    )

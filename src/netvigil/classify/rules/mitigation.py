"""ddos_mitigation: traffic to a network dropped or diverted on purpose to fend off an
attack, told apart by the network plane: a blackhole community on one address (RTBH),
a new origin or path with higher latency (scrubbing diversion), or the prefixes
withdrawn while a flood was going on (defensive withdrawal). Without network-plane facts
this rule says nothing."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from netvigil.cause import Cause, Topic
from netvigil.classify.base import Verdict
from netvigil.classify.rules.plane import blackholed_hosts, flood_before, routes_gone
from netvigil.words import clock

if TYPE_CHECKING:
    from netvigil.evidence import EvidenceWindow, NetworkPlaneFacts

__all__ = ["DDoSMitigationRule"]

_COMMUNITY = re.compile(r"\b\d+:\d+\b")
"""A community in an event's detail ("65535:666", or "blackhole community 65535:666 from
2 peers" as the BGP feed words it): the rule names the community once, in brackets."""


class DDoSMitigationRule:
    """RTBH, scrubbing diversion, defensive withdrawal: mitigation reported as what it is."""

    cause = Cause.DDOS_MITIGATION

    def judge(self, window: EvidenceWindow) -> Verdict | None:
        """Routing facts, with the probes' latency for a diversion and a flood's signs
        before a withdrawal."""
        facts = window.network_plane
        if facts is None:
            return None
        verdict = Verdict(self.cause)
        _weigh_rtbh(window, facts, verdict)
        _weigh_diversion(window, facts, verdict)
        _weigh_defensive_withdrawal(window, facts, verdict)
        return verdict if verdict.evidence else None


def _weigh_rtbh(window: EvidenceWindow, facts: NetworkPlaneFacts, verdict: Verdict) -> None:
    hosts = blackholed_hosts(window, facts)
    if not hosts:
        return
    e = hosts[0]
    seen = f"seen by {e.peers} of {e.peers_total} peers " if e.peers_total else ""
    named = _COMMUNITY.search(e.detail)
    community = f" ({named.group(0)})" if named else ""
    verdict.add(
        window.weight("mitigation.rtbh"),
        Topic.ROUTING,
        f"blackhole community{community} on {e.prefix}, a single address of network "
        f"{', '.join(facts.networks)}, {seen}at {clock(e.t)}: traffic to it is dropped "
        "upstream on the operator's request (RTBH)",
    )


def _weigh_diversion(window: EvidenceWindow, facts: NetworkPlaneFacts, verdict: Verdict) -> None:
    if not facts.origin_changes:
        return
    e = facts.origin_changes[0]
    what = "origin" if e.kind == "origin_change" else "AS path"
    change = f" ({e.detail})" if e.detail else ""
    verdict.add(
        window.weight("mitigation.diversion"),
        Topic.ROUTING,
        f"{what} of {e.prefix or 'the prefixes'} changed{change} at {clock(e.t)}: "
        "traffic is routed through another network",
    )
    f = window.features
    ratio = max(f.latency_post_ratio, f.latency_ratio)
    if ratio >= 1.5:
        verdict.add(
            window.weight("mitigation.diversion_latency") * min(1.0, (ratio - 1) / 2),
            Topic.SHAPE,
            f"probes take x{ratio:.1f} their usual time since: the detour of a scrubbing service",
        )


def _weigh_defensive_withdrawal(
    window: EvidenceWindow, facts: NetworkPlaneFacts, verdict: Verdict
) -> None:
    flood = flood_before(window)
    gone = routes_gone(window, facts)
    if flood is None or gone is None:
        return
    strength, words = flood
    verdict.add(
        window.weight("mitigation.defensive_withdrawal") * gone[0],
        Topic.ROUTING,
        f"{gone[1]}, during a flood: the operator withdrew its own routes "
        "to shed it (defensive withdrawal)",
    )
    verdict.add(window.weight("mitigation.flood_before") * strength, Topic.SHAPE, words)

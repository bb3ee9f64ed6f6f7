"""route_withdrawal: routers report no route (ICMP network/host unreachable), or BGP
says the prefixes were withdrawn by most collector peers (when signals exist)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from netvigil.cause import Cause, Topic
from netvigil.classify.base import Verdict, dns_cut_off, no_route_everywhere
from netvigil.classify.rules.plane import ABRUPT, MOST_PEERS, flood_before, routes_gone
from netvigil.words import latency, names, outcome_mix, share

if TYPE_CHECKING:
    from netvigil.evidence import EvidenceWindow

__all__ = ["RouteWithdrawalRule"]

_UNREACH = ("net_unreachable", "host_unreachable")


class RouteWithdrawalRule:
    """Weighs ICMP unreachable answers, the whole network falling, and an abrupt onset."""

    cause = Cause.ROUTE_WITHDRAWAL

    def judge(self, window: EvidenceWindow) -> Verdict | None:
        """Routing (when signals exist), TCP layer (ICMP errors), co-fate and shape."""
        f = window.features
        # DNS timeouts of a name server cut off with the network say nothing about how.
        strength = (f.frac_net_unreach + 0.5 * f.frac_host_unreach) / (1.0 - dns_cut_off(window))
        # Routers rate-limit their ICMP errors: "no route" heard from every failing
        # vantage is as strong as every probe hearing it.
        strength = min(1.0, max(strength, no_route_everywhere(window)))
        verdict = Verdict(self.cause)
        routing = _weigh_routing(window, verdict, strength)
        if strength < 0.3:
            return verdict if routing else None
        seen = window.class_vantages.get("net_unreach", set()) | window.class_vantages.get(
            "host_unreach", set()
        )
        countries = window.countries_of(seen)
        where = f" in {len(countries)} countr{'y' if len(countries) == 1 else 'ies'}"
        verdict.add(
            window.weight("route.unreachable") * strength,
            Topic.TCP,
            f"ICMP unreachable in {share(f.frac_net_unreach + f.frac_host_unreach)} of failed "
            f"probes ({outcome_mix(window.outcomes, _UNREACH)}) from {len(seen)} vantage(s)"
            f"{where if countries else ''}: routers have no route to the destination",
        )
        reach = [
            v
            for v in window.vantages
            if not v.impaired and v.members_total and v.members_ok == v.members_total
        ]
        if reach:
            verdict.add(
                window.weight("route.reachable_elsewhere"),
                Topic.GEOGRAPHY,
                f"{len(reach)} vantage(s) ({names(v.name for v in reach)}) still reach it: "
                "routes exist somewhere",
            )
        if len(window.services) >= 2 and f.network_scope >= 0.99:
            verdict.add(
                window.weight("route.cofate"),
                Topic.COFATE,
                f"all {len(window.services)} services on network {names(window.networks)} "
                f"lost within {f.onset_spread_s:.0f} s of each other",
            )
        if f.abruptness >= ABRUPT:
            verdict.add(
                window.weight("route.abrupt"),
                Topic.SHAPE,
                f"{share(f.abruptness)} of the last probes before onset were clean: abrupt",
            )
        if f.latency_ratio >= 1.5:
            verdict.add(
                0.0,
                Topic.SHAPE,
                f"p95 latency before onset {latency(f.latency_p95_pre_s)} vs baseline "
                f"{latency(f.latency_p95_base_s)}: an attack may have preceded it; operators "
                "withdraw their own routes to shed a flood",
            )
        return verdict


def _weigh_routing(window: EvidenceWindow, verdict: Verdict, unreachable: float) -> bool:
    """What BGP says: the prefixes withdrawn by most peers (unless during a flood, a
    mitigation), visibility collapsed, or the routes still there. Whether it said anything."""
    facts = window.network_plane
    if facts is None:
        return False
    gone = routes_gone(window, facts)
    if gone is not None:
        part, words = gone
        flood = flood_before(window)
        # During a flood the withdrawal is likely the operator's own (ddos_mitigation).
        half = 0.5 if flood is not None else 1.0
        heard = facts.withdrawn_share >= MOST_PEERS
        verdict.add(
            window.weight("route.bgp_withdrawn") * part * half,
            Topic.ROUTING,
            f"{words}: the network is gone from the routing table"
            if heard
            else f"{words}: the routes are gone",
        )
        if flood is not None:
            verdict.add(
                window.weight("route.after_flood"),
                Topic.SHAPE,
                f"{flood[1]}: the routes went during a flood, a mitigation rather than a loss",
            )
        return True
    if facts.routes_visible and (facts.down or facts.blocks_dark or unreachable >= 0.3):
        verdict.add(
            window.weight("route.bgp_visible"),
            Topic.ROUTING,
            f"{facts.visible_words()}: the routes are still there",
        )
        return True
    return False

"""shutdown: a network is cut on purpose; all on it goes silent (or is rejected) at once.
With signals: the routes stay up while the address blocks go dark (a data-plane cut)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from netvigil.cause import Cause, Topic
from netvigil.classify.base import Verdict, dns_cut_off, no_route_everywhere
from netvigil.classify.rules.ddos import SIBLINGS_SLOW
from netvigil.classify.rules.plane import (
    ABRUPT,
    MOST_PEERS,
    SLOW_SINCE_ONSET,
    blackholed_hosts,
    withdrawal_words,
)
from netvigil.words import clock, duration, names, outcome_mix, share

if TYPE_CHECKING:
    from netvigil.evidence import EvidenceWindow

__all__ = ["ShutdownRule"]

_SILENT = ("tcp_timeout", "icmp_timeout", "admin_prohibited")


class ShutdownRule:
    """Complete, steady, simultaneous silence or administrative rejection of a whole network."""

    cause = Cause.SHUTDOWN

    def judge(self, window: EvidenceWindow) -> Verdict | None:
        """TCP layer, co-fate, shape."""
        f = window.features
        # DNS timeouts of a name server cut off with the network are part of the silence.
        cut_dns = dns_cut_off(window)
        silent = (f.frac_silent + f.frac_prohibited) / (1.0 - cut_dns)
        verdict = Verdict(self.cause)
        routing = _weigh_routing(window, verdict)
        if silent < 0.3 and f.loss_post < 0.5:
            return verdict if routing else None
        _weigh_silence(window, verdict, silent)
        _weigh_reachable_elsewhere(window, verdict)
        _weigh_other_failures(window, verdict, cut_dns)
        _weigh_cofate(window, verdict)
        _weigh_shape(window, verdict)
        return verdict


def _weigh_routing(window: EvidenceWindow, verdict: Verdict) -> bool:
    """What the network plane says: routes up while blocks go dark (a data-plane cut),
    routes withdrawn, or one address blackholed. Whether it said anything."""
    facts = window.network_plane
    if facts is None:
        return False
    said = False
    # Only a complete loss is a cut: under a flood the blocks look dark too (their probes
    # are lost with everything else) while some traffic still gets through.
    if facts.routes_visible and facts.data_dark and _complete(window) and not _flooded(window):
        dark = f", {facts.blocks_words()}" if facts.blocks_up_now is not None else ""
        verdict.add(
            window.weight("shutdown.routes_up_data_dark"),
            Topic.ROUTING,
            f"{facts.visible_words()}{dark}: traffic is dropped, not unrouted (a data-plane cut)",
        )
        said = True
    if facts.withdrawn_share >= MOST_PEERS:
        verdict.add(
            window.weight("shutdown.bgp_withdrawn"),
            Topic.ROUTING,
            f"{withdrawal_words(facts)}: the routes are gone rather than traffic dropped",
        )
        said = True
    hosts = blackholed_hosts(window, facts)
    if hosts:
        verdict.add(
            window.weight("shutdown.blackholed"),
            Topic.ROUTING,
            f"{hosts[0].prefix} is blackholed by community at {clock(hosts[0].t)}: one "
            "address dropped on request, not a network cut",
        )
        said = True
    return said


def _flooded(window: EvidenceWindow) -> bool:
    """Probes that got through since the onset waited in a flood's queues (`SLOW_SINCE_ONSET`),
    under which the blocks go dark too."""
    return window.features.latency_post_ratio >= SLOW_SINCE_ONSET


def _complete(window: EvidenceWindow) -> bool:
    """No probe has got through lately (or the loss has been steadily complete)."""
    f = window.features
    return f.complete_s > 0 and (f.loss_recent >= 0.99 or f.steady_complete)


def _weigh_silence(window: EvidenceWindow, verdict: Verdict, silent: float) -> None:
    """Probes unanswered or rejected (`silent` of the failures), and none succeeding."""
    f = window.features
    if silent >= 0.3:
        seen = window.class_vantages.get("silent", set()) | window.class_vantages.get(
            "prohibited", set()
        )
        countries = window.countries_of(seen)
        where = f" in {len(countries)} countr{'y' if len(countries) == 1 else 'ies'}"
        what = (
            "administratively prohibited (ICMP)"
            if f.frac_prohibited > f.frac_silent
            else "TCP SYN / ping unanswered"
        )
        verdict.add(
            window.weight("shutdown.silent_or_rejected") * silent,
            Topic.TCP,
            f"{what} from {len(seen)} vantage(s){where if countries else ''} "
            f"({outcome_mix(window.outcomes, _SILENT)})",
        )
    if _complete(window):
        strength = min(1.0, f.complete_s / (2 * f.interval_s))
        verdict.add(
            window.weight("shutdown.complete") * strength,
            Topic.SHAPE,
            f"no probe succeeded from the failing vantage(s) for {duration(f.complete_s)} "
            f"({f.probes_post:.0f} probes since onset, loss {share(f.loss_post)})",
        )


def _weigh_reachable_elsewhere(window: EvidenceWindow, verdict: Verdict) -> None:
    """Healthy vantages that still reach every target: the network itself is up."""
    reach = [
        v
        for v in window.vantages
        if not v.impaired and v.members_total and v.members_ok == v.members_total
    ]
    if reach:
        verdict.add(
            window.weight("shutdown.reachable_elsewhere"),
            Topic.GEOGRAPHY,
            f"{len(reach)} vantage(s) ({names(v.name for v in reach)}) still reach it: "
            "the network itself is up",
        )


def _weigh_other_failures(window: EvidenceWindow, verdict: Verdict, cut_dns: float) -> None:
    """Failures a cut does not give: unreachable routes, refusals, application errors."""
    f = window.features
    unreach = (f.frac_net_unreach + f.frac_host_unreach) / (1.0 - cut_dns)
    unreach = min(1.0, max(unreach, no_route_everywhere(window)))
    if unreach >= 0.3:
        verdict.add(
            window.weight("shutdown.unreachable") * unreach,
            Topic.TCP,
            f"routers answer unreachable in {share(unreach)} of failed probes: "
            "routes are gone rather than traffic dropped",
        )
    if f.frac_refused >= 0.3:
        verdict.add(
            window.weight("shutdown.refused") * f.frac_refused,
            Topic.TCP,
            f"the host itself refused connections in {share(f.frac_refused)} of failed probes",
        )
    app = f.frac_http_5xx + f.frac_http_slow + f.frac_dns - cut_dns + f.frac_tls
    if app >= 0.3:
        verdict.add(
            window.weight("shutdown.application_layer") * app,
            Topic.HTTP,
            f"{share(app)} of failures are above the network layer (DNS, TLS, HTTP)",
        )


def _weigh_cofate(window: EvidenceWindow, verdict: Verdict) -> None:
    """Services on the network lost together, or one alone, or the organization up elsewhere."""
    f = window.features
    n = len(window.services)
    if n >= 2 and f.onset_spread_s <= 2 * f.interval_s:
        scope = (
            f"{n} of {n + len(window.cohosted_up)} services on network {names(window.networks)}"
            if window.networks
            else f"{n} services"
        )
        verdict.add(
            window.weight("shutdown.cofate")
            * min(1.0, f.network_scope if f.network_scope > 0 else 1.0),
            Topic.COFATE,
            f"{scope} lost within {f.onset_spread_s:.0f} s of each other",
        )
    elif n == 1 and window.cohosted_up:
        verdict.add(
            window.weight("shutdown.single_service"),
            Topic.COFATE,
            f"only {window.services[0]} failed; {len(window.cohosted_up)} other service(s) on "
            f"network {names(window.networks)} kept answering",
        )
    for peer in window.org_peers:
        if peer.probes and peer.ok_probes == peer.probes:
            verdict.add(
                window.weight("shutdown.org_elsewhere_up"),
                Topic.COFATE,
                f"{peer.service} on network {peer.network or '?'} of the same organization "
                f"answered throughout ({peer.ok_probes} of {peer.probes} probes)",
            )
            break


def _weigh_shape(window: EvidenceWindow, verdict: Verdict) -> None:
    """The onset and the loss since: abrupt, a cut that stays, or traffic still passing."""
    f = window.features
    if f.siblings_latency_ratio >= SIBLINGS_SLOW:
        verdict.add(
            window.weight("shutdown.siblings_slow"),
            Topic.SHAPE,
            f"the other targets of {names(window.networks or window.services)} still answer "
            f"(x{f.siblings_latency_ratio:.0f} their usual time): the network is not cut",
        )
    if f.abruptness >= ABRUPT:
        verdict.add(
            window.weight("shutdown.abrupt") * f.abruptness,
            Topic.SHAPE,
            f"{share(f.abruptness)} of the last probes before onset were clean: an abrupt onset",
        )
    if f.loss_before_complete >= 0.05 and f.steady_complete:
        verdict.add(
            window.weight("shutdown.cut_under_attack"),
            Topic.SHAPE,
            f"loss went from {share(f.loss_before_complete)} to 100% at "
            f"{clock(window.now - f.complete_s)} and stayed there: a cut, "
            "not a flood (operators cut networks under attack)",
        )
    if not f.steady_complete and (0.05 <= f.loss_recent < 0.95 or f.flaps_post >= 3):
        verdict.add(
            window.weight("shutdown.flapping"),
            Topic.SHAPE,
            f"loss {share(f.loss_recent)} over the last {duration(f.recent_s)}, "
            f"{f.flaps_post:.1f} flips per path: some traffic still passes",
        )

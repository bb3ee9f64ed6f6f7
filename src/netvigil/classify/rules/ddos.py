"""volumetric_ddos: congestion builds up (latency, jitter, partial loss, flapping).
With signals, a flood met by a mitigation (RTBH, diversion, withdrawal) is left to the
ddos_mitigation rule: the outage is the mitigation's."""

from __future__ import annotations

from typing import TYPE_CHECKING

from netvigil.cause import Cause, Topic
from netvigil.classify.base import Verdict
from netvigil.classify.rules.plane import (
    ABRUPT,
    MOST_PEERS,
    blackholed_hosts,
    flood_before,
    routes_gone,
)
from netvigil.words import clock, duration, latency, names, share

if TYPE_CHECKING:
    from netvigil.evidence import EvidenceWindow

__all__ = ["SIBLINGS_SLOW", "VolumetricDDoSRule"]

SIBLINGS_SLOW = 2.0
"""From this many times their usual latency, siblings' answers say congestion."""


class VolumetricDDoSRule:
    """A flood congests links: latency and jitter rise, loss is partial, paths flap."""

    cause = Cause.VOLUMETRIC_DDOS

    def judge(self, window: EvidenceWindow) -> Verdict | None:
        """Shape before and since the onset, plus what kind of failure."""
        verdict = Verdict(self.cause)
        _weigh_build_up(window, verdict)
        _weigh_since_onset(window, verdict)
        _weigh_mitigation(window, verdict)
        if not any(e.weight > 0 for e in verdict.evidence):
            return verdict if verdict.evidence else None
        return verdict


def _weigh_build_up(window: EvidenceWindow, verdict: Verdict) -> None:
    """Latency, jitter and loss before the onset against the baseline, and latency since."""
    f = window.features
    pre = "in the 10 minutes before onset"
    if f.latency_ratio >= 1.5:
        verdict.add(
            window.weight("ddos.latency_inflation") * min(1.0, (f.latency_ratio - 1) / 2),
            Topic.SHAPE,
            f"p95 latency {pre} {latency(f.latency_p95_pre_s)} vs baseline "
            f"{latency(f.latency_p95_base_s)} (x{f.latency_ratio:.1f}): congestion",
        )
    elif 0 < f.latency_ratio < 1.3:
        verdict.add(
            window.weight("ddos.no_inflation"),
            Topic.SHAPE,
            f"p95 latency {pre} {latency(f.latency_p95_pre_s)} vs baseline "
            f"{latency(f.latency_p95_base_s)}: no sign of congestion",
        )
    if f.latency_post_ratio >= 2:
        verdict.add(
            window.weight("ddos.post_inflation") * min(1.0, (f.latency_post_ratio - 1) / 4),
            Topic.SHAPE,
            f"probes that still got through since onset took x{f.latency_post_ratio:.0f} "
            "their usual time (median per path): queues are full",
        )
    if f.siblings_latency_ratio >= SIBLINGS_SLOW:
        verdict.add(
            window.weight("ddos.siblings_slow") * min(1.0, (f.siblings_latency_ratio - 1) / 4),
            Topic.SHAPE,
            f"the other targets of {names(window.networks or window.services)} still answer, "
            f"x{f.siblings_latency_ratio:.0f} their usual time since onset: queues are full",
        )
    if f.jitter_ratio >= 2:
        verdict.add(
            window.weight("ddos.jitter") * min(1.0, (f.jitter_ratio - 1) / 4),
            Topic.SHAPE,
            f"jitter {pre} {latency(f.jitter_pre_s)} vs baseline {latency(f.jitter_base_s)}",
        )
    if f.loss_pre >= 0.05:
        verdict.add(
            window.weight("ddos.pre_loss") * min(1.0, f.loss_pre * 4),
            Topic.SHAPE,
            f"{share(f.loss_pre)} of probes lost {pre}",
        )


def _weigh_since_onset(window: EvidenceWindow, verdict: Verdict) -> None:
    """How probes failed since the onset: partly and by timeout, or completely and rejected."""
    f = window.features
    steady = f.steady_complete
    partial = 0.05 <= f.loss_recent < 0.95 and not steady
    if partial or (f.flaps_post >= 2 and not steady):
        verdict.add(
            window.weight("ddos.partial_loss"),
            Topic.SHAPE,
            f"loss {share(f.loss_recent)} over the last {duration(f.recent_s)} and "
            f"{f.flaps_post:.1f} answered/unanswered flips per path since onset: "
            "traffic still gets through",
        )
    if f.frac_silent + f.frac_http_slow >= 0.5:
        verdict.add(
            window.weight("ddos.timeouts"),
            Topic.TCP,
            f"failures are timeouts ({share(f.frac_silent + f.frac_http_slow)}), "
            "as on a saturated link",
        )
    if steady:
        verdict.add(
            window.weight("ddos.complete_steady"),
            Topic.SHAPE,
            f"no probe succeeded from the failing vantage(s) for {duration(f.complete_s)}, "
            "which speaks against a flood: a flood lets some traffic through",
        )
    explicit = f.frac_refused + f.frac_net_unreach + f.frac_host_unreach + f.frac_prohibited
    if explicit >= 0.3:
        verdict.add(
            window.weight("ddos.explicit_reject") * explicit,
            Topic.TCP,
            f"{share(explicit)} of failures were explicit rejections (RST or ICMP), not congestion",
        )
    if f.connected_frac >= 0.5:
        verdict.add(
            window.weight("ddos.connected"),
            Topic.TCP,
            f"TCP connected in {share(f.connected_frac)} of failed probes: the network "
            "path is not saturated",
        )
    if f.abruptness >= ABRUPT and f.loss_post >= 0.95:
        verdict.add(
            window.weight("ddos.abrupt"),
            Topic.SHAPE,
            f"{share(f.abruptness)} of the last probes before onset were clean, then "
            f"{share(f.loss_post)} were lost: no build-up",
        )


def _weigh_mitigation(window: EvidenceWindow, verdict: Verdict) -> None:
    """A mitigation the network plane shows: what fails is the mitigation's doing."""
    facts = window.network_plane
    if facts is None:
        return
    hosts = blackholed_hosts(window, facts)
    what = ""
    if hosts:
        what = f"{hosts[0].prefix} blackholed at {clock(hosts[0].t)} (RTBH)"
    elif facts.origin_changes:
        e = facts.origin_changes[0]
        what = f"{e.prefix or 'the prefixes'} rerouted at {clock(e.t)} ({e.detail or e.kind})"
    elif (gone := routes_gone(window, facts)) is not None and flood_before(window) is not None:
        what = (
            f"routes withdrawn by {share(facts.withdrawn_share)} of collector peers"
            if facts.withdrawn_share >= MOST_PEERS
            else gone[1]
        )
    if what:
        verdict.add(
            window.weight("ddos.mitigated"),
            Topic.ROUTING,
            f"a mitigation is under way, {what}: the outage is the mitigation's",
        )

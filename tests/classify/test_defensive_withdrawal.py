"""A withdrawal inside an incident that began as a flood is the operator's answer to the
flood (`ddos_mitigation`), whether or not the flood was visible before the incident's
onset; the same withdrawal after clean probes stays a `route_withdrawal`."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace

from classify.test_causes import _explain
from classify.test_rule_scope import _window
from detect.streams import ONSET, Behaviour, Probe, World, confirmed, gov, healthy
from netvigil.cause import Cause
from netvigil.classify.rules.mitigation import DDoSMitigationRule
from netvigil.classify.rules.plane import flood_before
from netvigil.detect.detector import Detector
from netvigil.evidence import Features, NetworkPlaneFacts
from netvigil.incident import Incident
from netvigil.outcome import Outcome, Phase
from netvigil.signal import SignalEvent

CUT = ONSET + 300.0
"""When the network's routes are withdrawn."""
UNREACHABLE = Probe(Outcome.NET_UNREACHABLE, None, phase=Phase.CONNECT)

ROUTED = NetworkPlaneFacts(networks=("gov",), visibility_now=1.0, visibility_before=1.0, peers=1)
WITHDRAWN = replace(
    ROUTED,
    visibility_now=0.0,
    withdrawals=(
        SignalEvent("gov", "withdrawal", CUT + 1.0, prefix="192.0.2.0/26", peers=1, peers_total=1),
    ),
    down=True,
)


class TimedPlane:
    """The network plane of gov: routed until the withdrawal is known, withdrawn after."""

    def facts(
        self, networks: Sequence[str], *, onset: float, now: float
    ) -> NetworkPlaneFacts | None:
        if "gov" not in networks:
            return None
        return WITHDRAWN if now >= CUT + 1.0 else ROUTED


def _abrupt_flood_then_cut(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
    """From ONSET a flood at once (half the probes lost, the others ten times slower,
    nothing before it), from CUT no route."""
    if gov(target) and ts >= CUT:
        return UNREACHABLE
    if gov(target) and ts >= ONSET:
        if rng.random() < 0.5:
            return Probe(Outcome.TCP_TIMEOUT, None, phase=Phase.CONNECT)
        latency = rng.uniform(0.2, 0.4)
        return Probe(Outcome.OK, latency, ttfb=latency + 0.03)
    return healthy(ts, vantage, target, rng)


def _cut_alone(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
    if gov(target) and ts >= CUT:
        return UNREACHABLE
    return healthy(ts, vantage, target, rng)


def _only(behaviour: Behaviour) -> Incident:
    world = World()
    detector = Detector(world.config())
    detector.evidence.network_plane = TimedPlane()
    detector.feed_many(world.stream(behaviour, end=CUT + 400.0))
    detector.flush()
    incidents = confirmed(detector.incidents())
    assert len(incidents) == 1, [(i.cause, i.services) for i in incidents]
    return incidents[0]


def test_a_withdrawal_during_a_flood_the_incident_began_with_is_a_mitigation() -> None:
    incident = _only(_abrupt_flood_then_cut)
    causes = [c.cause for c in incident.cause_history]
    assert Cause.VOLUMETRIC_DDOS in causes, _explain(incident)
    assert incident.cause is Cause.DDOS_MITIGATION, _explain(incident)
    statements = [e.statement for e in incident.evidence]
    assert any("(defensive withdrawal)" in s for s in statements), _explain(incident)
    assert any(s.startswith("before no probe got through, ") for s in statements), statements


def test_the_same_withdrawal_after_clean_probes_is_a_route_withdrawal() -> None:
    incident = _only(_cut_alone)
    assert incident.cause is Cause.ROUTE_WITHDRAWAL, _explain(incident)


UNHEARD = replace(WITHDRAWN, withdrawals=())
"""The routes gone from the collector peers' view, the withdrawal itself not heard yet."""


class LateEventPlane:
    """gov's visibility collapses at the withdrawal; its withdrawal event reaches the
    detector 8 s later (a collector's view and its updates arrive apart)."""

    def facts(
        self, networks: Sequence[str], *, onset: float, now: float
    ) -> NetworkPlaneFacts | None:
        if "gov" not in networks:
            return None
        if now < CUT + 1.0:
            return ROUTED
        return UNHEARD if now < CUT + 9.0 else WITHDRAWN


def test_routes_gone_during_a_flood_are_a_mitigation_before_the_withdrawal_is_heard() -> None:
    world = World()
    detector = Detector(world.config())
    detector.evidence.network_plane = LateEventPlane()
    detector.feed_many(world.stream(_abrupt_flood_then_cut, end=CUT + 400.0))
    detector.flush()
    [incident] = confirmed(detector.incidents())
    after_cut = [c.cause for c in incident.cause_history if c.ts >= CUT]
    assert Cause.ROUTE_WITHDRAWAL not in after_cut, _explain(incident)
    assert after_cut[0] is Cause.DDOS_MITIGATION, _explain(incident)
    assert incident.cause is Cause.DDOS_MITIGATION, _explain(incident)


BACK = CUT + 60.0
"""When the routes come back (the flood still going on)."""


def _flood_cut_then_back(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
    """The flood of `_abrupt_flood_then_cut`, no route from CUT to BACK, then the flood
    again: the first answers end the stretch of complete loss."""
    if gov(target) and CUT <= ts < BACK:
        return UNREACHABLE
    return _abrupt_flood_then_cut(min(ts, CUT - 1.0), vantage, target, rng)


def test_the_first_answers_after_a_defensive_withdrawal_keep_it_a_mitigation() -> None:
    world = World()
    detector = Detector(world.config())
    detector.evidence.network_plane = TimedPlane()  # still withdrawn as the answers come
    detector.feed_many(world.stream(_flood_cut_then_back, end=BACK + 60.0))
    detector.flush()
    [incident] = confirmed(detector.incidents())
    after_cut = [c.cause for c in incident.cause_history if c.ts >= CUT]
    assert Cause.ROUTE_WITHDRAWAL not in after_cut, _explain(incident)
    assert incident.cause is Cause.DDOS_MITIGATION, _explain(incident)


def test_the_first_answer_after_the_withdrawal_does_not_hide_the_flood_before_it() -> None:
    """Judged as the first probe answers again after the withdrawal: the recent window
    before it was all loss (the withdrawal), so the flood is read from the loss since the
    onset, as it was before."""
    features = Features(
        loss_before_complete=1.0,  # the withdrawal's complete loss, up to the answer
        loss_post=0.89,  # the flood's partial loss, then the withdrawal's
        latency_post_ratio=31.2,  # the flood's answers
        complete_s=0.1,
        n_services=1.0,
    )
    window = replace(_window(features, [], {"tcp_timeout": 10}, {}), network_plane=WITHDRAWN)
    flood = flood_before(window)
    assert flood is not None
    assert flood[1] == (
        "since the onset 89% of probes were lost and those answered took x31.2 their usual time"
    )
    verdict = DDoSMitigationRule().judge(window)
    assert verdict is not None
    assert any("(defensive withdrawal)" in e.statement for e in verdict.evidence)


def test_the_routes_seen_back_as_it_ends_keep_a_withdrawal_heard_just_before_the_onset() -> None:
    """The withdrawal is heard half a second before the first failed probe (it caused
    it); as the incident ends the routes are seen back before the probes answer. The
    withdrawal is still this incident's, not an earlier one undone."""
    features = Features(
        loss_before_complete=0.6, loss_post=0.8, latency_post_ratio=20.0, interval_s=5.0
    )
    window = _window(features, [], {"tcp_timeout": 10}, {})
    back = replace(
        ROUTED,
        withdrawals=(
            SignalEvent(
                "gov",
                "withdrawal",
                window.onset - 0.5,
                prefix="192.0.2.0/26",
                peers=1,
                peers_total=1,
            ),
        ),
    )
    verdict = DDoSMitigationRule().judge(replace(window, network_plane=back))
    assert verdict is not None
    assert any("(defensive withdrawal)" in e.statement for e in verdict.evidence)

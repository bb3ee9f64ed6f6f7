"""An earlier outage of the same network, over before an incident begins, is not that
incident's evidence: the refusals of a crashed service are not a flood's loss before
the onset, nor the timeouts of a block that ended before the last probes before it, and
a withdrawal undone before the onset is not this incident's."""

from __future__ import annotations

import random
from dataclasses import replace

import pytest

from classify.test_causes import _explain
from classify.test_defensive_withdrawal import CUT, ROUTED, UNREACHABLE, TimedPlane
from classify.test_rule_scope import _window
from detect.streams import ONSET, SILENT, Behaviour, Probe, World, confirmed, gov, healthy
from netvigil.cause import Cause
from netvigil.classify.rules.route import RouteWithdrawalRule
from netvigil.detect.detector import Detector
from netvigil.evidence import Features
from netvigil.incident import Incident, IncidentEvent
from netvigil.outcome import Outcome, Phase
from netvigil.signal import SignalEvent

REFUSED = Probe(Outcome.TCP_REFUSED, None, phase=Phase.CONNECT)


def _earlier_outage_then_cut(earlier: Probe, *, ends: float = ONSET + 120.0) -> Behaviour:
    """gov's services fail with `earlier` for two minutes until `ends` (by default from
    ONSET, over well before the cut), answer again, then lose their routes at CUT."""

    def behaviour(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
        if gov(target) and ts >= CUT:
            return UNREACHABLE
        if gov(target) and ends - 120.0 <= ts < ends:
            return earlier
        return healthy(ts, vantage, target, rng)

    return behaviour


def _cut_incidents(behaviour: Behaviour) -> tuple[list[Incident], list[IncidentEvent]]:
    """The confirmed incidents from CUT on, and every event, of `behaviour` fed to a
    detector whose network plane sees gov's routes withdrawn at CUT."""
    world = World()
    detector = Detector(world.config())
    detector.evidence.network_plane = TimedPlane()
    events = detector.feed_many(world.stream(behaviour, end=CUT + 300.0))
    events += detector.flush()
    return [i for i in confirmed(detector.incidents()) if i.start >= CUT], events


@pytest.mark.parametrize(
    "earlier",
    [
        pytest.param(REFUSED, id="a crash's refusals are no flood's loss"),
        pytest.param(SILENT, id="a block's timeouts before clean probes are no build-up"),
    ],
)
def test_an_earlier_outage_is_no_flood_before_a_withdrawal(earlier: Probe) -> None:
    cut, _ = _cut_incidents(_earlier_outage_then_cut(earlier))
    assert len(cut) == 1, [(i.cause, i.start - CUT) for i in cut]
    [incident] = cut
    assert incident.cause is Cause.ROUTE_WITHDRAWAL, _explain(incident)
    assert Cause.DDOS_MITIGATION not in [c.cause for c in incident.cause_history]
    assert not any("lost before onset" in e.statement for e in incident.evidence)


def test_a_withdrawal_undone_before_the_onset_is_not_this_incidents() -> None:
    """A TLS failure on a network whose routes were withdrawn and came back before it."""
    facts = replace(
        ROUTED,
        withdrawals=(
            SignalEvent("gov", "withdrawal", 10.0, prefix="192.0.2.0/26", peers=1, peers_total=1),
        ),
    )
    window = replace(
        _window(Features(frac_tls=1.0, loss_post=1.0), [], {"tls_cert_expired": 9}, {}),
        network_plane=facts,
    )
    assert window.onset > 10.0
    verdict = RouteWithdrawalRule().judge(window)
    statements = [] if verdict is None else [e.statement for e in verdict.evidence]
    assert not any("gone from the routing table" in s for s in statements), statements


def test_a_block_over_three_probes_before_a_withdrawal_built_nothing_up() -> None:
    """gov's traffic dropped for two minutes, answering again three probe intervals before
    its routes go: the block's timeouts are among the last five probes before the onset,
    but the last three answered as usual, so they are no flood's build-up and the
    withdrawal no defensive one."""
    incidents, events = _cut_incidents(_earlier_outage_then_cut(SILENT, ends=CUT - 30.0))
    [cut] = incidents
    assert cut.cause is Cause.ROUTE_WITHDRAWAL, _explain(cut)
    shown = {e.incident.cause for e in events if e.incident.id == cut.id}
    assert Cause.DDOS_MITIGATION not in shown, _explain(cut)

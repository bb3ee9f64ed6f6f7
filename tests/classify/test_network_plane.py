"""Attribution with network-plane facts: route withdrawal, data-plane cut, RTBH, scrubbing
diversion and defensive withdrawal told apart by what BGP and the address blocks say;
without signals every verdict is exactly as before."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace

import pytest

from classify.test_causes import SCENARIOS, _explain, _flood, _gov_fails, _one_fails, volumetric
from classify.test_rule_scope import _window
from detect.streams import ONSET, SILENT, Behaviour, Probe, World, confirmed, gov, healthy
from netvigil.cause import Cause, Topic
from netvigil.classify.rules.shutdown import ShutdownRule
from netvigil.detect.detector import Detector
from netvigil.evidence import Features, NetworkPlaneFacts
from netvigil.incident import Incident
from netvigil.outcome import Outcome, Phase
from netvigil.signal import SignalEvent


class FixedPlane:
    """A network-plane source that knows one set of facts, about network gov only."""

    def __init__(self, facts: NetworkPlaneFacts | None) -> None:
        self._facts = facts
        self.asked: list[tuple[str, ...]] = []

    def facts(
        self, networks: Sequence[str], *, onset: float, now: float
    ) -> NetworkPlaneFacts | None:
        self.asked.append(tuple(networks))
        if self._facts is None or "gov" not in networks:
            return None
        return self._facts


def _incidents(
    behaviour: Behaviour,
    plane: FixedPlane | None,
    *,
    end: float,
    start: float = ONSET - 1200.0,
) -> list[Incident]:
    world = World()
    detector = Detector(world.config())
    if plane is not None:
        detector.evidence.network_plane = plane
    detector.feed_many(world.stream(behaviour, start=start, end=end))
    detector.flush()
    return confirmed(detector.incidents())


def _only(
    behaviour: Behaviour,
    facts: NetworkPlaneFacts,
    end: float = ONSET + 400.0,
    start: float = ONSET - 1200.0,
) -> Incident:
    incidents = _incidents(behaviour, FixedPlane(facts), end=end, start=start)
    assert len(incidents) == 1, [(i.cause, i.services) for i in incidents]
    assert incidents[0].confidence >= 0.6, _explain(incidents[0])
    return incidents[0]


def _statements(incident: Incident) -> list[str]:
    return [e.statement for e in incident.evidence]


WITHDRAWN = SignalEvent(
    "gov", "withdrawal", ONSET + 3.0, prefix="192.0.2.0/26", peers=5, peers_total=5
)
GONE = NetworkPlaneFacts(
    networks=("gov",),
    visibility_now=0.0,
    visibility_before=1.0,
    peers=5,
    blocks_up_now=0.0,
    blocks_up_before=1.0,
    blocks=4,
    withdrawals=(WITHDRAWN,),
    down=True,
)
ROUTES_UP = NetworkPlaneFacts(
    networks=("gov",),
    visibility_now=1.0,
    visibility_before=1.0,
    peers=5,
    blocks_up_now=0.0,
    blocks_up_before=1.0,
    blocks=4,
    down=True,
)


def test_prefixes_withdrawn_by_every_peer_is_a_route_withdrawal() -> None:
    # Probes time out, which alone reads as a shutdown; BGP says the routes are gone.
    incident = _only(_gov_fails(SILENT), GONE)
    assert incident.cause is Cause.ROUTE_WITHDRAWAL, _explain(incident)
    assert (
        "192.0.2.0/26 withdrawn by 5 of 5 collector peers at 20:30:03 UTC; 0 of 4 blocks "
        "answer: the network is gone from the routing table"
    ) in _statements(incident)
    routing = [e for e in incident.evidence if e.topic is Topic.ROUTING]
    assert routing and all(e.cause in (Cause.ROUTE_WITHDRAWAL, Cause.SHUTDOWN) for e in routing)


def test_without_facts_the_same_probes_read_as_a_shutdown() -> None:
    [incident] = _incidents(_gov_fails(SILENT), None, end=ONSET + 400.0)
    assert incident.cause is Cause.SHUTDOWN


def test_routes_up_and_blocks_dark_is_a_data_plane_cut() -> None:
    unreachable = Probe(Outcome.NET_UNREACHABLE, None, phase=Phase.CONNECT)
    # Even routers answering "unreachable" inside the network: the routes are still there.
    incident = _only(_gov_fails(unreachable), ROUTES_UP)
    assert incident.cause is Cause.SHUTDOWN, _explain(incident)
    statements = _statements(incident)
    assert (
        "routes still visible from 5 of 5 peers, 0 of 4 blocks answer: traffic is dropped, "
        "not unrouted (a data-plane cut)"
    ) in statements
    assert "routes still visible from 5 of 5 peers: the routes are still there" in statements


def test_a_flood_that_darkens_the_blocks_is_not_a_data_plane_cut() -> None:
    # Under a flood the blocks' own probes are lost too, while some traffic still gets
    # through: only a complete loss is a cut.
    incident = _only(volumetric, ROUTES_UP)
    assert incident.cause is Cause.VOLUMETRIC_DDOS, _explain(incident)
    assert not any("data-plane cut" in s for s in _statements(incident)), _explain(incident)


def test_a_blackhole_community_on_one_address_is_rtbh() -> None:
    facts = replace(
        ROUTES_UP,
        blocks_up_now=1.0,
        down=False,
        blackholes=(
            SignalEvent(
                "gov",
                "blackhole",
                ONSET + 2.0,
                prefix="192.0.2.10/32",
                peers=4,
                peers_total=5,
                detail="65535:666",
            ),
        ),
    )
    incident = _only(_one_fails(SILENT), facts)
    assert incident.cause is Cause.DDOS_MITIGATION, _explain(incident)
    assert any(
        s.startswith("blackhole community (65535:666) on 192.0.2.10/32, a single address")
        and "seen by 4 of 5 peers at 20:30:02 UTC" in s
        and "(RTBH)" in s
        for s in _statements(incident)
    ), _explain(incident)


def test_a_new_origin_with_higher_latency_is_a_scrubbing_diversion() -> None:
    facts = replace(
        ROUTES_UP,
        blocks_up_now=0.9,
        down=False,
        origin_changes=(
            SignalEvent(
                "gov",
                "origin_change",
                ONSET - 200.0,
                prefix="192.0.2.0/24",
                peers=5,
                peers_total=5,
                detail="AS64500 -> AS64510",
            ),
        ),
    )
    [plain] = _incidents(volumetric, None, end=ONSET + 400.0)
    assert plain.cause is Cause.VOLUMETRIC_DDOS
    incident = _only(volumetric, facts)
    assert incident.cause is Cause.DDOS_MITIGATION, _explain(incident)
    statements = _statements(incident)
    assert any(
        s.startswith("origin of 192.0.2.0/24 changed (AS64500 -> AS64510) at 20:26:40 UTC")
        for s in statements
    )
    assert any("the detour of a scrubbing service" in s for s in statements), _explain(incident)


def test_routes_withdrawn_during_a_flood_is_a_defensive_withdrawal() -> None:
    cut = ONSET + 300.0

    def behaviour(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
        if gov(target) and ts >= cut:
            return Probe(Outcome.NET_UNREACHABLE, None, phase=Phase.CONNECT)
        if gov(target) and ts >= ONSET - 300.0:
            return _flood(ONSET - 300.0, rng, ts)
        return healthy(ts, vantage, target, rng)

    facts = replace(GONE, withdrawals=(replace(WITHDRAWN, t=cut + 1.0),))
    incident = _only(behaviour, facts, end=cut + 600.0)
    assert incident.cause is Cause.DDOS_MITIGATION, _explain(incident)
    assert any(
        "withdrawn by 5 of 5 collector peers at 20:35:01 UTC" in s and "(defensive withdrawal)" in s
        for s in _statements(incident)
    ), _explain(incident)


def _congested_then_withdrawn(congested_s: float) -> Behaviour:
    """Every probe answers, `congested_s` before the cut at ten times its usual latency (a
    flood that fills the uplink's queue without overflowing it), then nothing routes."""

    def behaviour(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
        if gov(target) and ts >= ONSET:
            return Probe(Outcome.NET_UNREACHABLE, None, phase=Phase.CONNECT)
        if gov(target) and ts >= ONSET - congested_s:
            return Probe(Outcome.OK, 0.3, ttfb=0.33)
        return healthy(ts, vantage, target, rng)

    return behaviour


def test_routes_withdrawn_after_a_short_congestion_is_a_defensive_withdrawal() -> None:
    """Twenty seconds of a flood that only slows the probes, two minutes into the history
    (too young for a baseline, as in a lab run: no p95 latency or jitter to compare with,
    no loss): the last probes before the onset, slower than those before them, are what
    shows the flood."""
    young = ONSET - 120.0
    incident = _only(_congested_then_withdrawn(20.0), GONE, start=young)
    assert incident.cause is Cause.DDOS_MITIGATION, _explain(incident)
    statements = _statements(incident)
    assert any("(defensive withdrawal)" in s for s in statements), _explain(incident)
    assert any(
        "of the last probes before onset answered at over twice their usual time" in s
        for s in statements
    ), _explain(incident)
    clean = _only(_congested_then_withdrawn(0.0), GONE, start=young)
    assert clean.cause is Cause.ROUTE_WITHDRAWAL, _explain(clean)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_no_signals_no_change(name: str) -> None:
    """A source that knows nothing leaves every verdict, probability and statement as is."""
    behaviour = SCENARIOS[name][0]
    plane = FixedPlane(None)
    before = _incidents(behaviour, None, end=ONSET + 400.0)
    after = _incidents(behaviour, plane, end=ONSET + 400.0)
    # It was asked, and had nothing to say (a vantage's own incident asks nothing).
    assert plane.asked or name == "vantage_problem"
    assert [i.to_json() for i in after] == [i.to_json() for i in before]


def test_a_blackhole_on_another_address_of_the_network_is_not_this_incidents_rtbh() -> None:
    facts = replace(
        ROUTES_UP,
        blocks_up_now=1.0,
        down=False,
        blackholes=(SignalEvent("gov", "blackhole", ONSET + 2.0, prefix="192.0.2.10/32", peers=4),),
    )
    world = World()
    detector = Detector(world.config())
    detector.evidence.network_plane = FixedPlane(facts)
    # the failing targets were probed at 192.0.2.20: the blackholed host is another one
    stream = world.stream(_one_fails(SILENT), end=ONSET + 400.0)
    detector.feed_many(replace(m, address="192.0.2.20") for m in stream)
    detector.flush()
    [incident] = confirmed(detector.incidents())
    assert incident.cause is not Cause.DDOS_MITIGATION, _explain(incident)
    assert not any("(RTBH)" in s for s in _statements(incident)), _explain(incident)


def test_another_address_failing_beside_a_blackholed_one_is_an_incident_of_its_own() -> None:
    """An RTBH drops one address: another host of the network going silent an interval
    later (its own failure: a name server dying, say) looks alike in the probes but is
    not the blackholing, and is not absorbed by it."""
    holed, other = "e-albania-https", "parliament-https"
    addresses = {holed: "192.0.2.10", other: "192.0.2.20"}
    facts = replace(
        ROUTES_UP,
        blocks_up_now=1.0,
        down=False,
        blackholes=(SignalEvent("gov", "blackhole", ONSET + 2.0, prefix="192.0.2.10/32", peers=4),),
    )

    def behaviour(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
        if (target == holed and ts >= ONSET) or (target == other and ts >= ONSET + 15.0):
            return SILENT
        return healthy(ts, vantage, target, rng)

    world = World()
    detector = Detector(world.config())
    detector.evidence.network_plane = FixedPlane(facts)
    stream = world.stream(behaviour, end=ONSET + 400.0)
    detector.feed_many(replace(m, address=addresses.get(m.target, "192.0.2.99")) for m in stream)
    detector.flush()
    found = {tuple(i.targets): i for i in confirmed(detector.incidents())}
    assert sorted(found) == [(holed,), (other,)], [(i.targets, i.cause) for i in found.values()]
    assert found[(holed,)].cause is Cause.DDOS_MITIGATION, _explain(found[(holed,)])
    assert found[(other,)].cause is not Cause.DDOS_MITIGATION, _explain(found[(other,)])


def test_a_withdrawal_undone_before_the_incident_began_is_not_its_defence() -> None:
    """The network's routes were withdrawn and came back; a minute later its sites fail
    again. The loss before this onset is that earlier outage, not a flood, and the
    withdrawal is over: no defensive withdrawal."""
    first, back = ONSET - 200.0, ONSET - 60.0

    def behaviour(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
        if gov(target) and (first <= ts < back or ts >= ONSET):
            return SILENT
        return healthy(ts, vantage, target, rng)

    facts = replace(ROUTES_UP, blocks_up_now=1.0, withdrawals=(replace(WITHDRAWN, t=first),))
    incidents = _incidents(behaviour, FixedPlane(facts), end=ONSET + 400.0)
    latest = max(incidents, key=lambda i: i.start)
    assert latest.start >= ONSET, [(i.start - ONSET, i.cause) for i in incidents]
    assert latest.cause is not Cause.DDOS_MITIGATION, _explain(latest)


def test_the_end_of_an_rtbh_is_not_a_withdrawal_of_the_network() -> None:
    """A blackholed address's /32 route is withdrawn (the RTBH is over) just as the
    network's sites go dark with its routes still up: that withdrawal takes no route of
    the network away, so this is a data-plane cut, not a route withdrawal."""
    unreachable = Probe(Outcome.NET_UNREACHABLE, None, phase=Phase.CONNECT)
    lifted = replace(WITHDRAWN, prefix="192.0.2.2/32")
    facts = replace(ROUTES_UP, withdrawals=(lifted,))
    incident = _only(_gov_fails(unreachable), facts)
    assert incident.cause is Cause.SHUTDOWN, _explain(incident)
    assert not any("withdrawn" in s for s in _statements(incident)), _statements(incident)
    assert facts.withdrawals and not facts.route_withdrawals and facts.routes_visible


def test_blocks_that_answer_are_no_data_plane_cut_whatever_an_older_alarm_says() -> None:
    """The network's blocks answer again while the signal detector still holds an alarm
    raised earlier: traffic reaches the network, so its sites' silence is no data-plane
    cut (the shutdown rule does not say so); with no block watched, the alarm counts."""
    answering = replace(ROUTES_UP, blocks_up_now=1.0, down=True)
    incident = _only(_gov_fails(SILENT), answering)
    assert not any("data-plane cut" in s for s in _statements(incident)), _statements(incident)
    assert not answering.data_dark
    unwatched = replace(ROUTES_UP, blocks_up_now=None, blocks_up_before=None, blocks=0)
    assert unwatched.data_dark  # down, and no block to say otherwise
    incident = _only(_gov_fails(SILENT), unwatched)
    assert any("data-plane cut" in s for s in _statements(incident)), _statements(incident)


def _cut_back_cut(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
    """The government sites unanswered for 100 s, back for 30 s (less than the hold after
    which an incident resolves), then unanswered again."""
    if gov(target) and (ONSET <= ts < ONSET + 100.0 or ts >= ONSET + 130.0):
        return SILENT
    return healthy(ts, vantage, target, rng)


def test_a_failure_after_a_new_withdrawal_is_a_new_incident_however_alike() -> None:
    """Both failures leave the probes unanswered: without news from the network plane the
    second is the first continuing (one incident); a withdrawal of the network's routes
    after the sites had recovered makes it a new one."""
    cut_again = ONSET + 125.0
    plain = ROUTES_UP
    [continued] = _incidents(_cut_back_cut, FixedPlane(plain), end=ONSET + 400.0)
    assert continued.start < ONSET + 10.0 and continued.end is None
    withdrawn = replace(plain, withdrawals=(replace(WITHDRAWN, t=cut_again),))
    first, second = _incidents(_cut_back_cut, FixedPlane(withdrawn), end=ONSET + 400.0)
    assert first.start < ONSET + 10.0 and first.end is not None and first.end < cut_again
    assert second.start >= ONSET + 130.0 and second.end is None
    assert set(second.services) == set(first.services)


class RoutesBackPlane(FixedPlane):
    """Network gov's routes withdrawn at the onset, seen again by `share_back` of the
    peers from 100 s after it (when the sites of `_cut_back_cut` answer again)."""

    def __init__(self, share_back: float) -> None:
        super().__init__(GONE)
        self.back = replace(GONE, visibility_now=share_back, blocks_up_now=1.0, down=False)

    def facts(
        self, networks: Sequence[str], *, onset: float, now: float
    ) -> NetworkPlaneFacts | None:
        gone = super().facts(networks, onset=onset, now=now)
        return gone if gone is None or now < ONSET + 100.0 else self.back


def test_a_failure_while_the_withdrawn_routes_are_back_is_a_new_incident() -> None:
    """The sites went unanswered with their routes withdrawn; the routes came back and the
    sites with them; the sites go unanswered again with the routes in place: not the
    withdrawal continuing (a cut of another kind) but a new incident. Routes back to
    only 60% of the peers may still explain it: one incident."""
    first, second = _incidents(_cut_back_cut, RoutesBackPlane(1.0), end=ONSET + 400.0)
    assert first.start < ONSET + 10.0 and first.end is not None and first.end < ONSET + 130.0
    assert second.start >= ONSET + 130.0 and second.end is None
    assert set(second.services) == set(first.services)
    [continued] = _incidents(_cut_back_cut, RoutesBackPlane(0.6), end=ONSET + 400.0)
    assert continued.start < ONSET + 10.0 and continued.end is None
    assert not RoutesBackPlane(0.6).back.routes_back and RoutesBackPlane(1.0).back.routes_back
    assert not replace(ROUTES_UP, visibility_now=1.0).routes_back  # nothing was withdrawn


def test_a_failure_after_its_address_is_blackholed_is_a_new_incident() -> None:
    """A blackhole community on the failing sites' address after they had recovered (an
    RTBH begun after a cut) starts a new incident; one on another address does not."""

    def incidents(prefix: str) -> list[Incident]:
        hole = SignalEvent("gov", "blackhole", ONSET + 125.0, prefix=prefix, peers=4)
        world = World()
        detector = Detector(world.config())
        detector.evidence.network_plane = FixedPlane(replace(ROUTES_UP, blackholes=(hole,)))
        stream = world.stream(_cut_back_cut, end=ONSET + 400.0)
        detector.feed_many(replace(m, address="192.0.2.20") for m in stream)
        detector.flush()
        return confirmed(detector.incidents())

    first, second = incidents("192.0.2.20/32")
    assert first.end is not None and first.end < ONSET + 125.0
    assert second.start >= ONSET + 130.0
    [continued] = incidents("192.0.2.10/32")
    assert continued.start < ONSET + 10.0 and continued.end is None


def test_blocks_dark_under_a_flood_are_no_data_plane_cut() -> None:
    """The address blocks stop answering under a flood as the services' probes do; a few
    seconds without an answer, after answers that took x27 their usual time since the
    onset, are the flood's queues, not traffic dropped on purpose."""
    silent = Features(frac_silent=1.0, loss_post=0.82, loss_recent=1.0, complete_s=6.0)
    for latency_post_ratio, cut in ((27.0, False), (-1.0, True)):
        window = replace(
            _window(
                replace(silent, latency_post_ratio=latency_post_ratio), [], {"tcp_timeout": 10}, {}
            ),
            network_plane=ROUTES_UP,
        )
        verdict = ShutdownRule().judge(window)
        statements = [] if verdict is None else [e.statement for e in verdict.evidence]
        assert any("data-plane cut" in s for s in statements) is cut, statements

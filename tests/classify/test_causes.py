"""End-to-end attribution: hand-built streams through the detector, one per cause."""

from __future__ import annotations

import random

import pytest

from detect.streams import (
    INTERVAL,
    ONSET,
    SILENT,
    Behaviour,
    Probe,
    World,
    confirmed,
    gov,
    healthy,
    target_name,
)
from netvigil.cause import Cause, Topic
from netvigil.incident import Incident
from netvigil.model import Measurement
from netvigil.outcome import Outcome, Phase

EALB = target_name("e-albania")


def _gov_fails(probe: Probe) -> Behaviour:
    def behaviour(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
        if gov(target) and ts >= ONSET:
            return probe
        return healthy(ts, vantage, target, rng)

    return behaviour


def _one_fails(probe: Probe, target_fails: str = EALB) -> Behaviour:
    def behaviour(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
        if target == target_fails and ts >= ONSET:
            return probe
        return healthy(ts, vantage, target, rng)

    return behaviour


def _flood(start: float, rng: random.Random, ts: float) -> Probe:
    """A saturated link: latency grows from `start`, then about half the probes are lost."""
    ramp = min(1.0, max(0.0, (ts - start) / 300.0))
    if ts >= start + 300.0 and rng.random() < 0.5:
        outcome = Outcome.TCP_TIMEOUT if rng.random() < 0.7 else Outcome.HTTP_TIMEOUT
        phase = Phase.CONNECT if outcome is Outcome.TCP_TIMEOUT else Phase.RESPONSE
        return Probe(outcome, None, phase=phase)
    latency = 0.02 + ramp * rng.uniform(0.2, 0.6)
    return Probe(Outcome.OK, latency, ttfb=latency + 0.03)


def volumetric(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
    if gov(target) and ts >= ONSET - 300.0:
        return _flood(ONSET - 300.0, rng, ts)
    return healthy(ts, vantage, target, rng)


def application(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
    if target == EALB and ts >= ONSET - 300.0:
        ramp = min(1.0, (ts - (ONSET - 300.0)) / 300.0)
        if ts >= ONSET:
            r = rng.random()
            if r < 0.55:
                return Probe(Outcome.HTTP_5XX, 0.02, ttfb=2.5, phase=Phase.RESPONSE)
            if r < 0.85:
                return Probe(Outcome.HTTP_TIMEOUT, 0.02, phase=Phase.RESPONSE)
            return Probe(Outcome.OK, 0.02, ttfb=1.8)
        ttfb = 0.05 + ramp * 1.5
        return Probe(Outcome.OK, 0.02 + rng.uniform(-0.002, 0.002), ttfb=ttfb)
    return healthy(ts, vantage, target, rng)


def filtered(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
    if target == target_name("news") and vantage == "local" and ts >= ONSET:
        return SILENT
    return healthy(ts, vantage, target, rng)


def vantage_down(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
    if vantage == "de" and ts >= ONSET:
        return SILENT
    return healthy(ts, vantage, target, rng)


SCENARIOS: dict[str, tuple[Behaviour, Cause, Topic]] = {
    "shutdown": (_gov_fails(SILENT), Cause.SHUTDOWN, Topic.COFATE),
    "shutdown_reject": (
        _gov_fails(Probe(Outcome.ADMIN_PROHIBITED, None, phase=Phase.CONNECT)),
        Cause.SHUTDOWN,
        Topic.TCP,
    ),
    "route_withdrawal": (
        _gov_fails(Probe(Outcome.NET_UNREACHABLE, None, phase=Phase.CONNECT)),
        Cause.ROUTE_WITHDRAWAL,
        Topic.TCP,
    ),
    "volumetric_ddos": (volumetric, Cause.VOLUMETRIC_DDOS, Topic.SHAPE),
    "application_ddos": (application, Cause.APPLICATION_DDOS, Topic.HTTP),
    "service_failure": (
        _one_fails(Probe(Outcome.TCP_REFUSED, 0.001, phase=Phase.CONNECT)),
        Cause.SERVICE_FAILURE,
        Topic.TCP,
    ),
    "dns_timeout": (
        _one_fails(Probe(Outcome.DNS_TIMEOUT, None, phase=Phase.RESOLVE)),
        Cause.DNS_FAILURE,
        Topic.DNS,
    ),
    "dns_servfail": (
        _one_fails(Probe(Outcome.DNS_SERVFAIL, 0.03, phase=Phase.RESOLVE)),
        Cause.DNS_FAILURE,
        Topic.DNS,
    ),
    "tls_cert_expired": (
        _one_fails(Probe(Outcome.TLS_CERT_EXPIRED, 0.04, phase=Phase.TLS)),
        Cause.TLS_FAILURE,
        Topic.TLS,
    ),
    "in_country_filtering": (filtered, Cause.IN_COUNTRY_FILTERING, Topic.GEOGRAPHY),
    "vantage_problem": (vantage_down, Cause.VANTAGE_PROBLEM, Topic.VANTAGE),
}


def _only_incident(world: World, behaviour: Behaviour) -> Incident:
    incidents = confirmed(world.replay(world.stream(behaviour)))
    assert len(incidents) == 1, [(i.id, i.cause, i.services) for i in incidents]
    return incidents[0]


def _explain(incident: Incident) -> str:
    lines = [f"{incident.cause} {incident.confidence:.2f} {incident.probabilities}"]
    lines += [f"  [{e.topic}] {e.weight:+.2f} {e.cause}: {e.statement}" for e in incident.evidence]
    return "\n".join(lines)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_is_attributed_to_its_cause(name: str) -> None:
    behaviour, cause, topic = SCENARIOS[name]
    incident = _only_incident(World(), behaviour)
    assert incident.cause is cause, _explain(incident)
    assert incident.confidence >= 0.6, _explain(incident)
    assert any(e.topic is topic and e.cause is cause and e.weight > 0 for e in incident.evidence)
    bare = [e.statement for e in incident.evidence if not any(c.isdigit() for c in e.statement)]
    assert bare == []


def test_shutdown_groups_the_network_and_cites_the_tax_portal() -> None:
    incident = _only_incident(World(), _gov_fails(SILENT))
    assert incident.services == ["e-albania", "parliament", "pm-office"]
    assert incident.networks == ["gov"]
    assert incident.vantages == ["de", "local", "us"]
    assert "tax-portal" not in incident.services
    assert ONSET <= incident.start < ONSET + INTERVAL
    assert incident.first_measurement_id is not None
    statements = [e.statement for e in incident.evidence]
    assert any("3 of 3 services on network gov lost within" in s for s in statements)
    assert any("tax-portal on network tax" in s and "answered throughout" in s for s in statements)
    assert any("TCP SYN" in s and "3 vantage(s) in 3 countries" in s for s in statements)
    assert any("no sign of congestion" in s for s in statements), _explain(incident)


def test_evidence_is_ordered_vantage_geography_layers_cofate_shape() -> None:
    incident = _only_incident(World(), _gov_fails(SILENT))
    order = list(Topic)
    ranks = [order.index(e.topic) for e in incident.evidence]
    assert ranks == sorted(ranks)
    assert incident.evidence[0].topic is Topic.VANTAGE


def test_albania_cause_moves_from_ddos_to_shutdown() -> None:
    cut = ONSET + 300.0

    def behaviour(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
        if gov(target) and ts >= cut:
            return SILENT
        if gov(target) and ts >= ONSET - 300.0:
            return _flood(ONSET - 300.0, rng, ts)
        return healthy(ts, vantage, target, rng)

    world = World()
    incidents = confirmed(world.replay(world.stream(behaviour, end=cut + 600.0)))
    assert len(incidents) == 1, [(i.cause, i.services) for i in incidents]
    incident = incidents[0]
    causes = [c.cause for c in incident.cause_history]
    assert causes[0] is Cause.VOLUMETRIC_DDOS, _explain(incident)
    assert causes[-1] is Cause.SHUTDOWN, _explain(incident)
    assert incident.cause is Cause.SHUTDOWN
    change = incident.cause_history[-1]
    assert cut < change.ts <= cut + 10 * INTERVAL
    assert any("a cut, not a flood" in e.statement for e in incident.evidence), _explain(incident)


def test_isolated_failures_and_latency_jitter_make_no_incident() -> None:
    def behaviour(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
        r = rng.random()
        if r < 0.02:
            return SILENT
        if r < 0.10:
            return Probe(Outcome.OK, rng.uniform(0.05, 0.4), ttfb=0.4)
        return healthy(ts, vantage, target, rng)

    world = World()
    assert world.replay(world.stream(behaviour, seed=7)) == []


def test_maintenance_window_labels_and_quiets() -> None:
    world = World(
        maintenance=[
            {
                "services": ["news"],
                "start": "2022-07-15T20:25:00Z",
                "end": "2022-07-15T21:00:00Z",
                "note": "datacentre move",
            }
        ]
    )
    incident = _only_incident(world, _one_fails(SILENT, target_name("news")))
    assert incident.maintenance == "datacentre move"
    assert incident.evidence[0].topic is Topic.MAINTENANCE
    assert "datacentre move" in incident.evidence[0].statement

    from netvigil.detect.detector import Detector

    detector = Detector(world.config())
    events = detector.feed_many(world.stream(_one_fails(SILENT, target_name("news"))))
    events += detector.flush()
    assert events
    assert all(e.quiet for e in events)


def _overloaded(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
    """A server shedding load: fast 503s, and the requests it still serves wait in line."""
    if target == EALB and ts >= ONSET:
        if rng.random() < 0.75:
            return Probe(Outcome.HTTP_5XX, 0.02, ttfb=0.005, phase=Phase.RESPONSE)
        return Probe(Outcome.OK, 0.02, ttfb=0.4)
    return healthy(ts, vantage, target, rng)


def test_fast_503s_with_slow_successes_are_an_application_ddos() -> None:
    world = World()
    stream = world.stream(_overloaded)
    for m in stream:
        if m.outcome is Outcome.HTTP_5XX:
            m.detail["status"] = 503
    incident = _only_incident_of(world, stream)
    assert incident.cause is Cause.APPLICATION_DDOS, _explain(incident)
    assert any("503 or 429" in e.statement and e.weight > 0 for e in incident.evidence)


def test_fast_500s_alone_are_a_service_failure() -> None:
    world = World()
    stream = world.stream(_one_fails(Probe(Outcome.HTTP_5XX, 0.02, ttfb=0.005)))
    for m in stream:
        if m.outcome is Outcome.HTTP_5XX:
            m.detail["status"] = 500
    incident = _only_incident_of(world, stream)
    assert incident.cause is Cause.SERVICE_FAILURE, _explain(incident)


def _only_incident_of(world: World, stream: list[Measurement]) -> Incident:
    incidents = confirmed(world.replay(stream))
    assert len(incidents) == 1, [(i.id, i.cause, i.services) for i in incidents]
    return incidents[0]

"""The streaming detector: lifecycle, grouping, ordering, persistence, seams."""

from __future__ import annotations

import json
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netvigil.cause import Cause, Topic
from netvigil.classify import RULES, Verdict
from netvigil.detect.detector import Detector
from netvigil.evidence import EvidenceWindow
from netvigil.incident import EventKind, Incident, IncidentState
from netvigil.model import Measurement
from netvigil.outcome import Outcome
from netvigil.replay import replay

from .streams import (
    GOV,
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

RECOVERY = ONSET + 200.0


def shutdown_then_recovery(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
    if gov(target) and ONSET <= ts < RECOVERY:
        return SILENT
    return healthy(ts, vantage, target, rng)


def _run(world: World, measurements: list[Measurement]) -> tuple[Detector, list[EventKind]]:
    detector = Detector(world.config(), lateness_s=30.0)
    events = detector.feed_many(measurements)
    events += detector.flush()
    return detector, [e.kind for e in events]


def test_lifecycle_open_confirm_resolve() -> None:
    world = World()
    detector, kinds = _run(world, world.stream(shutdown_then_recovery))
    [incident] = detector.incidents()
    assert kinds[0] is EventKind.OPENED
    assert EventKind.CONFIRMED in kinds
    assert kinds[-1] is EventKind.RESOLVED
    assert kinds.index(EventKind.OPENED) < kinds.index(EventKind.CONFIRMED)
    assert incident.state is IncidentState.RESOLVED
    assert incident.confirmed_at is not None
    assert ONSET <= incident.start < incident.confirmed_at < ONSET + 6 * INTERVAL
    assert incident.end is not None
    assert RECOVERY <= incident.end < RECOVERY + INTERVAL
    assert incident.cause is Cause.SHUTDOWN
    assert [c.cause for c in incident.cause_history] == [Cause.SHUTDOWN]


def test_one_incident_per_cofated_group_not_per_target() -> None:
    world = World()
    incidents = world.replay(world.stream(shutdown_then_recovery))
    assert len(incidents) == 1
    assert incidents[0].targets == sorted(target_name(s) for s in incidents[0].services)
    assert "tax-portal" not in incidents[0].services
    assert "news" not in incidents[0].services


def test_unrelated_failure_elsewhere_is_a_separate_incident() -> None:
    def behaviour(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
        if gov(target) and ts >= ONSET:
            return SILENT
        if target == target_name("news") and ts >= ONSET + 150:
            return SILENT
        return healthy(ts, vantage, target, rng)

    world = World()
    incidents = confirmed(world.replay(world.stream(behaviour)))
    assert sorted(tuple(i.services) for i in incidents) == [
        ("e-albania", "parliament", "pm-office"),
        ("news",),
    ]


def test_single_vantage_without_controls() -> None:
    world = World(vantages=("local",), controls=False)
    [incident] = world.replay(world.stream(shutdown_then_recovery))
    assert incident.vantages == ["local"]
    assert incident.services == ["e-albania", "parliament", "pm-office"]
    assert incident.cause is Cause.SHUTDOWN


def test_incident_json_round_trip_is_lossless() -> None:
    world = World()
    [incident] = world.replay(world.stream(shutdown_then_recovery))
    data = incident.to_json()
    for key in ("id", "cause", "confidence", "services", "vantages", "start", "end"):
        assert key in data
    assert data["cause_history"][0]["cause"] == "shutdown"
    assert data["evidence"][0]["topic"] == "vantage"
    text = json.dumps(data)
    again = Incident.from_json(json.loads(text))
    assert again.to_json() == data
    assert again.features.frac_silent == incident.features.frac_silent


# Arrival orders within the lateness bound: each measurement is delayed by up to
# `lateness_s` and the stream is re-sorted by arrival time.
def flood_then_cut(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
    """Albania: latency climbs, half the probes are lost, then silence, then recovery."""
    if gov(target) and ONSET - 200.0 <= ts < RECOVERY + 100.0:
        if ts >= ONSET + 100.0:
            return SILENT
        if ts >= ONSET and rng.random() < 0.5:
            return SILENT
        return Probe(latency=0.02 + min(1.0, (ts - ONSET + 200.0) / 200.0) * rng.uniform(0.2, 0.5))
    return healthy(ts, vantage, target, rng)


_SMALL = World(vantages=("local", "de"))
_STREAM = _SMALL.stream(flood_then_cut, start=ONSET - 900.0, end=RECOVERY + 250.0)
_EXPECTED = [i.to_json() for i in _SMALL.replay(_STREAM, lateness_s=25.0)]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), lateness=st.sampled_from([0.0, 5.0, 25.0]))
def test_any_order_within_lateness_gives_the_same_incidents(seed: int, lateness: float) -> None:
    rng = random.Random(seed)
    arrivals = sorted(_STREAM, key=lambda m: m.ts + rng.uniform(0.0, lateness))
    detector = Detector(_SMALL.config(), lateness_s=25.0)
    detector.feed_many(arrivals)
    detector.flush()
    assert detector.late == 0
    assert [i.to_json() for i in detector.incidents()] == _EXPECTED
    assert [len(i["cause_history"]) for i in _EXPECTED] == [2]


def test_measurements_behind_the_watermark_are_counted_and_dropped() -> None:
    world = World(vantages=("local",))
    stream = world.stream(shutdown_then_recovery, start=ONSET - 100.0, end=ONSET - 50.0)
    detector = Detector(world.config(), lateness_s=5.0)
    detector.feed_many(stream)
    old = stream[0]
    stale = Measurement(
        id="late-one",
        ts=old.ts,
        vantage=old.vantage,
        target=old.target,
        kind=old.kind,
        ok=False,
        outcome=SILENT.outcome,
    )
    assert detector.feed(stale) == []
    assert detector.late == 1


def test_advance_moves_the_watermark_without_new_data() -> None:
    world = World(vantages=("local",))
    stream = world.stream(shutdown_then_recovery, start=ONSET - 600.0, end=ONSET + 60.0)
    detector = Detector(world.config(), lateness_s=1000.0)
    assert detector.feed_many(stream) == []
    events = detector.advance(ONSET + 1060.0)
    assert [e.kind for e in events][:1] == [EventKind.OPENED]
    assert detector.watermark >= ONSET + 60.0


def test_duplicate_measurements_are_ignored() -> None:
    world = World()
    stream = world.stream(shutdown_then_recovery)
    once = [i.to_json() for i in replay(stream, world.config())]
    twice = [i.to_json() for i in replay([m for m in stream for _ in (0, 1)], world.config())]
    assert once == twice


def test_seeded_open_incident_is_continued_after_restart() -> None:
    world = World()
    stream = world.stream(shutdown_then_recovery)
    cut = next(i for i, m in enumerate(stream) if m.ts >= ONSET + 100.0)
    first = Detector(world.config())
    first.feed_many(stream[:cut])
    first.flush()
    [saved] = first.open_incidents()
    reloaded = Incident.from_json(json.loads(json.dumps(saved.to_json())))

    second = Detector(world.config(), incidents=[reloaded])
    second.feed_many(stream[cut:])
    second.flush()
    [incident] = second.incidents()
    assert incident.id == saved.id
    assert incident.start == saved.start
    assert incident.state is IncidentState.RESOLVED
    assert incident.end is not None and incident.end >= RECOVERY
    assert incident.cause is Cause.SHUTDOWN


def test_seeded_incident_resolves_when_its_targets_answer() -> None:
    world = World()
    stream = world.stream(shutdown_then_recovery)
    [done] = world.replay(stream)
    reopened = Incident.from_json({**done.to_json(), "state": "confirmed", "end": None})
    after = [m for m in stream if m.ts >= RECOVERY + 10.0]
    detector = Detector(world.config(), incidents=[reopened])
    kinds = [e.kind for e in detector.feed_many(after) + detector.flush()]
    assert kinds == [EventKind.RESOLVED]
    [incident] = detector.incidents()
    assert incident.end is not None and incident.end >= RECOVERY + 10.0


class AlwaysBlameDNS:
    """A third-party rule: plugs in the same way the built-in rules do."""

    cause = Cause.DNS_FAILURE

    def judge(self, window: EvidenceWindow) -> Verdict | None:
        verdict = Verdict(self.cause)
        verdict.add(20.0, Topic.DNS, f"{len(window.targets)} targets: a test rule says so")
        return verdict


def test_rules_are_pluggable_and_weights_tunable() -> None:
    world = World()
    stream = world.stream(shutdown_then_recovery)
    detector = Detector(world.config(), rules=[*RULES, AlwaysBlameDNS()])
    detector.feed_many(stream)
    detector.flush()
    [incident] = detector.incidents()
    assert incident.cause is Cause.DNS_FAILURE
    assert "3 targets: a test rule says so" in [e.statement for e in incident.evidence]

    tuned = Detector(world.config(), weights={"unknown.base": 50.0})
    tuned.feed_many(stream)
    tuned.flush()
    assert tuned.incidents()[0].cause is Cause.UNKNOWN


def test_brief_failure_from_one_vantage_is_withdrawn() -> None:
    def behaviour(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
        if target == target_name("news") and vantage == "local" and ONSET <= ts < ONSET + 30:
            return SILENT
        return healthy(ts, vantage, target, rng)

    world = World()
    detector = Detector(world.config())
    kinds = [e.kind for e in detector.feed_many(world.stream(behaviour)) + detector.flush()]
    assert kinds == [EventKind.OPENED, EventKind.RESOLVED]
    assert detector.incidents() == []


def test_filtering_is_confirmed_after_the_hold() -> None:
    def behaviour(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
        if target == target_name("news") and vantage == "local" and ts >= ONSET:
            return SILENT
        return healthy(ts, vantage, target, rng)

    world = World()
    [incident] = world.replay(world.stream(behaviour))
    assert incident.cause is Cause.IN_COUNTRY_FILTERING
    assert incident.vantages == ["local"]
    assert incident.confirmed_at is not None
    assert incident.confirmed_at - incident.start >= 3 * INTERVAL


def test_staged_shutdown_grows_one_incident() -> None:
    stages = {target_name("e-albania"): ONSET, target_name("pm-office"): ONSET + 120.0}
    stages[target_name("parliament")] = ONSET + 240.0

    def behaviour(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
        if target in stages and ts >= stages[target]:
            return SILENT
        return healthy(ts, vantage, target, rng)

    world = World()
    detector = Detector(world.config())
    events = detector.feed_many(world.stream(behaviour)) + detector.flush()
    [incident] = detector.incidents()
    assert incident.services == ["e-albania", "parliament", "pm-office"]
    assert ONSET <= incident.start < ONSET + INTERVAL
    grown = [len(e.incident.services) for e in events]
    assert grown[0] == 1
    assert max(grown) == 3


def test_vantage_without_controls_judged_against_its_peer() -> None:
    def behaviour(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
        if vantage == "de" and ts >= ONSET:
            return SILENT
        return healthy(ts, vantage, target, rng)

    world = World(controls=False)
    [incident] = world.replay(world.stream(behaviour))
    assert incident.cause is Cause.VANTAGE_PROBLEM
    assert incident.vantage == "de"
    assert len(incident.services) == 5
    assert any("vantage de has 5 of 5 targets down" in e.statement for e in incident.evidence)


def test_vantages_agreeing_confirm_within_two_intervals() -> None:
    world = World()
    [incident] = world.replay(world.stream(shutdown_then_recovery))
    assert incident.confirmed_at is not None
    assert incident.confirmed_at - incident.start < 2 * INTERVAL


def test_recovery_does_not_rewrite_a_confirmed_cause() -> None:
    world = World()
    detector = Detector(world.config())
    events = detector.feed_many(world.stream(shutdown_then_recovery)) + detector.flush()
    during = [e.incident.confidence for e in events if e.ts < RECOVERY]
    [incident] = detector.incidents()
    assert [c.cause for c in incident.cause_history] == [Cause.SHUTDOWN]
    assert incident.confidence >= max(during) - 0.01


def test_a_ragged_recovery_after_a_cut_does_not_read_as_a_flood() -> None:
    """A flood, then a cut (albania-2022), then routes coming back unevenly: for two
    intervals half the probes are lost and the rest answer slowly. Over the recent window
    loss is half, and since the onset answers were slow (the flood): a flood, to a rule;
    but the loss was complete and is ending, so the cause stays the cut's."""
    cut = ONSET + 60.0

    def ragged(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
        if gov(target) and ONSET <= ts < cut:
            if rng.random() < 0.4:
                return SILENT
            return Probe(Outcome.OK, 0.5 + rng.uniform(0, 0.3), ttfb=0.7)
        if gov(target) and cut <= ts < RECOVERY:
            return SILENT
        if gov(target) and RECOVERY <= ts < RECOVERY + 2 * INTERVAL:
            if rng.random() < 0.5:
                return SILENT
            return Probe(Outcome.OK, 0.4 + rng.uniform(0, 0.3), ttfb=0.6)
        return healthy(ts, vantage, target, rng)

    world = World()
    detector = Detector(world.config())
    detector.feed_many(world.stream(ragged, end=RECOVERY + 300.0))
    detector.flush()
    [incident] = detector.incidents()
    causes = [c.cause for c in incident.cause_history]
    assert Cause.SHUTDOWN in causes, incident.cause_history
    assert causes[-1] is Cause.SHUTDOWN, incident.cause_history


def _answering_as_usual_at(behaviour: Behaviour, at: float) -> bool:
    """Whether the detector finds the gov incident's paths answering as in a recovery,
    with the stream fed up to `at`."""
    world = World()
    detector = Detector(world.config(), lateness_s=0.0)
    detector.feed_many(world.stream(behaviour, end=at))
    detector.flush()  # every measurement fed reaches the histories
    [incident] = [i for i in detector.incidents() if i.end is None]
    assert set(incident.services) == set(GOV), incident.services
    return detector.evidence.answering_as_usual(incident)


def test_a_recovery_is_told_apart_from_a_flood_by_most_paths_answering_at_their_usual_time() -> (
    None
):
    def cut_then_back(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
        return shutdown_then_recovery(ts, vantage, target, rng)

    def dropping_flood(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
        # Most packets dropped, the rest answered at the usual time (a policer, no queue).
        if gov(target) and ts >= ONSET and rng.random() < 0.7:
            return SILENT
        return healthy(ts, vantage, target, rng)

    def cut_then_slow(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
        # Every probe answered again, but thirty times slower: a flood behind a lifted cut.
        if gov(target) and ONSET <= ts < RECOVERY:
            return SILENT
        if gov(target) and ts >= RECOVERY:
            return Probe(Outcome.OK, 0.6 + rng.uniform(0, 0.05), ttfb=0.7)
        return healthy(ts, vantage, target, rng)

    # One round of answers after the cut: every path back, at its usual time.
    assert _answering_as_usual_at(cut_then_back, RECOVERY + INTERVAL)
    # Part of a round (the gov paths are probed 0.37 s apart from the interval's start):
    # the five probed since answered, after every failure of the other four.
    assert _answering_as_usual_at(cut_then_back, RECOVERY + 1.5)
    # Two answers after the cut are not yet a recovery.
    assert not _answering_as_usual_at(cut_then_back, RECOVERY + 0.5)
    # Still cut: nothing answers.
    assert not _answering_as_usual_at(cut_then_back, RECOVERY - INTERVAL)
    # A flood that drops most packets: the few answers are quick, but few paths answer.
    assert not _answering_as_usual_at(dropping_flood, ONSET + 12 * INTERVAL)
    # Every path answers, all slowly: a flood, not a recovery.
    assert not _answering_as_usual_at(cut_then_slow, RECOVERY + INTERVAL)

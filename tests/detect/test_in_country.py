"""Failures seen from in-country vantages only: filtering, or a vantage in trouble.

An in-country vantage losing its own link fails everything, its controls a moment later:
until the controls tell, its failures look like in-country filtering. No outage incident
is opened on them, not even a provisional one; real filtering, with the vantage's
controls answering, still opens at once, and is confirmed before the hold when it is
seen on two paths and every vantage abroad answers."""

from __future__ import annotations

import random

from netvigil.cause import Cause
from netvigil.detect.detector import Detector
from netvigil.incident import EventKind, Incident, IncidentEvent

from .streams import INTERVAL, ONSET, SILENT, Behaviour, Probe, World, gov, healthy

LINK_DOWN_S = 90.0


def local_link_down(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
    """`local` (in-country) loses its link from ONSET for 90 s: every probe it sends,
    its control's too, times out; the vantages abroad see everything fine."""
    if vantage == "local" and ONSET <= ts < ONSET + LINK_DOWN_S:
        return SILENT
    return healthy(ts, vantage, target, rng)


def gov_filtered(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
    """From ONSET the gov sites time out from `local` only; its control answers."""
    if vantage == "local" and gov(target) and ts >= ONSET:
        return SILENT
    return healthy(ts, vantage, target, rng)


def _opened(events: list[IncidentEvent]) -> list[IncidentEvent]:
    return [e for e in events if e.kind is EventKind.OPENED]


def _confirmed_filtering(
    behaviour: Behaviour, *, world: World | None = None, end: float = ONSET + 300
) -> tuple[Incident, float]:
    """The one outage incident `behaviour` makes, checked to be filtering, and when it
    was confirmed."""
    world = world or World()
    detector = Detector(world.config(), lateness_s=5.0)
    detector.feed_many(world.stream(behaviour, end=end))
    detector.flush()
    [incident] = [i for i in detector.incidents() if i.vantage is None]
    assert incident.cause is Cause.IN_COUNTRY_FILTERING
    assert incident.confirmed_at is not None
    return incident, incident.confirmed_at


def test_a_vantage_losing_its_link_opens_no_outage_incident() -> None:
    world = World()
    detector = Detector(world.config(), lateness_s=5.0)
    events = detector.feed_many(world.stream(local_link_down, end=ONSET + 300))
    events += detector.flush()
    opened = _opened(events)
    outages = [e.incident for e in opened if e.incident.vantage is None]
    assert outages == [], [(i.cause, i.services, i.start - ONSET) for i in outages]
    [dead] = [e.incident for e in opened if e.incident.vantage == "local"]
    assert detector.incidents()[0].id == dead.id
    assert detector.incidents()[0].cause is Cause.VANTAGE_PROBLEM


def test_filtering_seen_by_a_vantage_whose_controls_answer_opens_at_once() -> None:
    world = World()
    detector = Detector(world.config(), lateness_s=5.0)
    events = detector.feed_many(world.stream(gov_filtered, end=ONSET + 300))
    events += detector.flush()
    outages = [e for e in _opened(events) if e.incident.vantage is None]
    assert outages, "the filtering opened no incident"
    # Opened once the path is down (3 probes), not after a further hold.
    assert outages[0].ts - ONSET <= 3 * INTERVAL, outages[0].ts - ONSET
    [incident] = [i for i in detector.incidents() if i.vantage is None]
    assert incident.cause is Cause.IN_COUNTRY_FILTERING


def news_filtered(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
    """From ONSET the news site (probed by HTTPS and by TCP) times out from `local` only."""
    if vantage == "local" and target.startswith("news") and ts >= ONSET:
        return SILENT
    return healthy(ts, vantage, target, rng)


def test_one_service_filtered_on_two_paths_is_confirmed_before_the_hold() -> None:
    incident, confirmed = _confirmed_filtering(news_filtered, world=World(second_probe=("news",)))
    assert incident.services == ["news"]
    # Down after 3 probes, confirmed on the abroad vantages' answers: under 4 intervals
    # from the onset, where the hold alone would take 5 or more.
    assert confirmed - ONSET < 4 * INTERVAL, (confirmed - ONSET) / INTERVAL


def test_one_path_filtered_is_confirmed_when_the_hold_has_passed_since_its_first_failure() -> None:
    # One path from one vantage: nothing corroborates it, so it waits the hold, counted
    # from its first failed probe (the time the vantages abroad had to see it too), not
    # from when the path was confirmed down 2 intervals later.
    incident, confirmed = _confirmed_filtering(news_filtered)
    assert incident.services == ["news"]
    held = (confirmed - incident.start) / INTERVAL
    assert 3.0 <= held < 3.5, held


def news_blip(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
    """The news site times out from `local` only, for 3 intervals from ONSET: 3 failed
    probes, then it answers again."""
    if vantage == "local" and target.startswith("news") and ONSET <= ts < ONSET + 3 * INTERVAL:
        return SILENT
    return healthy(ts, vantage, target, rng)


def test_a_blip_on_one_path_ending_as_the_hold_does_is_withdrawn() -> None:
    # Down after 3 failed probes, answering at the 4th, as the hold since the first
    # failure ends: the path is still down (it needs 2 answers to recover), but the
    # filtering is no longer going on, so the hold does not confirm it.
    world = World()
    detector = Detector(world.config(), lateness_s=5.0)
    events = detector.feed_many(world.stream(news_blip, end=ONSET + 300))
    events += detector.flush()
    opened = [e.incident for e in _opened(events) if e.incident.vantage is None]
    assert [i.services for i in opened] == [["news"]], "the blip opened no incident"
    assert [e for e in events if e.kind is EventKind.CONFIRMED] == []
    assert [i for i in detector.incidents() if i.vantage is None] == []


ABROAD_TOO_S = 5 * INTERVAL


def news_failing_abroad_first(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
    """The news site times out from `local` from ONSET on, and from `de` abroad too for
    the first 5 intervals: failing abroad first, then from inside the country only."""
    abroad_too = vantage == "de" and ts < ONSET + ABROAD_TOO_S
    if target.startswith("news") and ts >= ONSET and (vantage == "local" or abroad_too):
        return SILENT
    return healthy(ts, vantage, target, rng)


def test_filtering_after_a_failure_abroad_too_waits_the_hold_from_then() -> None:
    # While `de` fails too the news site is degraded, not filtered; the hold counts from
    # when the vantages abroad all answer again, not from the first failed probe.
    _, confirmed = _confirmed_filtering(news_failing_abroad_first, end=ONSET + 400)
    # `de` answers again at its first probe after 5 intervals, and recovers at its second.
    assert confirmed - ONSET >= ABROAD_TOO_S + 3 * INTERVAL, (confirmed - ONSET) / INTERVAL


def news_failing_now_and_then(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
    """From ONSET the news site times out from `local` only, answering once in between:
    failed, answered, then failing for good."""
    answered_once = ONSET + INTERVAL <= ts < ONSET + 2 * INTERVAL
    if vantage == "local" and target.startswith("news") and ts >= ONSET and not answered_once:
        return SILENT
    return healthy(ts, vantage, target, rng)


def test_the_hold_counts_from_the_failures_since_the_paths_last_answer() -> None:
    # The path's failure began at its first failed probe, but it answered once after it:
    # the hold counts from the first failed probe since that answer (2 intervals later),
    # as a path failing now and then under a flood has not failed all along.
    incident, confirmed = _confirmed_filtering(news_failing_now_and_then)
    held = (confirmed - incident.start) / INTERVAL
    assert 5.0 <= held < 5.5, held

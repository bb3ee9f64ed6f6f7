"""Overlapping failures: two different failures on one network are two incidents, each
with its own cause, and a dead vantage does not absorb an outage the others see."""

from __future__ import annotations

import random

from netvigil.cause import Cause
from netvigil.detect.detector import Detector
from netvigil.outcome import Outcome, Phase

from .streams import ONSET, SILENT, Probe, World, healthy, target_name

PORTAL = target_name("e-albania")
PARLIAMENT = target_name("parliament")


def flood_here_crash_there(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
    """From ONSET: the portal answers 503 slowly (an application flood), while Parliament,
    on the same network, refuses connections (crashed) from ONSET + 20 s."""
    if target == PORTAL and ts >= ONSET:
        return Probe(Outcome.HTTP_5XX, 0.02, ttfb=1.5 + rng.uniform(0, 0.5), phase=Phase.RESPONSE)
    if target == PARLIAMENT and ts >= ONSET + 20:
        return Probe(Outcome.TCP_REFUSED, None, phase=Phase.CONNECT)
    return healthy(ts, vantage, target, rng)


def test_two_failures_on_one_network_are_two_incidents() -> None:
    world = World()
    detector = Detector(world.config(), lateness_s=5.0)
    detector.feed_many(world.stream(flood_here_crash_there, end=ONSET + 300))
    detector.flush()
    outages = [i for i in detector.incidents() if i.vantage is None]
    by_service = {s: i for i in outages for s in i.services}
    assert set(by_service) == {"e-albania", "parliament"}
    assert by_service["e-albania"].id != by_service["parliament"].id
    assert by_service["parliament"].cause is Cause.SERVICE_FAILURE
    assert by_service["e-albania"].cause is not Cause.SERVICE_FAILURE or (
        by_service["e-albania"].cause is not by_service["parliament"].cause
    )


def dead_then_outage(ts: float, vantage: str, target: str, rng: random.Random) -> Probe | None:
    """`us` loses its own link at ONSET - 120 (everything, its control too, times out);
    the gov network is cut at ONSET, seen by the other vantages."""
    if vantage == "us" and ts >= ONSET - 120:
        return SILENT
    if target in {target_name(s) for s in ("e-albania", "pm-office", "parliament")} and ts >= ONSET:
        return SILENT
    return healthy(ts, vantage, target, rng)


def test_an_outage_while_a_vantage_is_dead_is_its_own_incident() -> None:
    world = World()
    detector = Detector(world.config(), lateness_s=5.0)
    detector.feed_many(world.stream(dead_then_outage, end=ONSET + 300))
    detector.flush()
    [dead] = [i for i in detector.incidents() if i.vantage == "us"]
    outages = [i for i in detector.incidents() if i.vantage is None]
    assert dead.cause is Cause.VANTAGE_PROBLEM
    assert all(c.cause is Cause.VANTAGE_PROBLEM for c in dead.cause_history)
    assert [set(i.services) for i in outages] == [{"e-albania", "pm-office", "parliament"}]
    assert outages[0].cause is not Cause.VANTAGE_PROBLEM
    assert "us" not in outages[0].vantages

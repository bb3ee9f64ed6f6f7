"""A route withdrawal whose routers rate-limit their ICMP errors: every vantage hears
"network unreachable" now and then, and most probes time out. It is still a withdrawal,
not a shutdown: a network cut by dropping its traffic never answers "no route"."""

from __future__ import annotations

import random

from netvigil.cause import Cause
from netvigil.detect.detector import Detector
from netvigil.outcome import Outcome, Phase

from .streams import ONSET, SILENT, Behaviour, Probe, World, gov, healthy

NO_ROUTE = Probe(Outcome.NET_UNREACHABLE, None, phase=Phase.CONNECT)


def withdrawn(share: float) -> Behaviour:
    """From ONSET the gov sites' routes are gone: a `share` of the probes hear ICMP
    network unreachable, the rest time out."""

    def behaviour(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
        if gov(target) and ts >= ONSET:
            return NO_ROUTE if rng.random() < share else SILENT
        return healthy(ts, vantage, target, rng)

    return behaviour


def _cause(share: float) -> Cause:
    world = World()
    detector = Detector(world.config(), lateness_s=5.0)
    detector.feed_many(world.stream(withdrawn(share), end=ONSET + 200))
    detector.flush()
    [outage] = [i for i in detector.incidents() if i.vantage is None]
    return outage.cause


def test_no_route_heard_now_and_then_from_everywhere_is_a_withdrawal() -> None:
    assert _cause(0.35) is Cause.ROUTE_WITHDRAWAL


def test_a_cut_that_drops_everything_is_a_shutdown() -> None:
    assert _cause(0.0) is Cause.SHUTDOWN

"""A vantage abroad that dies while a block inside the country goes on: until its own
controls say so, its failures look like the blocked services failing from abroad too.
Another vantage abroad still reaching every one of them says the network is up, so the
incident is never called a shutdown with confidence."""

from __future__ import annotations

import random

from classify.test_causes import _explain
from detect.streams import ONSET, SILENT, Probe, World, confirmed, gov, healthy
from netvigil.cause import Cause
from netvigil.detect.detector import Detector

DIES = ONSET + 180.0


def _blocked_inside_then_de_dies(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
    """gov's services blocked from the in-country vantage from ONSET; vantage `de`
    (abroad) loses everything, its controls included, from DIES; `us` sees all answer."""
    if vantage == "de" and ts >= DIES:
        return SILENT
    if vantage == "local" and gov(target) and ts >= ONSET:
        return SILENT
    return healthy(ts, vantage, target, rng)


def test_a_vantage_abroad_dying_during_a_block_is_no_shutdown() -> None:
    world = World()
    detector = Detector(world.config())
    events = detector.feed_many(world.stream(_blocked_inside_then_de_dies, end=DIES + 240.0))
    events += detector.flush()
    [block] = [i for i in confirmed(detector.incidents()) if i.vantage is None]
    assert block.start < DIES
    shown = [(e.incident.cause, e.incident.confidence) for e in events if e.incident.id == block.id]
    wrong = [(c, round(p, 2)) for c, p in shown if c is not Cause.IN_COUNTRY_FILTERING]
    assert all(p < 0.8 for _, p in wrong), wrong
    assert Cause.IN_COUNTRY_FILTERING in {c for c, _ in shown}, _explain(block)
    assert block.cause is Cause.IN_COUNTRY_FILTERING, _explain(block)

"""Each vantage's stream is judged against itself: one agent with a skewed clock neither
blinds detection for the others nor holds it back."""

from __future__ import annotations

import dataclasses
import random

from netvigil.detect.detector import Detector
from netvigil.detect.reorder import ReorderBuffer
from netvigil.model import Measurement
from netvigil.outcome import Outcome

from .streams import GOV, ONSET, SILENT, Probe, World, healthy, target_name

VANTAGES = ("local", "de", "us", "fr")
GOV_TARGETS = {target_name(s) for s in GOV}


def gov_cut(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
    if target in GOV_TARGETS and ts >= ONSET:
        return SILENT
    return healthy(ts, vantage, target, rng)


def skewed(stream: list[Measurement], vantage: str, by_s: float) -> list[Measurement]:
    """`vantage`'s clock `by_s` ahead (behind when negative); each measurement still
    arrives when it was really taken."""
    return [dataclasses.replace(m, ts=m.ts + by_s) if m.vantage == vantage else m for m in stream]


def outage_vantages(measurements: list[Measurement]) -> tuple[set[str], int, dict[str, int]]:
    world = World(vantages=VANTAGES)
    detector = Detector(world.config(), lateness_s=5.0)
    for m in measurements:
        detector.feed(m)
    detector.flush()
    gov = [i for i in detector.incidents() if i.vantage is None and "e-albania" in i.services]
    assert len(gov) == 1, [(i.id, i.services, i.vantages) for i in detector.incidents()]
    return set(gov[0].vantages), detector.late, detector.late_by_vantage


def test_a_fast_clock_does_not_make_the_others_late() -> None:
    stream = World(vantages=VANTAGES).stream(gov_cut)
    vantages, late, _ = outage_vantages(skewed(stream, "fr", 30.0))
    assert vantages == set(VANTAGES)
    assert late == 0


def test_a_slow_clock_is_late_on_its_own_and_counted() -> None:
    stream = World(vantages=VANTAGES).stream(gov_cut)
    vantages, late, by_vantage = outage_vantages(skewed(stream, "fr", -60.0))
    assert {"local", "de", "us"} <= vantages
    assert late > 0
    assert set(by_vantage) == {"fr"}


def test_the_watermark_follows_the_vantages_that_keep_up() -> None:
    buffer = ReorderBuffer(5.0)
    ids = iter(range(1000))

    def m(vantage: str, ts: float) -> Measurement:
        return Measurement(
            id=f"{next(ids):04d}",
            ts=ts,
            vantage=vantage,
            target="t",
            kind="tcp",
            ok=True,
            outcome=Outcome.OK,
        )

    for v, ts in (("a", 100.0), ("b", 100.0), ("c", 100.0), ("fast", 130.0)):
        buffer.push(m(v, ts))
    assert buffer.watermark == 95.0  # the fast clock does not move it
    for ts in (101.0, 102.0, 103.0):
        buffer.push(m("a", ts))
        buffer.push(m("b", ts))
    # "c" stops reporting: once it is more than stall_s behind the median it no longer
    # holds the watermark back (recomputed within a few advances of the others).
    for ts in range(104, 121):
        buffer.push(m("a", float(ts)))
        buffer.push(m("b", float(ts)))
    assert 105.0 <= buffer.watermark <= 115.0  # held back by c, it would be 95
    released = buffer.release(buffer.watermark)
    assert [x.ts for x in released] == sorted(x.ts for x in released)
    assert not buffer.push(m("c", 101.0))  # behind the watermark: late, for "c" only
    assert buffer.late_by == {"c": 1}

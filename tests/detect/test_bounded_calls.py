"""Bounded calls: a call given a budget stops once it is spent and carries the rest to the
next call; the events, split over the calls, are exactly those of unbounded calls."""

from __future__ import annotations

import json
import random

from netvigil.detect.detector import CallBudget, Detector
from netvigil.incident import EventKind, IncidentEvent
from netvigil.model import Measurement

from .streams import ONSET, SILENT, Probe, World, gov, healthy, target_name

TINY = CallBudget(judgements=1, measurements=3)


def two_outages(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
    """The gov network cut for 200 s; the news site down from ONSET + 100 s for 200 s."""
    if gov(target) and ONSET <= ts < ONSET + 200.0:
        return SILENT
    if target == target_name("news") and ONSET + 100.0 <= ts < ONSET + 300.0:
        return SILENT
    return healthy(ts, vantage, target, rng)


def arrivals(stream: list[Measurement], batch_s: float = 60.0) -> list[Measurement]:
    """`stream` as it arrives when the `de` agent ships its results every `batch_s`: the
    watermark waits for it, then one call releases a minute of every vantage's results."""
    out: list[Measurement] = []
    held: list[Measurement] = []
    ship_at = stream[0].ts + batch_s
    for m in stream:
        if m.ts >= ship_at:
            out += held
            held = []
            ship_at += batch_s
        if m.vantage == "de":
            held.append(m)
        else:
            out.append(m)
    return out + held


def as_json(events: list[IncidentEvent]) -> list[str]:
    return [json.dumps(e.to_json(), sort_keys=True) for e in events]


def unbounded(world: World, stream: list[Measurement]) -> tuple[list[IncidentEvent], int]:
    """The events of unbounded calls, and how many measurements they processed."""
    detector = Detector(world.config(), lateness_s=90.0)
    events: list[IncidentEvent] = []
    for i, m in enumerate(stream):
        events += detector.feed(m)
        if i % 40 == 0:
            events += detector.advance(m.ts)
    events += detector.flush()
    return events, detector.processed


def test_bounded_calls_split_the_work_and_keep_the_events() -> None:
    world = World()
    stream = arrivals(world.stream(two_outages))
    expected, processed = unbounded(world, stream)
    assert len({e.incident.id for e in expected if e.kind is EventKind.OPENED}) >= 2

    detector = Detector(world.config(), lateness_s=90.0)
    events: list[IncidentEvent] = []
    carried = 0

    def bounded(call_events: list[IncidentEvent], processed: int, judgements: int) -> None:
        nonlocal carried
        done = detector.processed - processed
        judged = detector.judgements - judgements
        assert done <= TINY.measurements
        if detector.carrying:  # it stopped early: only once its budget was spent
            carried += 1
            assert TINY.spent(judged, done)
        events.extend(call_events)

    for i, m in enumerate(stream):
        before = (detector.processed, detector.judgements)
        bounded(detector.feed(m, budget=TINY), *before)
        while detector.carrying:
            before = (detector.processed, detector.judgements)
            bounded(detector.resume(budget=TINY), *before)
        if i % 40 == 0:
            before = (detector.processed, detector.judgements)
            bounded(detector.advance(m.ts, budget=TINY), *before)
            while detector.carrying:
                before = (detector.processed, detector.judgements)
                bounded(detector.resume(budget=TINY), *before)
    events += detector.flush()

    assert carried > 10  # the budget did split calls
    assert as_json(events) == as_json(expected)
    assert detector.processed == processed


def test_a_call_made_while_work_is_carried_finishes_it_first() -> None:
    world = World()
    stream = arrivals(world.stream(two_outages))
    expected, _ = unbounded(world, stream)

    detector = Detector(world.config(), lateness_s=90.0)
    events: list[IncidentEvent] = []
    left_carrying = 0
    for i, m in enumerate(stream):
        left_carrying += detector.carrying > 0
        events += detector.feed(m, budget=TINY)  # never resumed: the next call goes on
        if i % 200 == 0:
            events += detector.advance(m.ts)
            assert not detector.carrying  # an unbounded call leaves nothing
        elif i % 40 == 0:
            left_carrying += detector.carrying > 0
            events += detector.advance(m.ts, budget=TINY)
    left_carrying += detector.carrying > 0
    events += detector.flush()

    assert left_carrying > 10
    assert not detector.carrying
    assert as_json(events) == as_json(expected)


def test_a_rescope_drops_the_carried_measurements_of_lost_targets() -> None:
    world = World()
    stream = [m for m in world.stream(two_outages) if m.ts < ONSET - 600.0]
    detector = Detector(world.config(), lateness_s=10_000.0)  # nothing released by a feed
    for m in stream:
        detector.feed(m)
    assert detector.processed == 0
    detector.advance(ONSET + 10_000.0, budget=CallBudget(judgements=1, measurements=1))
    assert detector.processed == 1
    assert detector.carrying == len(stream) - 1

    lost = target_name("news")
    detector.rescope(world.config(), [lost])
    first = min(stream, key=lambda m: (m.ts, m.id))
    assert first.target != lost
    assert detector.carrying == sum(1 for m in stream if m.target != lost) - 1
    detector.resume()
    assert not detector.carrying
    assert not detector.paths.paths_of(lost)  # nothing of it came back
    assert detector.paths.paths_of(target_name("e-albania"))

"""The detection worker holds the current state's lock for one bounded piece of work at a
time: the events are those of the detector run in one go, and a reader waiting for the
lock gets it between two pieces."""

from __future__ import annotations

import asyncio
import json
import random
import threading
import time

from detect.streams import ONSET, SILENT, Probe, World, healthy
from netvigil.detect.detector import CallBudget, Detector
from netvigil.incident import IncidentEvent
from netvigil.pipeline.worker import DetectionWorker

LATENESS_S = 10_000.0
"""Longer than the stream: nothing is released before the clock passes its end."""


def everything_down(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
    return SILENT if ts >= ONSET else healthy(ts, vantage, target, rng)


def as_json(events: list[IncidentEvent]) -> list[str]:
    return [json.dumps(e.to_json(), sort_keys=True) for e in events]


async def test_one_advance_is_split_over_holds_and_readers_get_the_lock_between() -> None:
    world = World()
    stream = world.stream(everything_down)
    end = stream[-1].ts + 1.0
    expected = Detector(world.config(), lateness_s=LATENESS_S)
    for m in stream:
        expected.feed(m)
    expected_events = expected.advance(end + LATENESS_S)

    # Nothing is released until the clock says so: then one advance releases the whole
    # stream, which the worker works through 50 measurements per hold.
    detector = Detector(world.config(), lateness_s=LATENESS_S)
    clock = {"now": stream[0].ts}
    received: list[IncidentEvent] = []
    worker = DetectionWorker(
        detector,
        received.extend,
        clock=lambda: clock["now"],
        tick_s=0.02,
        budget=CallBudget(judgements=2, measurements=50),
    )
    worker.start()
    for m in stream:
        worker.put(m)
    while worker.depth:
        await asyncio.sleep(0.01)
    assert detector.processed == 0  # all held in the reorder buffer

    seen_carrying = threading.Event()
    finished = threading.Event()

    def reader() -> None:
        deadline = time.monotonic() + 60.0
        while not finished.is_set() and time.monotonic() < deadline:
            with detector.state.lock:
                if detector.carrying:
                    seen_carrying.set()  # inside the lock, with work still to do
            time.sleep(0.0002)

    reading = threading.Thread(target=reader)
    reading.start()
    holds = worker.holds
    clock["now"] = end + LATENESS_S
    deadline = time.monotonic() + 60.0
    while detector.processed < expected.processed or detector.carrying:
        assert time.monotonic() < deadline, "the worker did not get through the stream"
        await asyncio.sleep(0.01)
    finished.set()
    reading.join()
    await worker.stop()
    await asyncio.sleep(0.05)  # the last events' hand-over to this loop

    assert worker.holds - holds >= len(stream) // 50
    assert seen_carrying.is_set()
    assert as_json(received) == as_json(expected_events)

"""The detection worker holds the current state's lock for one bounded piece of work at a
time: the events are those of the detector run in one go, and a reader waiting for the
lock gets it between two pieces."""

from __future__ import annotations

import asyncio
import gc
import json
import logging
import random
import re
import threading
import time

import pytest

from detect.streams import ONSET, SILENT, Probe, World, healthy
from netvigil.detect.detector import CallBudget, Detector
from netvigil.incident import IncidentEvent
from netvigil.pipeline import worker as worker_module
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


async def test_the_collections_on_the_thread_are_counted_apart_and_only_theirs(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The young collections the worker makes after its holds are timed as its garbage
    collection CPU (part of its busy time); one run on another thread is not; the
    worker's hook on `gc` goes with it. Holds over `LONG_HOLD_S` are logged at DEBUG
    with what they did (every hold here, the bound set to 0)."""
    monkeypatch.setattr(worker_module, "LONG_HOLD_S", 0.0)
    caplog.set_level(logging.DEBUG, logger="netvigil.detect")
    world = World()
    stream = world.stream(everything_down)
    detector = Detector(world.config(), lateness_s=1.0)
    # The clock stays at the stream's start: the stream's own watermark releases it (a
    # clock at its end would make everything not fed before the first tick late).
    worker = DetectionWorker(
        detector, lambda events: None, clock=lambda: stream[0].ts, tick_s=0.02, collect_every=50
    )
    worker.start()
    for m in stream:
        worker.put(m)
    deadline = time.monotonic() + 60.0
    while worker.depth or detector.processed < len(stream) // 2:
        assert time.monotonic() < deadline, "the worker did not get through the stream"
        await asyncio.sleep(0.01)
    await worker.stop()
    assert worker.collector is not None and sum(worker.collector.collections) >= 2
    assert 0.0 < worker.gc_s <= worker.busy_s
    counted = worker.gc_s
    gc.collect()  # on this thread, after the worker is gone
    assert worker.gc_s == counted
    assert worker._on_collection not in gc.callbacks
    holds = [r.getMessage() for r in caplog.records if "a hold of the state's lock" in r.message]
    assert len(holds) == worker.holds, holds[:3]
    assert any(
        re.fullmatch(
            r"a hold of the state's lock took [0-9.]+ ms of CPU \(feed: \d+ judgement\(s\), "
            r"[1-9]\d* measurement\(s\) processed, [0-9.]+ ms collecting garbage\)",
            h,
        )
        for h in holds
    ), holds[:3]

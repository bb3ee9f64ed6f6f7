"""The order both store writers write a drained run of queue items in (`write_steps`)."""

from __future__ import annotations

import asyncio

from netvigil.store.queued_writer import (
    IncidentRun,
    MeasurementRun,
    Segment,
    items_of,
    units_of,
    write_steps,
)
from netvigil.store.writes import Batch, IncidentWrite, Item, Prune, Stop

from .helpers import T0, make_measurement


async def test_runs_keep_incident_writes_in_order_with_measurements() -> None:
    loop = asyncio.get_running_loop()
    m1, m2, m3, m4 = (make_measurement(T0 + i) for i in range(4))
    batch = Batch([make_measurement(T0 + 10), make_measurement(T0 + 11)], loop.create_future())
    note1, note2 = IncidentWrite(), IncidentWrite()
    prune = Prune(T0, loop.create_future())
    stop = Stop()
    items: list[Item] = [m1, m2, batch, m3, note1, note2, m4, prune, stop]

    steps = list(write_steps(items))

    assert [at for at, _ in steps] == [4, 6, 7, 7, 8]
    first, notes, second, control, last = (step for _, step in steps)
    assert isinstance(first, MeasurementRun)
    assert [(seg.items, seg.owner) for seg in first.segments] == [
        ([m1, m2], None),
        (list(batch.items), batch),
        ([m3], None),
    ]
    assert isinstance(notes, IncidentRun)
    assert notes.notes == [note1, note2]
    assert isinstance(second, MeasurementRun)
    assert [seg.items for seg in second.segments] == [[m4]]
    assert control is prune
    assert last is stop


async def test_what_is_left_at_the_end_of_a_run_leaves_nothing_behind() -> None:
    m1, m2 = make_measurement(T0), make_measurement(T0 + 1)
    note = IncidentWrite()

    assert [(at, type(step)) for at, step in write_steps([m1, m2])] == [(2, MeasurementRun)]
    assert [(at, type(step)) for at, step in write_steps([m1, note])] == [
        (1, MeasurementRun),
        (2, IncidentRun),
    ]
    assert list(write_steps([])) == []


async def test_units_and_items_of_segments() -> None:
    loop = asyncio.get_running_loop()
    m1, m2 = make_measurement(T0), make_measurement(T0 + 1)
    batch = Batch([make_measurement(T0 + 2)], loop.create_future())
    segments = [Segment([m1, m2]), Segment(list(batch.items), batch)]

    assert [(u.items, u.owner) for u in units_of(segments)] == [
        ([m1], None),
        ([m2], None),
        (list(batch.items), batch),
    ]
    assert items_of(segments) == [m1, m2, batch]

"""Incidents in the store: snapshots, the event log, queries, restarts and migration."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from netvigil.cause import Cause, Evidence, Topic
from netvigil.errors import StoreError
from netvigil.incident import CauseChange, EventKind, Incident, IncidentEvent, IncidentState
from netvigil.store import IncidentQuery, MeasurementQuery, SQLiteStore, Store
from netvigil.store.sqlite import SCHEMA_VERSION, migrate

from .helpers import T0, StoreFactory, make_measurement


def make_incident(
    n: int,
    *,
    start: float,
    end: float | None = None,
    confirmed: bool = True,
    services: tuple[str, ...] = ("e-albania",),
) -> Incident:
    state = IncidentState.CONFIRMED if confirmed else IncidentState.SUSPECTED
    if end is not None:
        state = IncidentState.RESOLVED
    return Incident(
        id=f"inc-{n}",
        state=state,
        start=start,
        first_measurement_id=f"m-{n}",
        confirmed_at=start + 30 if confirmed else None,
        end=end,
        cause=Cause.SHUTDOWN,
        confidence=0.8,
        services=list(services),
        targets=[f"{s}-https" for s in services],
        networks=["gov"],
        vantages=["local", "de"],
        evidence=[
            Evidence("controls answered from 2 vantages", Topic.VANTAGE, 1.0, Cause.SHUTDOWN)
        ],
        cause_history=[CauseChange(start + 30, Cause.SHUTDOWN, 0.8)],
        probabilities={"shutdown": 0.8, "unknown": 0.2},
        updated=end or start + 30,
    )


@asynccontextmanager
async def opened(factory: StoreFactory, location: Path) -> AsyncIterator[Store]:
    """The store kept under `location`, closed on leaving."""
    store = await factory(location)
    try:
        yield store
    finally:
        await store.close()


async def test_saved_incident_round_trips_and_survives_a_restart(
    store_factory: StoreFactory, tmp_path: Path
) -> None:
    incident = make_incident(1, start=T0)
    async with opened(store_factory, tmp_path) as store:
        await store.save_incident(incident)
        assert await store.incident("inc-1") == incident
        assert await store.incident("inc-nope") is None
    async with opened(store_factory, tmp_path) as store:
        stored = await store.incident("inc-1")
        assert stored is not None
        assert stored.to_json() == incident.to_json()
        assert stored.evidence[0].statement == "controls answered from 2 vantages"


async def test_save_replaces_by_id(store: Store) -> None:
    await store.save_incident(make_incident(1, start=T0))
    await store.save_incident(make_incident(1, start=T0, end=T0 + 600))
    [only] = await store.incidents(IncidentQuery())
    assert only.state is IncidentState.RESOLVED
    assert only.end == T0 + 600


async def test_submitted_events_keep_order_with_measurements_and_log(
    store_factory: StoreFactory, tmp_path: Path
) -> None:
    suspected = make_incident(1, start=T0, confirmed=False)
    confirmed = make_incident(1, start=T0)
    resolved = make_incident(1, start=T0, end=T0 + 300)
    async with opened(store_factory, tmp_path) as store:
        store.submit(make_measurement(T0, ok=False))
        store.submit_incident_event(IncidentEvent(EventKind.OPENED, T0, suspected))
        store.submit(make_measurement(T0 + 10, ok=False))
        store.submit_incident_event(IncidentEvent(EventKind.CONFIRMED, T0 + 30, confirmed))
        store.submit_incident_event(IncidentEvent(EventKind.RESOLVED, T0 + 300, resolved))
        await store.add_incident_event(IncidentEvent(EventKind.UPDATED, T0 + 301, resolved))
        await store.flush()
        assert len(await store.measurements(MeasurementQuery())) == 2
    async with opened(store_factory, tmp_path) as store:
        events = await store.incident_events("inc-1")
        assert [(e.kind, e.ts) for e in events] == [
            (EventKind.OPENED, T0),
            (EventKind.CONFIRMED, T0 + 30),
            (EventKind.RESOLVED, T0 + 300),
            (EventKind.UPDATED, T0 + 301),
        ]
        assert events[0].incident.state is IncidentState.SUSPECTED
        assert events[1].incident == confirmed
        stored = await store.incident("inc-1")
        assert stored is not None
        assert stored.state is IncidentState.RESOLVED  # add_incident_event only appends
        assert await store.incident_events("inc-2") == []


async def test_query_filters_and_order(store: Store) -> None:
    await store.save_incident(make_incident(1, start=T0, end=T0 + 100))
    await store.save_incident(make_incident(2, start=T0 + 1000, services=("news",)))
    await store.save_incident(make_incident(3, start=T0 + 2000, confirmed=False))
    await store.save_incident(make_incident(4, start=T0 + 3000, end=T0 + 3100, confirmed=False))

    def ids(found: list[Incident]) -> list[str]:
        return [i.id for i in found]

    assert ids(await store.incidents(IncidentQuery())) == ["inc-3", "inc-2", "inc-1"]
    withdrawn = IncidentQuery(include_withdrawn=True)
    assert ids(await store.incidents(withdrawn)) == ["inc-4", "inc-3", "inc-2", "inc-1"]
    assert ids(await store.incidents(IncidentQuery(open_only=True))) == ["inc-3", "inc-2"]
    suspected = IncidentQuery(state=IncidentState.SUSPECTED)
    assert ids(await store.incidents(suspected)) == ["inc-3"]
    assert ids(await store.incidents(IncidentQuery(since=T0 + 500))) == ["inc-3", "inc-2"]
    # an incident that ended before `since` is out; one still open reaches to now
    assert ids(await store.incidents(IncidentQuery(since=T0 + 50, until=T0 + 1500))) == [
        "inc-2",
        "inc-1",
    ]
    assert ids(await store.incidents(IncidentQuery(service="news"))) == ["inc-2"]
    assert ids(await store.incidents(IncidentQuery(limit=1))) == ["inc-3"]


async def test_incident_writes_after_close_are_refused(
    store_factory: StoreFactory, tmp_path: Path
) -> None:
    store = await store_factory(tmp_path)
    await store.close()
    event = IncidentEvent(EventKind.OPENED, T0, make_incident(1, start=T0))
    with pytest.raises(StoreError, match="closed"):
        store.submit_incident_event(event)


async def test_migrates_version_2_database(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, to_version=2) == 0
    conn.execute(
        "INSERT INTO measurements (id, ts, vantage, target, kind, ok, outcome, phase, total_s,"
        " timings, detail, address) VALUES ('m1', ?, 'v1', 't', 'http', 1, 'ok', NULL, 0.1,"
        " '{}', '{}', NULL)",
        (T0,),
    )
    conn.close()
    async with await SQLiteStore.open(path) as store:
        assert len(await store.measurements(MeasurementQuery())) == 1
        assert await store.incidents(IncidentQuery()) == []
        await store.save_incident(make_incident(1, start=T0))
        assert [i.id for i in await store.incidents(IncidentQuery())] == ["inc-1"]
    conn = sqlite3.connect(path, isolation_level=None)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()

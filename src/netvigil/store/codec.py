"""Rows of the SQLite store and the objects they hold, both ways.

One JSON path writes every JSON column (`encode_json`); reading uses `json.loads`.
Row layouts follow the column lists and INSERT statements here.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import orjson

from netvigil.incident import EventKind, Incident, IncidentEvent
from netvigil.model import Measurement
from netvigil.outcome import Outcome, Phase
from netvigil.store.base import Rollup

if TYPE_CHECKING:
    from netvigil.store.writes import IncidentWrite

__all__ = [
    "INSERT_INCIDENT_EVENT",
    "INSERT_MEASUREMENT",
    "MEASUREMENT_COLUMNS",
    "READ_COLUMNS",
    "ROLLUP_COLUMNS",
    "UPSERT_INCIDENT",
    "UPSERT_LATEST",
    "Row",
    "encode_json",
    "event_row",
    "incident_event_from_row",
    "incident_from_row",
    "incident_row",
    "incident_write_rows",
    "measurement_from_row",
    "measurement_row",
    "rollup_from_row",
    "rollup_row",
]

Row = tuple[Any, ...]

MEASUREMENT_COLUMNS = (
    "id, ts, vantage, target, kind, ok, outcome, phase, total_s, timings, detail, address"
)
"""The columns of a row made by `measurement_row`, in order (index 1 is `ts`, 2 `vantage`,
3 `target`, 5 `ok`, 6 `outcome`, 8 `total_s`)."""

INSERT_MEASUREMENT = (
    f"INSERT OR IGNORE INTO measurements ({MEASUREMENT_COLUMNS}) VALUES ({', '.join('?' * 12)})"
)
"""Insert a `measurement_row`, unless its id is stored already."""
UPSERT_LATEST = (
    f"INSERT INTO latest ({MEASUREMENT_COLUMNS}) VALUES ({', '.join('?' * 12)}) "
    "ON CONFLICT (target, vantage) DO UPDATE SET "
    + ", ".join(
        f"{c} = excluded.{c}"
        for c in MEASUREMENT_COLUMNS.split(", ")
        if c not in ("target", "vantage")
    )
    + " WHERE (excluded.ts, excluded.id) > (latest.ts, latest.id)"
)
"""Make a `measurement_row` the newest of its (target, vantage) unless a newer one is."""
UPSERT_INCIDENT = (
    "INSERT OR REPLACE INTO incidents (id, state, cause, confidence, start_ts, confirmed_ts,"
    " end_ts, updated_ts, services, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
"""Store an `incident_row`, replacing the incident with its id."""
INSERT_INCIDENT_EVENT = (
    "INSERT INTO incident_events (incident, kind, ts, cause, confidence, quiet, data)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
"""Append an `event_row` to the event log."""

READ_COLUMNS = "id, ts, vantage, target, kind, ok, outcome, phase, timings, detail, address"
"""The columns `measurement_from_row` reads, in order."""

ROLLUP_COLUMNS = "target, vantage, minute, count, ok_count, latency_p50_s, latency_p95_s, outcomes"
"""The columns of the `rollups` table, in the order of `rollup_row` and `rollup_from_row`."""

_fallback_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode
_ORJSON_OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
)
_EMPTY_JSON: dict[type, str] = {dict: "{}", list: "[]"}


def encode_json(value: Any) -> str:
    """`value` as compact JSON text; a value JSON cannot hold is written as its str().

    orjson writes it; orjson writes NaN and infinities as null, so any output holding a
    null is written again by the standard encoder (which keeps them as NaN/Infinity), and
    so is anything orjson refuses (an integer beyond 64 bits).
    """
    if not value:
        return _EMPTY_JSON.get(type(value)) or _fallback_dumps(value)
    try:
        out = orjson.dumps(value, default=str, option=_ORJSON_OPTIONS)
    except TypeError:
        return _fallback_dumps(value)
    if b"null" in out:
        return _fallback_dumps(value)
    return out.decode()


def measurement_row(m: Measurement) -> Row:
    """A measurement as a row of the `measurements` table (`MEASUREMENT_COLUMNS`)."""
    timings = m.timings
    phase = m.phase
    return (
        m.id,
        m.ts,
        m.vantage,
        m.target,
        m.kind,
        1 if m.ok else 0,
        str(m.outcome),
        None if phase is None else str(phase),
        timings.get("total"),
        encode_json(timings),
        encode_json(m.detail),
        m.address,
    )


def measurement_from_row(r: Row) -> Measurement:
    """A row read with `READ_COLUMNS` as a Measurement."""
    return Measurement(
        id=r[0],
        ts=r[1],
        vantage=r[2],
        target=r[3],
        kind=r[4],
        ok=bool(r[5]),
        outcome=Outcome(r[6]),
        phase=None if r[7] is None else Phase(r[7]),
        timings=json.loads(r[8]),
        detail=json.loads(r[9]),
        address=r[10],
    )


def rollup_row(r: Rollup) -> Row:
    """A Rollup as a row of the `rollups` table (`ROLLUP_COLUMNS`)."""
    return (
        r.target,
        r.vantage,
        r.minute,
        r.count,
        r.ok_count,
        r.latency_p50_s,
        r.latency_p95_s,
        encode_json(r.outcomes),
    )


def rollup_from_row(r: Row) -> Rollup:
    """A row read with `ROLLUP_COLUMNS` as a Rollup."""
    return Rollup(
        minute=r[2],
        target=r[0],
        vantage=r[1],
        count=r[3],
        ok_count=r[4],
        latency_p50_s=r[5],
        latency_p95_s=r[6],
        outcomes=json.loads(r[7]),
    )


def incident_row(incident: Incident, data: str) -> Row:
    """An incident as a row of the `incidents` table; `data` is its JSON snapshot."""
    return (
        incident.id,
        incident.state.value,
        incident.cause.value,
        incident.confidence,
        incident.start,
        incident.confirmed_at,
        incident.end,
        incident.updated,
        encode_json(list(incident.services)),
        data,
    )


def event_row(event: IncidentEvent, data: str) -> Row:
    """An incident event as a row of the `incident_events` table; `data` is its snapshot."""
    inc = event.incident
    return (
        inc.id,
        event.kind.value,
        event.ts,
        inc.cause.value,
        inc.confidence,
        1 if event.quiet else 0,
        data,
    )


def incident_from_row(r: Row) -> Incident:
    """A row whose first column is an incident's JSON, as an Incident.

    Raises ValueError for a malformed snapshot.
    """
    try:
        return Incident.from_json(json.loads(r[0]))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"malformed incident record: {exc!r}") from exc


def incident_event_from_row(r: Row) -> IncidentEvent:
    """A row (kind, ts, quiet, snapshot JSON) of the event log as an IncidentEvent."""
    return IncidentEvent(EventKind(r[0]), r[1], incident_from_row(r[3:]), quiet=bool(r[2]))


def incident_write_rows(notes: Iterable[IncidentWrite]) -> tuple[list[Row], list[Row]]:
    """The `incidents` rows and `incident_events` rows of queued incident writes.

    An event's snapshot is serialized once, and reused for the incident row when the
    write saves that same snapshot.
    """
    incident_rows: list[Row] = []
    event_rows: list[Row] = []
    for note in notes:
        data = None
        if note.event is not None:
            data = encode_json(note.event.incident.to_json())
            event_rows.append(event_row(note.event, data))
        if note.incident is not None:
            if data is None or note.event is None or note.incident is not note.event.incident:
                data = encode_json(note.incident.to_json())
            incident_rows.append(incident_row(note.incident, data))
    return incident_rows, event_rows

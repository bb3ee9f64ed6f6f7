"""What the PostgreSQL store writes in one transaction: measurement rows (with `latest`
and their rollups) and incident snapshots and events.

Measurements go in bulk: `copy_records_to_table` into the session's staging table
`incoming`, then one round trip of statements. Ids go first into `measurement_ids` (one
row per id, whatever its time: the partitioned `measurements` can only keep (id, ts)
unique), and only the rows whose id was new are inserted and kept in `fresh`: a resend,
a duplicate in the batch or the same id with another time is stored once. `latest` is
brought up to date, and so are the rollups of the new rows, without rescanning raw rows
(new keys rolled up from `fresh`, the others marked for the next fold:
`postgres_rollups`); rows of minutes whose raw rows were pruned are merged into their
rollups at once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from netvigil.model import Measurement
from netvigil.store.codec import Row, incident_write_rows, measurement_row
from netvigil.store.postgres_rollups import create_folding, merge_pruned, roll_fresh_sql
from netvigil.store.rollup import minute_of
from netvigil.store.writes import IncidentWrite

__all__ = [
    "STAGING_COLUMNS",
    "create_staging",
    "staging_records",
    "write_incidents",
    "write_measurements",
]

STAGING_COLUMNS = [
    "seg",
    "id",
    "ts",
    "minute",
    "vantage",
    "target",
    "kind",
    "ok",
    "outcome",
    "phase",
    "total_s",
    "timings",
    "detail",
    "address",
]
"""The columns of `incoming` (and `fresh`): which part of the transaction a row came with
(`seg`), the measurement's columns, and its minute as `rollup.minute_of` computes it."""
_COLUMNS = "id, ts, vantage, target, kind, ok, outcome, phase, total_s, timings, detail, address"
_STAGING_TABLE = """(
    seg     INTEGER NOT NULL,
    id      TEXT COLLATE "C" NOT NULL,
    ts      DOUBLE PRECISION NOT NULL,
    minute  BIGINT NOT NULL,
    vantage TEXT COLLATE "C" NOT NULL,
    target  TEXT COLLATE "C" NOT NULL,
    kind    TEXT NOT NULL,
    ok      SMALLINT NOT NULL,
    outcome TEXT COLLATE "C" NOT NULL,
    phase   TEXT,
    total_s DOUBLE PRECISION,
    timings TEXT NOT NULL,
    detail  TEXT NOT NULL,
    address TEXT
) ON COMMIT DELETE ROWS"""

_INSERT_FRESH = f"""
WITH batch AS MATERIALIZED (
    SELECT DISTINCT ON (id) * FROM incoming ORDER BY id, seg, ts
), ids AS (
    INSERT INTO measurement_ids (id, ts) SELECT id, ts FROM batch
    ON CONFLICT DO NOTHING
    RETURNING id
), kept AS MATERIALIZED (
    SELECT b.* FROM batch AS b JOIN ids USING (id)
), new AS (
    INSERT INTO measurements ({_COLUMNS}) SELECT {_COLUMNS} FROM kept
)
INSERT INTO fresh SELECT * FROM kept"""
"""Keep the rows of `incoming` whose id is new (the first of each id, by part and time)
in `measurements` and `fresh`. Only ids `measurement_ids` did not have reach
`measurements`, and every id there is in `measurement_ids` with its time, so the insert
into `measurements` is a plain one, without the cost of `ON CONFLICT` on its primary key.
`_INSERT_FRESH_CAREFULLY`, for rows written again alone after a failure, has it, and
keeps in `fresh` only the rows it inserted."""
_INSERT_FRESH_CAREFULLY = _INSERT_FRESH.replace(
    f"SELECT {_COLUMNS} FROM kept\n)\nINSERT INTO fresh SELECT * FROM kept",
    f"SELECT {_COLUMNS} FROM kept ON CONFLICT DO NOTHING RETURNING id\n)\n"
    "INSERT INTO fresh SELECT kept.* FROM kept JOIN new USING (id)",
)

_UPSERT_LATEST = (
    f"INSERT INTO latest ({_COLUMNS}) SELECT DISTINCT ON (target, vantage) {_COLUMNS}"
    " FROM incoming ORDER BY target, vantage, ts DESC, id DESC"
    " ON CONFLICT (target, vantage) DO UPDATE SET "
    + ", ".join(
        f"{c} = excluded.{c}" for c in _COLUMNS.split(", ") if c not in ("target", "vantage")
    )
    + " WHERE (excluded.ts, excluded.id) > (latest.ts, latest.id)"
)

_UPSERT_INCIDENT = (
    "INSERT INTO incidents (id, state, cause, confidence, start_ts, confirmed_ts, end_ts,"
    " updated_ts, services, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10)"
    " ON CONFLICT (id) DO UPDATE SET "
    + ", ".join(
        f"{c} = excluded.{c}"
        for c in (
            [
                "state",
                "cause",
                "confidence",
                "start_ts",
                "confirmed_ts",
                "end_ts",
                "updated_ts",
                "services",
                "data",
            ]
        )
    )
)
_INSERT_INCIDENT_EVENT = (
    "INSERT INTO incident_events (incident, kind, ts, cause, confidence, quiet, data)"
    " VALUES ($1, $2, $3, $4, $5, $6, $7)"
)


async def create_staging(conn: Any) -> None:
    """Create the session's staging tables `incoming`, `fresh` and `folding` on `conn`."""
    await conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS incoming {_STAGING_TABLE}")
    await conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS fresh {_STAGING_TABLE}")
    await create_folding(conn)


def staging_records(parts: Sequence[Sequence[Measurement]]) -> list[Row]:
    """The rows of `incoming` for `parts` (part k's rows have `seg` k).

    Raises ValueError (or OverflowError) for a measurement no row can hold (a time
    that is not finite).
    """
    records: list[Row] = []
    for seg, items in enumerate(parts):
        for m in items:
            r = measurement_row(m)
            records.append((seg, r[0], r[1], minute_of(r[1]), *r[2:]))
    return records


async def write_measurements(
    conn: Any, records: Sequence[Row], parts: int, pruned_before: float, *, careful: bool = False
) -> list[int]:
    """Insert staged `records` (inside the caller's transaction), bring `latest` and the
    rollups of the new rows up to date (or mark them: `roll_fresh_sql`); returns how many
    rows of each of the `parts` were new.

    The three statements after the COPY go in one round trip (a multi-statement simple
    query: `pruned_before` is written into it as a float literal). `careful` inserts into
    `measurements` with `ON CONFLICT DO NOTHING`: for a write tried again after a failure,
    should a row there have lost its id in `measurement_ids` (rows of an early version,
    stored twice with two times, the first one pruned).
    """
    if not records:
        return [0] * parts
    insert = _INSERT_FRESH_CAREFULLY if careful else _INSERT_FRESH
    await conn.copy_records_to_table("incoming", records=records, columns=STAGING_COLUMNS)
    await conn.execute(f"{insert};\n{_UPSERT_LATEST};\n{roll_fresh_sql(pruned_before)}")
    counts = [0] * parts
    if parts == 1:
        counts[0] = int(await conn.fetchval("SELECT count(*) FROM fresh"))
    else:
        for seg, n in await conn.fetch("SELECT seg, count(*) FROM fresh GROUP BY seg"):
            counts[seg] = int(n)
    if sum(counts) and pruned_before > -math.inf:
        await merge_pruned(conn, pruned_before)
    return counts


async def write_incidents(conn: Any, notes: Sequence[IncidentWrite]) -> None:
    """Save the incident snapshots and append the events of `notes` (inside the caller's
    transaction), in order."""
    incident_rows, event_rows = incident_write_rows(notes)
    if incident_rows:
        await conn.executemany(_UPSERT_INCIDENT, incident_rows)
    if event_rows:
        await conn.executemany(_INSERT_INCIDENT_EVENT, event_rows)

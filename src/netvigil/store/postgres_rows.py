"""What the PostgreSQL store writes in one transaction: measurement rows (with their
rollups and `latest`) and incident snapshots and events.

Measurements go in bulk: `copy_records_to_table` into the session's staging table
`incoming`, then one `INSERT ... SELECT ... ON CONFLICT DO NOTHING` that skips ids
already stored (idempotent by id); the rows it did insert are kept in `fresh`. Only
those count: the rollups of the (target, vantage, minute) keys they touch are recomputed
from raw rows in the same transaction, so a resend, a duplicate or a late row never
counts twice. A row for a minute whose raw rows were pruned is merged into its stored
rollup instead (counts exact, latency quantiles kept; see `merge_rollups`).
`percentile_cont` interpolates linearly, as `rollup.quantile` (and numpy) do.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from typing import Any

from netvigil.model import Measurement
from netvigil.store.base import Rollup
from netvigil.store.codec import Row, incident_write_rows, measurement_row
from netvigil.store.rollup import RollupBuilder, merge_rollups, minute_of
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
WITH new AS (
    INSERT INTO measurements ({_COLUMNS})
    SELECT DISTINCT ON (id) {_COLUMNS} FROM incoming ORDER BY id, seg
    ON CONFLICT DO NOTHING
    RETURNING id, ts
)
INSERT INTO fresh
SELECT DISTINCT ON (i.id) i.* FROM new JOIN incoming AS i ON i.id = new.id AND i.ts = new.ts
ORDER BY i.id, i.seg"""

_UPSERT_LATEST = (
    f"INSERT INTO latest ({_COLUMNS}) SELECT DISTINCT ON (target, vantage) {_COLUMNS}"
    " FROM incoming ORDER BY target, vantage, ts DESC, id DESC"
    " ON CONFLICT (target, vantage) DO UPDATE SET "
    + ", ".join(
        f"{c} = excluded.{c}" for c in _COLUMNS.split(", ") if c not in ("target", "vantage")
    )
    + " WHERE (excluded.ts, excluded.id) > (latest.ts, latest.id)"
)

_LATENCY = "m.ok = 1 AND m.total_s > '-Infinity' AND m.total_s < 'Infinity'"
_KEY_ROWS = (
    "FROM measurements AS m WHERE m.target = k.target AND m.vantage = k.vantage"
    " AND m.ts >= k.minute AND m.ts < k.minute + 60"
)
_ROLLUP_COLUMNS = "target, vantage, minute, count, ok_count, latency_p50_s, latency_p95_s, outcomes"
_UPSERT_ROLLUP = (
    " ON CONFLICT (target, vantage, minute) DO UPDATE SET count = excluded.count,"
    " ok_count = excluded.ok_count, latency_p50_s = excluded.latency_p50_s,"
    " latency_p95_s = excluded.latency_p95_s, outcomes = excluded.outcomes"
)
_RECOMPUTE_ROLLUPS = (
    f"INSERT INTO rollups ({_ROLLUP_COLUMNS})"
    " SELECT k.target, k.vantage, k.minute, a.count, a.ok_count, a.p50, a.p95, o.outcomes"
    " FROM (SELECT DISTINCT target, vantage, minute FROM fresh"
    " WHERE minute >= $1::double precision) AS k"
    " CROSS JOIN LATERAL (SELECT count(*) AS count, coalesce(sum(m.ok), 0) AS ok_count,"
    f" percentile_cont(0.5) WITHIN GROUP (ORDER BY m.total_s) FILTER (WHERE {_LATENCY}) AS p50,"
    f" percentile_cont(0.95) WITHIN GROUP (ORDER BY m.total_s) FILTER (WHERE {_LATENCY}) AS p95"
    f" {_KEY_ROWS}) AS a"
    " CROSS JOIN LATERAL (SELECT jsonb_object_agg(x.outcome, x.n) AS outcomes FROM"
    f" (SELECT m.outcome, count(*) AS n {_KEY_ROWS} GROUP BY m.outcome) AS x) AS o" + _UPSERT_ROLLUP
)
_UPSERT_ONE_ROLLUP = (
    f"INSERT INTO rollups ({_ROLLUP_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)"
    + _UPSERT_ROLLUP
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
    """Create the session's staging tables `incoming` and `fresh` on `conn`."""
    await conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS incoming {_STAGING_TABLE}")
    await conn.execute(f"CREATE TEMP TABLE IF NOT EXISTS fresh {_STAGING_TABLE}")


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
    conn: Any, records: Sequence[Row], parts: int, pruned_before: float
) -> list[int]:
    """Insert staged `records` (inside the caller's transaction), bring `latest` and the
    rollups up to date; returns how many rows of each of the `parts` were new.

    The three statements after the COPY go in one round trip (a multi-statement simple
    query: `pruned_before` is written into it as a float literal).
    """
    if not records:
        return [0] * parts
    await conn.copy_records_to_table("incoming", records=records, columns=STAGING_COLUMNS)
    floor = repr(float(pruned_before)).replace("inf", "Infinity")
    recompute = _RECOMPUTE_ROLLUPS.replace("$1", f"'{floor}'")
    await conn.execute(f"{_INSERT_FRESH};\n{_UPSERT_LATEST};\n{recompute}")
    counts = [0] * parts
    if parts == 1:
        counts[0] = int(await conn.fetchval("SELECT count(*) FROM fresh"))
    else:
        for seg, n in await conn.fetch("SELECT seg, count(*) FROM fresh GROUP BY seg"):
            counts[seg] = int(n)
    if sum(counts) and pruned_before > -math.inf:
        await _merge_pruned(conn, pruned_before)
    return counts


async def _merge_pruned(conn: Any, pruned_before: float) -> None:
    """Merge new rows of minutes whose raw rows were pruned into their stored rollups."""
    rows = await conn.fetch(
        "SELECT target, vantage, minute, ok, outcome, total_s FROM fresh"
        " WHERE minute < $1::double precision",
        pruned_before,
    )
    builders: dict[tuple[str, str, int], RollupBuilder] = {}
    for target, vantage, minute, ok, outcome, total_s in rows:
        key = (target, vantage, int(minute))
        builders.setdefault(key, RollupBuilder()).add(bool(ok), outcome, total_s)
    for (target, vantage, minute), builder in builders.items():
        rollup = builder.build(minute, target, vantage)
        old = await conn.fetchrow(
            f"SELECT {_ROLLUP_COLUMNS} FROM rollups"
            " WHERE target = $1 AND vantage = $2 AND minute = $3",
            target,
            vantage,
            minute,
        )
        if old is not None:
            stored = Rollup(
                minute=old[2],
                target=old[0],
                vantage=old[1],
                count=old[3],
                ok_count=old[4],
                latency_p50_s=old[5],
                latency_p95_s=old[6],
                outcomes=json.loads(old[7]),
            )
            rollup = merge_rollups(stored, rollup)
        await conn.execute(
            _UPSERT_ONE_ROLLUP,
            rollup.target,
            rollup.vantage,
            rollup.minute,
            rollup.count,
            rollup.ok_count,
            rollup.latency_p50_s,
            rollup.latency_p95_s,
            json.dumps(rollup.outcomes),
        )


async def write_incidents(conn: Any, notes: Sequence[IncidentWrite]) -> None:
    """Save the incident snapshots and append the events of `notes` (inside the caller's
    transaction), in order."""
    incident_rows, event_rows = incident_write_rows(notes)
    if incident_rows:
        await conn.executemany(_UPSERT_INCIDENT, incident_rows)
    if event_rows:
        await conn.executemany(_INSERT_INCIDENT_EVENT, event_rows)

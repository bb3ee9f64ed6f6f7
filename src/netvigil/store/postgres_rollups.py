"""The PostgreSQL store's per-minute rollups: made by each write from its own rows, or marked
and folded in every few seconds.

A write never rescans raw rows (`roll_fresh_sql`, in the write's transaction): a (target,
vantage, minute) key its new rows start gets its rollup from those rows, and a key that
has a rollup already is marked in `rollups_due`. A writer then folds the marked keys
into `rollups` (`fold_due_rollups`, every `PostgresOptions.fold_every_s`): it takes the
marks and recomputes each key once from its raw rows, so a key written by many batches
in a few seconds is recomputed once, not once per batch, and a key probed once a minute
costs no rescan at all. Reads go through the view `rollups_now`, which recomputes the
keys still marked on the fly: a read sees the rows committed before it, whoever wrote
them. (A stored rollup is exact unless its key is marked.)

Several writers (collector processes) share one database safely:

- a write makes rollups with `ON CONFLICT DO NOTHING`, which waits for another write
  making the same one and then marks the key instead;
- a write marks its keys in key order with `ON CONFLICT DO UPDATE ... WHERE false`,
  which locks a mark already there (without writing it again) until the write commits;
- one fold runs at a time (a transaction-level advisory lock; a writer that finds it
  taken skips its turn: the marks wait for the next);
- a fold takes only marks nobody holds (`FOR UPDATE SKIP LOCKED`): a key marked by a
  write not yet committed stays marked, and a mark taken belongs to committed rows, which
  the recompute (a later statement, so a later snapshot) sees. A write marking a key
  being taken waits for the fold to commit, then marks it afresh.

A row for a minute whose raw rows were pruned is merged into its stored rollup instead
(counts exact, latency quantiles kept: `merge_pruned`). `percentile_cont` interpolates
linearly, as `rollup.quantile` (and numpy) do.
"""

from __future__ import annotations

import json
from typing import Any

from netvigil.store.base import Rollup
from netvigil.store.rollup import RollupBuilder, merge_rollups

__all__ = [
    "FOLD_LOCK",
    "ROLLUP_COLUMNS",
    "create_folding",
    "fold_due_rollups",
    "merge_pruned",
    "roll_fresh_sql",
]

FOLD_LOCK = 0x4E56524C
"""The advisory lock key of a fold ("NVRL"): one fold at a time per database."""

ROLLUP_COLUMNS = "target, vantage, minute, count, ok_count, latency_p50_s, latency_p95_s, outcomes"

_LATENCY = "m.ok = 1 AND m.total_s > '-Infinity' AND m.total_s < 'Infinity'"
_KEY_ROWS = (
    "FROM measurements AS m WHERE m.target = k.target AND m.vantage = k.vantage"
    " AND m.ts >= k.minute AND m.ts < k.minute + 60"
)
_UPSERT_ROLLUP = (
    " ON CONFLICT (target, vantage, minute) DO UPDATE SET count = excluded.count,"
    " ok_count = excluded.ok_count, latency_p50_s = excluded.latency_p50_s,"
    " latency_p95_s = excluded.latency_p95_s, outcomes = excluded.outcomes"
)
_TAKE_DUE = (
    "WITH taken AS (DELETE FROM rollups_due WHERE ctid IN"
    " (SELECT ctid FROM rollups_due LIMIT $1 FOR UPDATE SKIP LOCKED)"
    " RETURNING target, vantage, minute)"
    " INSERT INTO folding SELECT target, vantage, minute FROM taken"
)
_RECOMPUTE_TAKEN = (
    f"INSERT INTO rollups ({ROLLUP_COLUMNS})"
    " SELECT k.target, k.vantage, k.minute, a.count, a.ok_count, a.p50, a.p95, o.outcomes"
    " FROM folding AS k"
    " CROSS JOIN LATERAL (SELECT count(*) AS count, coalesce(sum(m.ok), 0) AS ok_count,"
    f" percentile_cont(0.5) WITHIN GROUP (ORDER BY m.total_s) FILTER (WHERE {_LATENCY}) AS p50,"
    f" percentile_cont(0.95) WITHIN GROUP (ORDER BY m.total_s) FILTER (WHERE {_LATENCY}) AS p95"
    f" {_KEY_ROWS}) AS a"
    " CROSS JOIN LATERAL (SELECT jsonb_object_agg(x.outcome, x.n) AS outcomes FROM"
    f" (SELECT m.outcome, count(*) AS n {_KEY_ROWS} GROUP BY m.outcome) AS x) AS o"
    " WHERE a.count > 0 ORDER BY k.target, k.vantage, k.minute" + _UPSERT_ROLLUP
)
_UPSERT_ONE_ROLLUP = (
    f"INSERT INTO rollups ({ROLLUP_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb)"
    + _UPSERT_ROLLUP
)


def roll_fresh_sql(floor: float) -> str:
    """The statement bringing the rollups of the rows in `fresh` up to date (minutes from
    `floor` on: older ones are merged by `merge_pruned`); see the module docs.

    A key with no rollup yet gets one from its rows in `fresh` alone: no other rows of it
    exist, since whoever wrote one made its rollup (a write making the same rollup at the
    same moment waits for this one, then finds it). A key with a rollup is marked for the
    next fold instead; only the rows of keys without one are aggregated, so a write whose
    keys all have rollups (a target probed again within its minute) aggregates nothing. A
    mark already there is locked (`DO UPDATE ... WHERE false` locks the row without
    writing it again) until the write commits. `floor` is written in as a float literal,
    so that the statement can share a round trip with others.
    """
    literal = repr(float(floor)).replace("inf", "Infinity")
    latency = "f.ok = 1 AND f.total_s > '-Infinity' AND f.total_s < 'Infinity'"
    return (
        "WITH k AS MATERIALIZED (SELECT DISTINCT target, vantage, minute FROM fresh"
        f" WHERE minute >= '{literal}'::double precision),"
        " n AS MATERIALIZED (SELECT k.target, k.vantage, k.minute FROM k WHERE NOT EXISTS"
        " (SELECT 1 FROM rollups AS r"
        " WHERE r.target = k.target AND r.vantage = k.vantage AND r.minute = k.minute)),"
        " f AS MATERIALIZED (SELECT f.* FROM fresh AS f JOIN n USING (target, vantage, minute)),"
        " a AS (SELECT f.target, f.vantage, f.minute, count(*) AS count, sum(f.ok) AS ok_count,"
        f" percentile_cont(0.5) WITHIN GROUP (ORDER BY f.total_s) FILTER (WHERE {latency}) AS p50,"
        f" percentile_cont(0.95) WITHIN GROUP (ORDER BY f.total_s) FILTER (WHERE {latency}) AS p95"
        " FROM f GROUP BY f.target, f.vantage, f.minute),"
        " o AS (SELECT target, vantage, minute, jsonb_object_agg(outcome, n) AS outcomes"
        " FROM (SELECT f.target, f.vantage, f.minute, f.outcome, count(*) AS n FROM f"
        " GROUP BY f.target, f.vantage, f.minute, f.outcome) AS x"
        " GROUP BY target, vantage, minute),"
        f" made AS (INSERT INTO rollups ({ROLLUP_COLUMNS})"
        " SELECT a.target, a.vantage, a.minute, a.count, a.ok_count, a.p50, a.p95, o.outcomes"
        " FROM a JOIN o USING (target, vantage, minute) ORDER BY target, vantage, minute"
        " ON CONFLICT DO NOTHING RETURNING target, vantage, minute)"
        " INSERT INTO rollups_due (target, vantage, minute)"
        " SELECT k.target, k.vantage, k.minute FROM k"
        " LEFT JOIN made USING (target, vantage, minute) WHERE made.target IS NULL"
        " ORDER BY k.target, k.vantage, k.minute"
        " ON CONFLICT (target, vantage, minute) DO UPDATE SET marks = rollups_due.marks"
        " WHERE false"
    )


async def create_folding(conn: Any) -> None:
    """Create the session's table of the keys a fold took (`folding`) on `conn`."""
    await conn.execute(
        'CREATE TEMP TABLE IF NOT EXISTS folding (target TEXT COLLATE "C" NOT NULL,'
        ' vantage TEXT COLLATE "C" NOT NULL, minute BIGINT NOT NULL) ON COMMIT DELETE ROWS'
    )


async def fold_due_rollups(conn: Any, *, limit: int = 100_000) -> int | None:
    """Recompute the rollups of up to `limit` marked keys and drop their marks, in one
    transaction; how many keys were folded, or None when another fold was under way."""
    async with conn.transaction():
        if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", FOLD_LOCK):
            return None
        status = await conn.execute(_TAKE_DUE, limit)
        taken = int(status.split()[-1])
        if taken:
            await conn.execute(_RECOMPUTE_TAKEN)
    return taken


async def merge_pruned(conn: Any, pruned_before: float) -> None:
    """Merge the rows in `fresh` of minutes whose raw rows were pruned into their stored
    rollups (inside the caller's transaction)."""
    rows = await conn.fetch(
        "SELECT target, vantage, minute, ok, outcome, total_s FROM fresh"
        " WHERE minute < $1::double precision",
        pruned_before,
    )
    builders: dict[tuple[str, str, int], RollupBuilder] = {}
    for target, vantage, minute, ok, outcome, total_s in rows:
        key = (target, vantage, int(minute))
        builders.setdefault(key, RollupBuilder()).add(bool(ok), outcome, total_s)
    for (target, vantage, minute), builder in sorted(builders.items()):
        rollup = builder.build(minute, target, vantage)
        old = await conn.fetchrow(
            f"SELECT {ROLLUP_COLUMNS} FROM rollups"
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

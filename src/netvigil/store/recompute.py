"""Rollups recomputed from raw rows, inside the writer's transactions.

Three cases the open minutes (`open_rollups`) do not cover:

- `refresh_rollups`: rows that arrive for a minute already closed are "late"; the
  rollups of their keys are recomputed from every raw row of those keys.
- `merge_rollups_of`: rows for a minute whose raw rows were pruned are merged into the
  stored rollup (counts exact, latency quantiles kept; see `merge_rollups`).
- `recover_rollups`: on open, the rollups of every minute that was still open when the
  last writer stopped are rebuilt from raw rows. The meta key `rollups_before` marks
  where that starts (every minute before it was closed and written); a database without
  it (new, or stopped before its first minute closed) has all its raw rows rolled up
  again, down to `pruned_before` at most. The marker is then moved to the end of the
  newest minute, so the next open only looks at what came after.
"""

from __future__ import annotations

import logging
import math
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

from netvigil.store.codec import (
    INSERT_MEASUREMENT,
    ROLLUP_COLUMNS,
    Row,
    rollup_from_row,
    rollup_row,
)
from netvigil.store.rollup import MINUTE_S, RollupBuilder, merge_rollups, minute_of

__all__ = [
    "UPSERT_ROLLUP",
    "Recovered",
    "insert_late_rows",
    "merge_rollups_of",
    "recover_rollups",
    "refresh_rollups",
    "set_meta",
]

log = logging.getLogger(__name__)

Key = tuple[str, str, int]
"""(target, vantage, minute)."""

UPSERT_ROLLUP = f"INSERT OR REPLACE INTO rollups ({ROLLUP_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
CREATE_TOUCHED = (
    "CREATE TEMP TABLE IF NOT EXISTS touched (target TEXT, vantage TEXT, minute INTEGER,"
    " PRIMARY KEY (target, vantage, minute)) WITHOUT ROWID"
)
"""The temp table `refresh_rollups` needs on its connection."""
# CROSS JOIN keeps `touched` as the outer loop, so each key is one index range scan.
_TOUCHED_ROWS = (
    "SELECT t.target, t.vantage, t.minute, m.ok, m.outcome, m.total_s "
    "FROM temp.touched AS t CROSS JOIN measurements AS m "
    "ON m.target = t.target AND m.vantage = t.vantage "
    f"AND m.ts >= t.minute AND m.ts < t.minute + {MINUTE_S}"
)


def set_meta(conn: sqlite3.Connection, key: str, value: float) -> None:
    """Store one value of the `meta` table (inside the caller's transaction)."""
    conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))


def refresh_rollups(conn: sqlite3.Connection, rows: Iterable[Row]) -> None:
    """Recompute from raw rows the rollups of every key `rows` (measurement rows) touch."""
    keys = {(r[3], r[2], minute_of(r[1])) for r in rows}
    if not keys:
        return
    conn.execute("DELETE FROM temp.touched")
    conn.executemany("INSERT INTO temp.touched VALUES (?, ?, ?)", keys)
    builders: dict[Key, RollupBuilder] = {}
    for target, vantage, minute, ok, outcome, total_s in conn.execute(_TOUCHED_ROWS):
        key = (target, vantage, minute)
        builder = builders.get(key)
        if builder is None:
            builder = builders[key] = RollupBuilder()
        builder.add(bool(ok), outcome, total_s)
    conn.executemany(
        UPSERT_ROLLUP, (rollup_row(b.build(m, t, v)) for (t, v, m), b in builders.items())
    )


def merge_rollups_of(conn: sqlite3.Connection, rows: Iterable[Row]) -> None:
    """Merge new rows into rollups whose raw rows were pruned."""
    builders: dict[Key, RollupBuilder] = {}
    for r in rows:
        key = (r[3], r[2], minute_of(r[1]))
        builders.setdefault(key, RollupBuilder()).add(bool(r[5]), r[6], r[8])
    for (target, vantage, minute), builder in builders.items():
        rollup = builder.build(minute, target, vantage)
        old = conn.execute(
            f"SELECT {ROLLUP_COLUMNS} FROM rollups WHERE target = ? AND vantage = ? AND minute = ?",
            (target, vantage, minute),
        ).fetchone()
        if old is not None:
            rollup = merge_rollups(rollup_from_row(old), rollup)
        conn.execute(UPSERT_ROLLUP, rollup_row(rollup))


def insert_late_rows(conn: sqlite3.Connection, rows: list[Row], pruned_before: float) -> int:
    """Insert late rows and bring their rollups up to date; returns how many were new.

    A row whose minute still has all its raw rows (it starts at or after
    `pruned_before`) has its key recomputed; one whose minute was pruned is merged.
    """
    new = 0
    fresh = [r for r in rows if minute_of(r[1]) >= pruned_before]
    if fresh:
        before = conn.total_changes
        conn.executemany(INSERT_MEASUREMENT, fresh)
        new += conn.total_changes - before
        refresh_rollups(conn, fresh)
    if len(fresh) < len(rows):
        pruned = [r for r in rows if minute_of(r[1]) < pruned_before]
        pruned_new = [r for r in pruned if conn.execute(INSERT_MEASUREMENT, r).rowcount == 1]
        new += len(pruned_new)
        merge_rollups_of(conn, pruned_new)
    return new


@dataclass(frozen=True, slots=True)
class Recovered:
    """Where a writer starts after `recover_rollups`."""

    memory_from: float
    """Minutes from this one on are accumulated in memory; older ones are late."""
    unmanaged: frozenset[int]
    """Minutes at or after `memory_from` with rows stamped past `cap` (late)."""
    rebuilt: int
    """How many raw rows had their rollups rebuilt."""


def recover_rollups(
    conn: sqlite3.Connection, *, pruned_before: float, cap: float, label: str
) -> Recovered:
    """Rebuild the rollups a stopped writer may have left missing or stale; see the module
    docstring. `cap`: rows stamped after it do not close minutes. Raises sqlite3.Error.
    """
    row = conn.execute("SELECT value FROM meta WHERE key = 'rollups_before'").fetchone()
    # Minutes before `pruned_before` lost raw rows: their rollups are merged, not rebuilt.
    start = -math.inf if not math.isfinite(pruned_before) else -(-pruned_before // MINUTE_S)
    start *= MINUTE_S
    if row is not None:
        start = max(start, float(row[0]))
    stale = conn.execute(
        "SELECT id, ts, vantage, target FROM measurements WHERE ts >= ?", (start,)
    ).fetchall()
    (newest,) = conn.execute("SELECT max(ts) FROM measurements WHERE ts <= ?", (cap,)).fetchone()
    # Rows stamped too far ahead to close minutes are never accumulated: their minutes
    # stay "unmanaged" (recomputed from raw rows), so one bad clock cannot push every
    # later row onto the late path.
    memory_from = -math.inf if newest is None else float(minute_of(newest) + MINUTE_S)
    unmanaged = frozenset(
        minute_of(ts)
        for (ts,) in conn.execute("SELECT DISTINCT ts FROM measurements WHERE ts > ?", (cap,))
    )
    if stale:
        log.info("%s: rebuilding rollups of %d recent measurements", label, len(stale))
    if stale or (math.isfinite(memory_from) and (row is None or memory_from > row[0])):
        try:
            conn.execute("BEGIN IMMEDIATE")
            refresh_rollups(conn, stale)
            if math.isfinite(memory_from) and (row is None or memory_from > row[0]):
                set_meta(conn, "rollups_before", memory_from)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return Recovered(memory_from, unmanaged, len(stale))

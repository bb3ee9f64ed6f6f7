"""Measurement rows and their per-minute rollups, written in transactions on the
SQLite write connection; prunes of old rows.

Rollups are kept incrementally (`netvigil.store.open_rollups`): a minute's rollups are
written once when it closes, open ones that changed every `rollup_refresh_s`, and all of
them when asked (`everything`). A row for a minute already closed is "late": the rollups
of its keys are recomputed from raw rows in the same transaction
(`netvigil.store.recompute`), and a row for a pruned minute is merged into its rollup.
Memory (the open minutes) only changes once a transaction commits, so a transaction that
fails can be tried again as it was.
"""

from __future__ import annotations

import logging
import math
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path

from netvigil.errors import StoreError
from netvigil.model import Measurement
from netvigil.store.codec import INSERT_MEASUREMENT, UPSERT_LATEST, Row, measurement_row
from netvigil.store.open_rollups import OpenMinutes, Pair, Stage
from netvigil.store.recompute import (
    CREATE_TOUCHED,
    UPSERT_ROLLUP,
    insert_late_rows,
    recover_rollups,
    set_meta,
)
from netvigil.store.signals import prune_signals
from netvigil.store.write_failures import is_storage_error
from netvigil.store.writer_settings import WriterSettings

__all__ = ["RowWriter"]

log = logging.getLogger("netvigil.store.sqlite_writer")


class RowWriter:
    """Writes measurement rows, rollups and prunes of the database at `path` on the
    connection each call is handed (the writer thread's), keeping the open minutes.

    `now` is the wall clock (prunes, how far ahead a row may be), `monotonic` times
    rollup refreshes. `committed` is called after each commit; `storage_failed(what, exc)`
    when writing rollups or pruning fails on the database file (other failures are
    logged here). Both are raised as StoreError.
    """

    def __init__(
        self,
        path: Path,
        *,
        settings: WriterSettings,
        now: Callable[[], float],
        monotonic: Callable[[], float],
        committed: Callable[[], None],
        storage_failed: Callable[[str, Exception], None],
    ) -> None:
        self.path = path
        self.settings = settings
        self.last_prune = -math.inf
        """When the last prune started (wall clock)."""
        self._now = now
        self._monotonic = monotonic
        self._committed = committed
        self._storage_failed = storage_failed
        self._refreshed_at = monotonic()
        """When open rollups were last all written (`rollup_refresh_s`)."""
        self._pruned_before = -math.inf
        self._minutes = OpenMinutes()

    def recover(self, conn: sqlite3.Connection) -> None:
        """Read what pruning left and rebuild rollups a stopped writer left missing or
        stale (`recover_rollups`). Raises sqlite3.Error."""
        conn.execute(CREATE_TOUCHED)
        row = conn.execute("SELECT value FROM meta WHERE key = 'pruned_before'").fetchone()
        if row is not None:
            self._pruned_before = float(row[0])
        recovered = recover_rollups(
            conn,
            pruned_before=self._pruned_before,
            cap=self._now() + self.settings.max_ahead_s,
            label=str(self.path),
        )
        self._minutes = OpenMinutes(
            memory_from=recovered.memory_from, unmanaged=recovered.unmanaged
        )

    def has_dirty(self) -> bool:
        """Whether open rollups changed since they were last written."""
        return self._minutes.has_dirty()

    def _refresh_due(self) -> bool:
        return self._monotonic() - self._refreshed_at >= self.settings.rollup_refresh_s

    def commit(
        self,
        conn: sqlite3.Connection,
        parts: Sequence[Sequence[Measurement]],
        *,
        everything: bool = False,
        close_before: float = -math.inf,
    ) -> list[int]:
        """One transaction for `parts`; returns each one's count of new rows.

        Open minutes before `close_before` are closed too; with `everything` (or when
        a refresh is due) every changed open rollup is written. Memory (open rollups) is
        only changed once the transaction has committed. Raises what SQLite raised.
        """
        stage = Stage(self._now() + self.settings.max_ahead_s)
        everything = everything or self._refresh_due()
        try:
            conn.execute("BEGIN IMMEDIATE")
            counts = [self._insert(conn, items, stage) for items in parts]
            rows, plan = self._minutes.plan(
                stage,
                everything=everything,
                close_before=close_before,
                lateness_s=self.settings.lateness_s,
            )
            if rows:
                conn.executemany(UPSERT_ROLLUP, rows)
            if plan.closing:
                set_meta(conn, "rollups_before", plan.memory_from)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self._committed()
        self._minutes.apply(plan)
        if everything:
            self._refreshed_at = self._monotonic()
        return counts

    def close_minutes(self, conn: sqlite3.Connection, before: float) -> None:
        """Write and forget the open minutes that start before `before` (inf: all).

        Like any commit, it also writes the changed open rollups when they are due.
        """
        if self._minutes.has_minute_before(before) or self._refresh_due():
            try:
                self.commit(conn, [], close_before=before)
            except Exception as exc:
                error = StoreError(f"{self.path}: could not write rollups: {exc}")
                if is_storage_error(exc):
                    self._storage_failed("rollups", exc)
                else:
                    log.error("%s", error)
                raise error from exc

    def _insert(self, conn: sqlite3.Connection, items: Sequence[Measurement], stage: Stage) -> int:
        """Insert rows (inside a transaction); returns how many were new.

        New rows of open minutes go to `stage`; the rollups of late rows are brought up
        to date here (see the module docstring).
        """
        if not items:
            return 0
        rows = [measurement_row(m) for m in items]
        memory, late = self._minutes.split(rows, self._pruned_before)
        new = 0
        if memory:
            new += self._insert_open(conn, memory, stage)
        if late:
            new += insert_late_rows(conn, late, self._pruned_before)
        newest: dict[Pair, Row] = {}
        for r in rows:
            pair = (r[3], r[2])
            seen = newest.get(pair)
            if seen is None or (r[1], r[0]) > (seen[1], seen[0]):
                newest[pair] = r
        conn.executemany(UPSERT_LATEST, newest.values())
        return new

    def _insert_open(self, conn: sqlite3.Connection, rows: list[Row], stage: Stage) -> int:
        """Insert rows of open minutes and stage the new ones; returns how many were new.

        All are inserted at once; only when some id was already stored (a resend) are
        they inserted again one by one, to learn which ones were new.
        """
        conn.execute("SAVEPOINT open_rows")
        before = conn.total_changes
        conn.executemany(INSERT_MEASUREMENT, rows)
        if conn.total_changes - before != len(rows):
            conn.execute("ROLLBACK TO open_rows")
            rows = [r for r in rows if conn.execute(INSERT_MEASUREMENT, r).rowcount == 1]
        conn.execute("RELEASE open_rows")
        stage.add(rows)
        return len(rows)

    def prune(self, conn: sqlite3.Connection, older_than: float) -> int:
        """Delete raw rows older than `older_than` in chunks, then the network signals older
        than it (`prune_signals`); raises StoreError. Returns how many measurements went.

        Open minutes before `older_than` are closed first, so that rows arriving for
        them later are merged into their stored rollups.
        """
        self.last_prune = self._now()
        self.close_minutes(conn, older_than)
        deleted = 0
        chunk = self.settings.prune_chunk
        try:
            while True:
                conn.execute("BEGIN IMMEDIATE")
                if older_than > self._pruned_before:
                    set_meta(conn, "pruned_before", older_than)
                n = conn.execute(
                    "DELETE FROM measurements WHERE id IN"
                    " (SELECT id FROM measurements WHERE ts < ? LIMIT ?)",
                    (older_than, chunk),
                ).rowcount
                conn.execute("COMMIT")
                self._committed()
                self._pruned_before = max(self._pruned_before, older_than)
                deleted += n
                if n < chunk:
                    if prune_signals(conn, older_than):
                        self._committed()
                    return deleted
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            error = StoreError(f"{self.path}: prune failed: {exc}")
            if is_storage_error(exc):
                self._storage_failed("a prune", exc)
            else:
                log.error("%s", error)
            raise error from exc

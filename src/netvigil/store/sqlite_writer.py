"""The writer thread of SQLiteStore: the only write connection of a database.

The event loop `put()`s work on its queue (`netvigil.store.writes`); the thread takes
whatever has queued up, in order, and writes it as one transaction, so batching follows
load. Submitted measurements wait up to `WriterSettings.group_commit_s` to share a
transaction; anything someone waits on is written at once. Each write upserts the
`latest` table.

Rollups are kept incrementally (`netvigil.store.open_rollups`): a minute's rollups are
written once when it closes, open ones that changed every `rollup_refresh_s`, and all
of them by `add()`, `flush()` and `close()` (so what those return is visible to
readers). A row for a minute already closed is "late": the rollups of its keys are
recomputed from raw rows in the same transaction (`netvigil.store.recompute`), and a
row for a pruned minute is merged into its rollup. Results are the same whatever the
batching: memory only changes once a transaction commits. On open, rollups a stopped
writer left missing or stale are rebuilt from raw rows (`recover_rollups`).
Incident snapshots and events, and admin table changes, are written in queue order
with the measurements around them, in their own transactions.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import math
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netvigil.errors import StoreError
from netvigil.model import Measurement
from netvigil.store.codec import (
    INSERT_INCIDENT_EVENT,
    INSERT_MEASUREMENT,
    UPSERT_INCIDENT,
    UPSERT_LATEST,
    Row,
    incident_write_rows,
    measurement_row,
)
from netvigil.store.open_rollups import OpenMinutes, Pair, Stage
from netvigil.store.recompute import (
    CREATE_TOUCHED,
    UPSERT_ROLLUP,
    insert_late_rows,
    recover_rollups,
    set_meta,
)
from netvigil.store.schema import connect_writer
from netvigil.store.writes import AdminWrite, Batch, IncidentWrite, Item, Stop, resolve

__all__ = ["DEFAULT_SETTINGS", "SQLiteWriter", "WriterSettings"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WriterSettings:
    """The writer's timing and sizes; the defaults are what `netvigil run` uses."""

    group_commit_s: float = 0.5
    """Submitted measurements wait up to this long to share a transaction (group commit).

    Each commit appends every page it changed to the WAL, so many small transactions
    cost far more CPU than fewer larger ones. `add()`, `flush()`, incident and admin
    writes, prunes and `close()` are written at once (with whatever queued before them).
    """
    max_transaction: int = 20_000
    """The most queued items the writer folds into one transaction."""
    prune_every_s: float = 60.0
    """With a retention set, the writer prunes at most this often."""
    prune_chunk: int = 50_000
    """Rows deleted per transaction while pruning, so writes are not held up long."""
    lateness_s: float = 60.0
    """A minute's rollups are written once a measurement this long past its end is written.

    Rows for a minute that has closed are still counted exactly (recomputed from raw
    rows), only at a higher cost per row.
    """
    rollup_refresh_s: float = 10.0
    """Open rollups that changed are written at least this often (how stale readers see them)."""
    max_ahead_s: float = 300.0
    """Measurements stamped further than this ahead of the writer's clock do not close minutes."""


DEFAULT_SETTINGS = WriterSettings()
"""The settings `netvigil run` uses."""


@dataclass(slots=True)
class _Segment:
    """Consecutive queued measurements written together; `owner` gets the count of new ones."""

    items: list[Measurement] = field(default_factory=list)
    owner: Batch | None = None


class SQLiteWriter:
    """The thread owning the write connection of the database at `path`.

    `now` is the wall clock (prunes, how far ahead a row may be), `monotonic` times group
    commits and refreshes. `ready` completes once the database is open and migrated (or
    fails with StoreError). `failed` is set when the thread stopped on an unexpected error.
    """

    def __init__(
        self,
        path: Path,
        *,
        retention_s: float | None,
        now: Callable[[], float],
        settings: WriterSettings = DEFAULT_SETTINGS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self.retention_s = retention_s
        self.settings = settings
        self.dropped = 0
        """Submitted measurements lost because they could not be written (logged)."""
        self.incidents_dropped = 0
        """Submitted incident events lost because they could not be written (logged)."""
        self.failed: BaseException | None = None
        self.pending: deque[Item] = deque()
        self.ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._now = now
        self._monotonic = monotonic
        self._wake = threading.Event()
        self._urgent = threading.Event()
        """Set when queued work has someone waiting on it: no group-commit delay then."""
        self._last_commit = -math.inf
        self._refreshed_at = monotonic()
        """When open rollups were last all written (`rollup_refresh_s`)."""
        self._pruned_before = -math.inf
        self._last_prune = -math.inf
        self._minutes = OpenMinutes()
        self._thread = threading.Thread(target=self._run, name="netvigil-store-write", daemon=True)

    def start(self) -> None:
        """Start the thread; wait on `ready`."""
        self._thread.start()

    def put(self, item: Item) -> None:
        """Queue work; safe from any thread, never blocks."""
        self.pending.append(item)
        if type(item) is not Measurement:
            self._urgent.set()
        if not self._wake.is_set():
            self._wake.set()

    def join(self) -> None:
        """Block until the thread has ended (after a `Stop`, or a failure)."""
        self._thread.join()

    def _run(self) -> None:
        """The writer thread: open and migrate, then write queued work until stopped."""
        try:
            conn = self._connect()
        except StoreError as exc:
            self.failed = exc
            self.ready.set_exception(exc)
            return
        self.ready.set_result(None)
        try:
            self._write_loop(conn)
        except BaseException as exc:  # a bug: fail loudly rather than hang callers
            log.exception("store writer stopped")
            self.failed = exc
            while self.pending:
                item = self.pending.popleft()
                future = item.future if not isinstance(item, Measurement | Stop) else None
                if future is not None:
                    resolve(future, StoreError(f"{self.path}: store writer stopped: {exc}"))
        finally:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("PRAGMA optimize")
            conn.close()

    def _connect(self) -> sqlite3.Connection:
        """Open the write connection (`connect_writer`) and rebuild stale rollups."""
        conn = connect_writer(self.path)
        try:
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
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"{self.path}: not a usable netvigil database: {exc}") from exc
        self._minutes = OpenMinutes(
            memory_from=recovered.memory_from, unmanaged=recovered.unmanaged
        )
        return conn

    def _write_loop(self, conn: sqlite3.Connection) -> None:
        settings = self.settings
        while True:
            timeout = None if self.retention_s is None else settings.prune_every_s
            if self._minutes.has_dirty():
                timeout = min(timeout or settings.rollup_refresh_s, settings.rollup_refresh_s)
            if not self._wake.wait(timeout) and self._minutes.has_dirty():
                with contextlib.suppress(StoreError):  # logged; tried again next time
                    self._close_minutes(conn, -math.inf)  # refreshes the open ones
            self._wake.clear()
            delay = self._last_commit + settings.group_commit_s - self._monotonic()
            if delay > 0 and self.pending:
                self._urgent.wait(delay)
            self._urgent.clear()
            self._last_commit = self._monotonic()
            while True:
                if (
                    self.retention_s is not None
                    and self._now() - self._last_prune >= settings.prune_every_s
                ):
                    with contextlib.suppress(StoreError):  # logged; tried again next time
                        self._prune(conn, self._now() - self.retention_s)
                if not self.pending:
                    break
                items: list[Item] = []
                while self.pending and len(items) < settings.max_transaction:
                    items.append(self.pending.popleft())
                if self._process(conn, items):
                    return

    def _process(self, conn: sqlite3.Connection, items: list[Item]) -> bool:
        """Write one drained run of queue items in order; True when told to stop."""
        segments: list[_Segment] = []
        notes: list[IncidentWrite] = []
        for item in items:
            if isinstance(item, IncidentWrite):
                self._write(conn, segments)
                segments = []
                notes.append(item)
                continue
            if notes:
                self._write_incidents(conn, notes)
                notes = []
            if isinstance(item, Measurement):
                if not segments or segments[-1].owner is not None:
                    segments.append(_Segment())
                segments[-1].items.append(item)
            elif isinstance(item, Batch):
                segments.append(_Segment(list(item.items), item))
            else:
                self._write(conn, segments)
                segments = []
                if isinstance(item, Stop):
                    with contextlib.suppress(StoreError):  # logged
                        self._close_minutes(conn, math.inf)
                    return True
                if isinstance(item, AdminWrite):
                    self._write_admin(conn, item)
                    continue
                try:
                    resolve(item.future, self._prune(conn, item.older_than))
                except StoreError as exc:
                    resolve(item.future, exc)
        self._write(conn, segments)
        self._write_incidents(conn, notes)
        return False

    def _write_admin(self, conn: sqlite3.Connection, item: AdminWrite[Any]) -> None:
        """Run one admin table change in its own transaction; report to its future."""
        try:
            conn.execute("BEGIN IMMEDIATE")
            result = item.run(conn)
            conn.execute("COMMIT")
        except Exception as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            error: BaseException = exc
            if isinstance(exc, sqlite3.Error):
                error = StoreError(f"{self.path}: admin table write failed: {exc}")
            resolve(item.future, error)
            return
        resolve(item.future, result)

    def _write_incidents(self, conn: sqlite3.Connection, notes: list[IncidentWrite]) -> None:
        """Write incident snapshots and events in one transaction (each alone on failure)."""
        if not notes:
            return
        try:
            self._commit_incidents(conn, notes)
        except Exception:
            for note in notes:
                try:
                    self._commit_incidents(conn, [note])
                except Exception as exc:
                    error = StoreError(f"{self.path}: could not write an incident: {exc}")
                    if note.future is None:
                        self.incidents_dropped += 1
                        log.error("%s", error)
                    else:
                        resolve(note.future, error)
                else:
                    if note.future is not None:
                        resolve(note.future, 1)
            return
        for note in notes:
            if note.future is not None:
                resolve(note.future, 1)

    def _commit_incidents(self, conn: sqlite3.Connection, notes: list[IncidentWrite]) -> None:
        incident_rows, event_rows = incident_write_rows(notes)
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(UPSERT_INCIDENT, incident_rows)
            conn.executemany(INSERT_INCIDENT_EVENT, event_rows)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def _write(self, conn: sqlite3.Connection, segments: list[_Segment]) -> None:
        """Insert segments in one transaction and update rollups and `latest`.

        When that fails, each batch and each submitted measurement is retried alone, so
        a bad one fails only itself: a batch is refused whole (its `add()` raises), a
        submitted measurement is dropped and logged.
        """
        if not segments:
            return
        try:
            counts = self._commit(conn, segments)
        except Exception:
            units = [
                part
                for seg in segments
                for part in ([seg] if seg.owner is not None else [_Segment([m]) for m in seg.items])
            ]
            dropped = self.dropped
            errors = [e for e in (self._write_alone(conn, u) for u in units) if e is not None]
            if self.dropped > dropped:
                log.error(
                    "%s: dropped %d submitted measurements; first error: %s",
                    self.path,
                    self.dropped - dropped,
                    errors[0],
                )
            return
        for seg, count in zip(segments, counts, strict=True):
            if seg.owner is not None:
                resolve(seg.owner.future, count)

    def _write_alone(self, conn: sqlite3.Connection, seg: _Segment) -> StoreError | None:
        """Write one segment in its own transaction; report to its owner or count a drop."""
        try:
            [count] = self._commit(conn, [seg])
        except Exception as exc:
            error = StoreError(f"{self.path}: could not write {len(seg.items)} measurements: {exc}")
            if seg.owner is None:
                self.dropped += len(seg.items)
            else:
                resolve(seg.owner.future, error)
            return error
        if seg.owner is not None:
            resolve(seg.owner.future, count)
        return None

    def _refresh_due(self) -> bool:
        return self._monotonic() - self._refreshed_at >= self.settings.rollup_refresh_s

    def _commit(
        self,
        conn: sqlite3.Connection,
        segments: list[_Segment],
        *,
        close_before: float = -math.inf,
    ) -> list[int]:
        """One transaction for `segments`; returns each one's count of new rows.

        Open minutes before `close_before` are closed too. Memory (open rollups) is
        only changed once the transaction has committed.
        """
        stage = Stage(self._now() + self.settings.max_ahead_s)
        everything = any(seg.owner is not None for seg in segments) or self._refresh_due()
        try:
            conn.execute("BEGIN IMMEDIATE")
            counts = [self._insert(conn, seg.items, stage) for seg in segments]
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
        self._minutes.apply(plan)
        if everything:
            self._refreshed_at = self._monotonic()
        return counts

    def _close_minutes(self, conn: sqlite3.Connection, before: float) -> None:
        """Write and forget the open minutes that start before `before` (inf: all).

        Like any commit, it also writes the changed open rollups when they are due.
        """
        if self._minutes.has_minute_before(before) or self._refresh_due():
            try:
                self._commit(conn, [], close_before=before)
            except Exception as exc:
                error = StoreError(f"{self.path}: could not write rollups: {exc}")
                log.error("%s", error)
                raise error from exc

    def _insert(self, conn: sqlite3.Connection, items: list[Measurement], stage: Stage) -> int:
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

    def _prune(self, conn: sqlite3.Connection, older_than: float) -> int:
        """Delete raw rows older than `older_than` in chunks; raises StoreError.

        Open minutes before `older_than` are closed first, so that rows arriving for
        them later are merged into their stored rollups.
        """
        self._last_prune = self._now()
        self._close_minutes(conn, older_than)
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
                self._pruned_before = max(self._pruned_before, older_than)
                deleted += n
                if n < chunk:
                    return deleted
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            error = StoreError(f"{self.path}: prune failed: {exc}")
            log.error("%s", error)
            raise error from exc

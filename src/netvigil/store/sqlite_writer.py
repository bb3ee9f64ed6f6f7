"""The writer thread of SQLiteStore: the only write connection of a database.

The event loop `put()`s work on its queue (`netvigil.store.writes`); the thread takes
whatever has queued up, in order, and writes it as one transaction, so batching follows
load. Submitted measurements wait up to `WriterSettings.group_commit_s` to share a
transaction; anything someone waits on is written at once. Each write upserts the
`latest` table.

Measurement rows and their rollups are written by `RowWriter` (`netvigil.store.row_writer`):
rollups incrementally, all of them by `add()`, `flush()` and `close()` (so what those
return is visible to readers); results are the same whatever the batching. On open,
rollups a stopped writer left missing or stale are rebuilt from raw rows.
Incident snapshots and events, and admin table changes, are written in queue order
with the measurements around them, in their own transactions
(`queued_writer.write_steps`, the order both writers share).

A write that fails on the database file itself (a full disk, an I/O error, a lock held
too long; `is_storage_error`) starts an outage: what nobody waits on (submitted
measurements and incident events) stays queued and is tried again every
`retry_every_s`, at most `max_backlog` items (the oldest beyond that are dropped and
counted); callers waiting on a write (`add()`, `flush()`, admin changes) are refused at
once. `WriteFailures` logs the outage calmly. A `Stop` during an outage is one last
try: what still cannot be written is counted in one line, and the thread ends.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import math
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from netvigil.errors import StoreError
from netvigil.model import Measurement
from netvigil.store.codec import (
    INSERT_INCIDENT_EVENT,
    UPSERT_INCIDENT,
    incident_write_rows,
)
from netvigil.store.queued_writer import (
    IncidentRun,
    MeasurementRun,
    Outage,
    QueuedWriter,
    Segment,
    items_of,
    resolve_counts,
    resolve_written,
    units_of,
    write_steps,
)
from netvigil.store.row_writer import RowWriter
from netvigil.store.schema import connect_writer
from netvigil.store.write_failures import WriteFailures, is_storage_error
from netvigil.store.writer_settings import DEFAULT_SETTINGS, WriterSettings
from netvigil.store.writes import AdminWrite, IncidentWrite, Item, Stop, resolve

__all__ = ["DEFAULT_SETTINGS", "SQLiteWriter", "WriterSettings"]

log = logging.getLogger(__name__)


class SQLiteWriter(QueuedWriter):
    """The thread owning the write connection of the database at `path`.

    `now` is the wall clock (prunes, how far ahead a row may be), `monotonic` times group
    commits, refreshes and retries. `ready` completes once the database is open and
    migrated (or fails with StoreError). `failed` is set when the thread stopped on an
    unexpected error.
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
        failures = WriteFailures(
            str(path),
            meanwhile=(
                f"measurements stay queued (at most {settings.max_backlog}) and are retried"
                f" every {settings.retry_every_s:g} s"
            ),
            summary_every_s=settings.summary_every_s,
            monotonic=monotonic,
        )
        super().__init__(str(path), settings, failures, log)
        self.path = path
        self.retention_s = retention_s
        self.ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._now = now
        self._monotonic = monotonic
        self._wake = threading.Event()
        self._urgent = threading.Event()
        """Set when queued work has someone waiting on it: no group-commit delay then."""
        self._last_commit = -math.inf
        self._rows = RowWriter(
            path,
            settings=settings,
            now=now,
            monotonic=monotonic,
            committed=self._committed,
            storage_failed=self._note_failure,
        )
        self._thread = threading.Thread(target=self._run, name="netvigil-store-write", daemon=True)

    def start(self) -> None:
        """Start the thread; wait on `ready`."""
        self._thread.start()

    def put(self, item: Item) -> None:
        """Queue work; safe from any thread, never blocks."""
        self.queue.put(item)
        if type(item) is not Measurement:
            self._urgent.set()
        if not self._wake.is_set():
            self._wake.set()

    def join(self, timeout_s: float | None = None) -> bool:
        """Block until the thread has ended (after a `Stop`, or a failure), or at most
        `timeout_s`; whether it has ended."""
        self._thread.join(timeout_s)
        return not self._thread.is_alive()

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
            self.queue.fail_all(StoreError(f"{self.path}: store writer stopped: {exc}"))
        finally:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("PRAGMA optimize")
            with contextlib.suppress(sqlite3.Error):  # a checkpoint can fail on a full disk
                conn.close()

    def _connect(self) -> sqlite3.Connection:
        """Open the write connection (`connect_writer`) and rebuild stale rollups."""
        conn = connect_writer(self.path)
        try:
            self._rows.recover(conn)
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"{self.path}: not a usable netvigil database: {exc}") from exc
        return conn

    def _write_loop(self, conn: sqlite3.Connection) -> None:
        settings = self.settings
        while True:
            if self.failures.failing:
                if self._retry(conn):
                    return
                continue
            if not self.queue.backlog:  # left by an outage: written at once
                self._wait_for_work(conn)
            while not self.failures.failing:
                if (
                    self.retention_s is not None
                    and self._now() - self._rows.last_prune >= settings.prune_every_s
                ):
                    with contextlib.suppress(StoreError):  # logged; tried again next time
                        self._rows.prune(conn, self._now() - self.retention_s)
                items = self.queue.take(settings.max_transaction)
                if not items:
                    break
                if self._process(conn, items):
                    return

    def _wait_for_work(self, conn: sqlite3.Connection) -> None:
        """Sleep until work is queued (refreshing open rollups on the way), then wait out
        the group commit delay unless someone waits on the work."""
        settings = self.settings
        timeout = None if self.retention_s is None else settings.prune_every_s
        if self._rows.has_dirty():
            timeout = min(timeout or settings.rollup_refresh_s, settings.rollup_refresh_s)
        if not self._wake.wait(timeout) and self._rows.has_dirty():
            with contextlib.suppress(StoreError):  # logged; tried again next time
                self._rows.close_minutes(conn, -math.inf)  # refreshes the open ones
        self._wake.clear()
        delay = self._last_commit + settings.group_commit_s - self._monotonic()
        if delay > 0 and self.queue:
            self._urgent.wait(delay)
        self._urgent.clear()
        self._last_commit = self._monotonic()

    def _retry(self, conn: sqlite3.Connection) -> bool:
        """During an outage: wait for the next try (refusing at once whoever waits on a
        write), keep what nobody waits on queued within `max_backlog`, then try the oldest
        of it again. True once the thread is to end."""
        delay = self._retry_at - self._monotonic()
        if delay > 0 and not self.queue.stopping:
            self._urgent.wait(delay)
        self._urgent.clear()
        self._wake.clear()
        if not self._hold_for_retry(self._monotonic):
            return False  # woken to refuse a caller
        self._retry_at = self._monotonic() + self.settings.retry_every_s
        items = self.queue.take(self.settings.retry_transaction)
        if items:
            return self._process(conn, items)
        with contextlib.suppress(StoreError):  # nothing queued: the rollups tell (logged)
            self._rows.close_minutes(conn, -math.inf)
        return False

    def _note_failure(self, what: str, exc: Exception) -> None:
        """Count a write of `what` that failed on the database file; retry later."""
        self.failures.failed(what, exc, queued=len(self.queue), dropped=self.dropped)
        self._retry_at = self._monotonic() + self.settings.retry_every_s

    def _committed(self) -> None:
        self.failures.succeeded(dropped=self.dropped)

    def _process(self, conn: sqlite3.Connection, items: list[Item]) -> bool:
        """Write one drained run of queue items in order; True when the thread is to end.

        When a write fails on the database file, what is left is returned to the queue
        (`WriteQueue.park`); if a `Stop` is queued, the writer gives up instead.
        """
        self._in_hand = sum(type(item) is Measurement for item in items)
        try:
            return self._write_in_order(conn, items)
        except Outage as outage:
            return self._left_by(outage)
        finally:
            self._in_hand = 0

    def _write_in_order(self, conn: sqlite3.Connection, items: list[Item]) -> bool:
        """`_process` until a write fails on the database file (`Outage`)."""
        for at, step in write_steps(items):
            try:
                if isinstance(step, MeasurementRun):
                    self._write(conn, step.segments)
                elif isinstance(step, IncidentRun):
                    self._write_incidents(conn, step.notes)
                elif isinstance(step, Stop):
                    with contextlib.suppress(StoreError):  # logged
                        self._rows.close_minutes(conn, math.inf)
                    return True
                elif isinstance(step, AdminWrite):
                    self._write_admin(conn, step)
                else:
                    try:
                        resolve(step.future, self._rows.prune(conn, step.older_than))
                    except StoreError as exc:
                        resolve(step.future, exc)
            except Outage as outage:
                outage.unwritten.extend(items[at:])
                raise
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
            if is_storage_error(exc):
                self._note_failure("an admin table change", exc)
            resolve(item.future, error)
            return
        self._committed()
        resolve(item.future, result)

    def _write_incidents(self, conn: sqlite3.Connection, notes: list[IncidentWrite]) -> None:
        """Write incident snapshots and events in one transaction (each alone on failure).

        Raises Outage when that fails on the database file.
        """
        if not notes:
            return
        try:
            self._commit_incidents(conn, notes)
        except Exception as exc:
            if is_storage_error(exc):
                raise Outage(exc, f"{len(notes)} incident writes", list(notes)) from exc
            for at, note in enumerate(notes):
                try:
                    self._commit_incidents(conn, [note])
                except Exception as exc:
                    if is_storage_error(exc):
                        raise Outage(exc, "an incident write", list(notes[at:])) from exc
                    self._incident_failed(note, exc)
                else:
                    resolve_written([note])
            return
        resolve_written(notes)

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
        self._committed()

    def _write(self, conn: sqlite3.Connection, segments: list[Segment]) -> None:
        """Insert segments in one transaction and update rollups and `latest`.

        When that fails on the database file, Outage is raised with the segments' items.
        When it fails otherwise, each batch and each submitted measurement is retried
        alone, so a bad one fails only itself: a batch is refused whole (its `add()`
        raises), a submitted measurement is dropped and logged.
        """
        if not segments:
            return
        try:
            counts = self._commit(conn, segments)
        except Exception as exc:
            if is_storage_error(exc):
                what = f"{sum(len(seg.items) for seg in segments)} measurements"
                raise Outage(exc, what, items_of(segments)) from exc
            self._write_each(conn, segments)
            return
        resolve_counts(segments, counts)

    def _write_each(self, conn: sqlite3.Connection, segments: list[Segment]) -> None:
        """Write each batch and each submitted measurement of `segments` alone."""
        units = units_of(segments)
        dropped = self.dropped
        errors: list[StoreError] = []
        for at, unit in enumerate(units):
            try:
                error = self._write_alone(conn, unit)
            except Exception as exc:  # only a failure of the database file gets here
                what = f"{len(unit.items)} measurements"
                raise Outage(exc, what, items_of(units[at:])) from exc
            if error is not None:
                errors.append(error)
        self._log_dropped(dropped, errors[0] if errors else None)

    def _write_alone(self, conn: sqlite3.Connection, seg: Segment) -> StoreError | None:
        """Write one segment in its own transaction; report to its owner or count a drop.

        A failure of the database file is raised as it is.
        """
        try:
            [count] = self._commit(conn, [seg])
        except Exception as exc:
            if is_storage_error(exc):
                raise
            return self._measurements_failed(seg, exc)
        resolve_counts([seg], [count])
        return None

    def _commit(self, conn: sqlite3.Connection, segments: list[Segment]) -> list[int]:
        """One transaction for `segments` (`RowWriter.commit`); each one's count of new rows.

        Every changed open rollup is written too when someone waits on a segment.
        """
        return self._rows.commit(
            conn,
            [seg.items for seg in segments],
            everything=any(seg.owner is not None for seg in segments),
        )

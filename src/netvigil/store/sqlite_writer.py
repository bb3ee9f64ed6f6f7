"""The writer thread of SQLiteStore, and the SQLite schema it keeps.

`SQLiteWriter` owns the only write connection of a database. The event loop `put()`s
work on its queue (single measurements, `Batch`es, `IncidentWrite`s, `Prune`s, a final
`Stop`); the thread takes whatever has queued up, in order, and writes it as one
transaction, so batching follows load. Each write refreshes the rollups of the (minute,
target, vantage) keys it touches from raw rows, and upserts the `latest` table.
Incident snapshots and events are written in queue order with the measurements around
them, in their own transactions.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import importlib.resources
import json
import logging
import math
import re
import sqlite3
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netvigil.detect.incidents import Incident, IncidentEvent
from netvigil.errors import StoreError
from netvigil.model import Measurement
from netvigil.store.base import Rollup
from netvigil.store.rollup import MINUTE_S, RollupBuilder, merge_rollups, minute_of

__all__ = [
    "APPLICATION_ID",
    "ROLLUP_COLUMNS",
    "SCHEMA_VERSION",
    "Batch",
    "IncidentWrite",
    "Item",
    "Prune",
    "SQLiteWriter",
    "Stop",
    "migrate",
    "rollup_from_row",
]

log = logging.getLogger(__name__)

APPLICATION_ID = 0x4E564754
"""`PRAGMA application_id` of a netvigil database ("NVGT")."""

PRUNE_EVERY_S = 60.0
"""With a retention set, the writer prunes at most this often."""

MAX_TRANSACTION = 20_000
"""The most queued items the writer folds into one transaction."""

PRUNE_CHUNK = 50_000
"""Rows deleted per transaction while pruning, so writes are not held up long."""

_COLUMNS = "id, ts, vantage, target, kind, ok, outcome, phase, total_s, timings, detail, address"
_PLACEHOLDERS = ", ".join("?" * 12)
_INSERT = f"INSERT OR IGNORE INTO measurements ({_COLUMNS}) VALUES ({_PLACEHOLDERS})"
_UPSERT_LATEST = (
    f"INSERT INTO latest ({_COLUMNS}) VALUES ({_PLACEHOLDERS}) "
    "ON CONFLICT (target, vantage) DO UPDATE SET "
    + ", ".join(
        f"{c} = excluded.{c}" for c in _COLUMNS.split(", ") if c not in ("target", "vantage")
    )
    + " WHERE (excluded.ts, excluded.id) > (latest.ts, latest.id)"
)
ROLLUP_COLUMNS = "target, vantage, minute, count, ok_count, latency_p50_s, latency_p95_s, outcomes"
_UPSERT_ROLLUP = (
    f"INSERT OR REPLACE INTO rollups ({ROLLUP_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
# CROSS JOIN keeps `touched` as the outer loop, so each key is one index range scan.
_TOUCHED_ROWS = (
    "SELECT t.target, t.vantage, t.minute, m.ok, m.outcome, m.total_s "
    "FROM temp.touched AS t CROSS JOIN measurements AS m "
    "ON m.target = t.target AND m.vantage = t.vantage "
    f"AND m.ts >= t.minute AND m.ts < t.minute + {MINUTE_S}"
)

_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode

Row = tuple[Any, ...]
Key = tuple[str, str, int]


def _migrations() -> list[tuple[int, str]]:
    """The schema migrations shipped with netvigil, as (version, SQL) in order."""
    folder = importlib.resources.files("netvigil.store") / "migrations" / "sqlite"
    found = []
    for entry in folder.iterdir():
        match = re.fullmatch(r"(\d+)_\w+\.sql", entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    found.sort()
    if [v for v, _ in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"SQLite migrations are not numbered 1..n: {[v for v, _ in found]}")
    return found


SCHEMA_VERSION = len(_migrations())
"""The schema version this code writes (`PRAGMA user_version`)."""


def migrate(conn: sqlite3.Connection, *, to_version: int = SCHEMA_VERSION) -> int:
    """Bring a database to `to_version`, one transaction per step; returns the old version.

    Raises StoreError when the file belongs to another application or was written by
    a newer netvigil. `conn` must be in autocommit mode (`isolation_level=None`).
    """
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    app_id: int = conn.execute("PRAGMA application_id").fetchone()[0]
    has_tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0
    if app_id not in (0, APPLICATION_ID) or (version == 0 and has_tables):
        raise StoreError("not a netvigil database (it holds another application's data)")
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"database schema version {version} is newer than this netvigil supports"
            f" ({SCHEMA_VERSION}); upgrade netvigil to open it"
        )
    for step, sql in _migrations():
        if version < step <= to_version:
            try:
                conn.executescript(
                    f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {step};\n"
                    f"PRAGMA application_id = {APPLICATION_ID};\nCOMMIT;"
                )
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise StoreError(f"schema migration to version {step} failed: {exc}") from exc
    return version


def _row(m: Measurement) -> Row:
    """A measurement as a row of the `measurements` table.

    timings and detail become compact JSON; a value JSON cannot hold is kept as its str().
    """
    return (
        m.id,
        m.ts,
        m.vantage,
        m.target,
        m.kind,
        1 if m.ok else 0,
        str(m.outcome),
        None if m.phase is None else str(m.phase),
        m.timings.get("total"),
        _dumps(m.timings),
        _dumps(m.detail),
        m.address,
    )


@dataclass(slots=True)
class Batch:
    """Measurements whose writer reports back: `add()` and `flush()` (empty)."""

    items: Sequence[Measurement]
    future: asyncio.Future[int]


@dataclass(slots=True)
class Prune:
    """Delete raw rows older than `older_than`; the future gets how many."""

    older_than: float
    future: asyncio.Future[int]


@dataclass(slots=True)
class IncidentWrite:
    """Save an incident snapshot (`incident`) and/or append an event to the log (`event`).

    Queued by `save_incident`/`add_incident_event` (whose `future` gets 1 once durable)
    and by `submit_incident_event` (no future: a failure is logged and counted). The
    writer thread serializes the objects, so they must not change once queued.
    """

    incident: Incident | None = None
    event: IncidentEvent | None = None
    future: asyncio.Future[int] | None = None


@dataclass(slots=True)
class Stop:
    """Write what came before, then end the writer thread."""


@dataclass(slots=True)
class _Segment:
    """Consecutive queued measurements written together; `owner` gets the count of new ones."""

    items: list[Measurement] = field(default_factory=list)
    owner: Batch | None = None


Item = Measurement | Batch | IncidentWrite | Prune | Stop

_UPSERT_INCIDENT = (
    "INSERT OR REPLACE INTO incidents (id, state, cause, confidence, start_ts, confirmed_ts,"
    " end_ts, updated_ts, services, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_INCIDENT_EVENT = (
    "INSERT INTO incident_events (incident, kind, ts, cause, confidence, quiet, data)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def _incident_row(incident: Incident, data: str) -> Row:
    """An incident as a row of the `incidents` table."""
    return (
        incident.id,
        incident.state.value,
        incident.cause.value,
        incident.confidence,
        incident.start,
        incident.confirmed_at,
        incident.end,
        incident.updated,
        _dumps(list(incident.services)),
        data,
    )


def _event_row(event: IncidentEvent, data: str) -> Row:
    """An incident event as a row of the `incident_events` table."""
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


def _resolve(future: asyncio.Future[int], value: int | BaseException) -> None:
    """Complete an event-loop future from the writer thread (ignored when the loop is gone)."""

    def done() -> None:
        if future.done():
            return
        if isinstance(value, BaseException):
            future.set_exception(value)
        else:
            future.set_result(value)

    with contextlib.suppress(RuntimeError):  # loop closed
        future.get_loop().call_soon_threadsafe(done)


class SQLiteWriter:
    """The thread owning the write connection of the database at `path`.

    `ready` completes once the database is open and migrated (or fails with StoreError).
    `failed` is set when the thread stopped on an unexpected error.
    """

    def __init__(self, path: Path, *, retention_s: float | None, now: Callable[[], float]) -> None:
        self.path = path
        self.retention_s = retention_s
        self.dropped = 0
        """Submitted measurements lost because they could not be written (logged)."""
        self.incidents_dropped = 0
        """Submitted incident events lost because they could not be written (logged)."""
        self.failed: BaseException | None = None
        self.pending: deque[Item] = deque()
        self.ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._now = now
        self._wake = threading.Event()
        self._pruned_before = -math.inf
        self._last_prune = -math.inf
        self._thread = threading.Thread(target=self._run, name="netvigil-store-write", daemon=True)

    def start(self) -> None:
        """Start the thread; wait on `ready`."""
        self._thread.start()

    def put(self, item: Item) -> None:
        """Queue work; safe from any thread, never blocks."""
        self.pending.append(item)
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
                future = item.future if isinstance(item, Batch | Prune | IncidentWrite) else None
                if future is not None:
                    _resolve(future, StoreError(f"{self.path}: store writer stopped: {exc}"))
        finally:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("PRAGMA optimize")
            conn.close()

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, isolation_level=None)
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"{self.path}: cannot open database: {exc}") from exc
        try:
            conn.execute("PRAGMA busy_timeout = 5000")
            migrate(conn)
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA cache_size = -65536")  # KiB: index pages of big databases
            conn.execute("PRAGMA temp_store = MEMORY")
            conn.execute(
                "CREATE TEMP TABLE touched (target TEXT, vantage TEXT, minute INTEGER,"
                " PRIMARY KEY (target, vantage, minute)) WITHOUT ROWID"
            )
            row = conn.execute("SELECT value FROM meta WHERE key = 'pruned_before'").fetchone()
            if row is not None:
                self._pruned_before = float(row[0])
        except StoreError as exc:
            conn.close()
            raise StoreError(f"{self.path}: {exc}") from exc
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"{self.path}: not a usable netvigil database: {exc}") from exc
        return conn

    def _write_loop(self, conn: sqlite3.Connection) -> None:
        while True:
            timeout = None if self.retention_s is None else PRUNE_EVERY_S
            self._wake.wait(timeout)
            self._wake.clear()
            while True:
                if self.retention_s is not None and self._now() - self._last_prune >= PRUNE_EVERY_S:
                    with contextlib.suppress(StoreError):  # logged; tried again next time
                        self._prune(conn, self._now() - self.retention_s)
                if not self.pending:
                    break
                items: list[Item] = []
                while self.pending and len(items) < MAX_TRANSACTION:
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
                    return True
                try:
                    _resolve(item.future, self._prune(conn, item.older_than))
                except StoreError as exc:
                    _resolve(item.future, exc)
        self._write(conn, segments)
        self._write_incidents(conn, notes)
        return False

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
                        _resolve(note.future, error)
                else:
                    if note.future is not None:
                        _resolve(note.future, 1)
            return
        for note in notes:
            if note.future is not None:
                _resolve(note.future, 1)

    def _commit_incidents(self, conn: sqlite3.Connection, notes: list[IncidentWrite]) -> None:
        incident_rows: list[Row] = []
        event_rows: list[Row] = []
        for note in notes:
            data = None
            if note.event is not None:
                data = _dumps(note.event.incident.to_json())
                event_rows.append(_event_row(note.event, data))
            if note.incident is not None:
                if data is None or note.event is None or note.incident is not note.event.incident:
                    data = _dumps(note.incident.to_json())
                incident_rows.append(_incident_row(note.incident, data))
        try:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(_UPSERT_INCIDENT, incident_rows)
            conn.executemany(_INSERT_INCIDENT_EVENT, event_rows)
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
                _resolve(seg.owner.future, count)

    def _write_alone(self, conn: sqlite3.Connection, seg: _Segment) -> StoreError | None:
        """Write one segment in its own transaction; report to its owner or count a drop."""
        try:
            [count] = self._commit(conn, [seg])
        except Exception as exc:
            error = StoreError(f"{self.path}: could not write {len(seg.items)} measurements: {exc}")
            if seg.owner is None:
                self.dropped += len(seg.items)
            else:
                _resolve(seg.owner.future, error)
            return error
        if seg.owner is not None:
            _resolve(seg.owner.future, count)
        return None

    def _commit(self, conn: sqlite3.Connection, segments: list[_Segment]) -> list[int]:
        """One transaction for `segments`; returns each one's count of new rows."""
        try:
            conn.execute("BEGIN IMMEDIATE")
            counts = [self._insert(conn, seg.items) for seg in segments]
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        return counts

    def _insert(self, conn: sqlite3.Connection, items: list[Measurement]) -> int:
        """Insert rows (inside a transaction) and refresh what they touch; returns new rows."""
        if not items:
            return 0
        rows = [_row(m) for m in items]
        fresh: list[Row] = []  # rows whose minute still has all its raw rows
        late: list[Row] = []  # new rows for minutes already pruned
        for r in rows:
            (late if minute_of(r[1]) < self._pruned_before else fresh).append(r)
        before = conn.total_changes
        conn.executemany(_INSERT, fresh)
        new = conn.total_changes - before
        late_new = [r for r in late if conn.execute(_INSERT, r).rowcount == 1]
        new += len(late_new)
        self._refresh_rollups(conn, fresh)
        self._merge_rollups(conn, late_new)
        newest: dict[tuple[str, str], Row] = {}
        for r in rows:
            seen = newest.get((r[3], r[2]))
            if seen is None or (r[1], r[0]) > (seen[1], seen[0]):
                newest[(r[3], r[2])] = r
        conn.executemany(_UPSERT_LATEST, newest.values())
        return new

    def _refresh_rollups(self, conn: sqlite3.Connection, rows: list[Row]) -> None:
        """Recompute from raw rows the rollups of every key `rows` touch."""
        if not rows:
            return
        conn.execute("DELETE FROM temp.touched")
        keys = {(r[3], r[2], minute_of(r[1])) for r in rows}
        conn.executemany("INSERT INTO temp.touched VALUES (?, ?, ?)", keys)
        builders: dict[Key, RollupBuilder] = {}
        for target, vantage, minute, ok, outcome, total_s in conn.execute(_TOUCHED_ROWS):
            key = (target, vantage, minute)
            builder = builders.get(key)
            if builder is None:
                builder = builders[key] = RollupBuilder()
            builder.add(bool(ok), outcome, total_s)
        conn.executemany(
            _UPSERT_ROLLUP,
            (_rollup_row(b.build(m, t, v)) for (t, v, m), b in builders.items()),
        )

    def _merge_rollups(self, conn: sqlite3.Connection, rows: list[Row]) -> None:
        """Merge new rows into rollups whose raw rows were pruned."""
        builders: dict[Key, RollupBuilder] = {}
        for r in rows:
            key = (r[3], r[2], minute_of(r[1]))
            builders.setdefault(key, RollupBuilder()).add(bool(r[5]), r[6], r[8])
        for (target, vantage, minute), builder in builders.items():
            rollup = builder.build(minute, target, vantage)
            old = conn.execute(
                f"SELECT {ROLLUP_COLUMNS} FROM rollups"
                " WHERE target = ? AND vantage = ? AND minute = ?",
                (target, vantage, minute),
            ).fetchone()
            if old is not None:
                rollup = merge_rollups(rollup_from_row(old), rollup)
            conn.execute(_UPSERT_ROLLUP, _rollup_row(rollup))

    def _prune(self, conn: sqlite3.Connection, older_than: float) -> int:
        """Delete raw rows older than `older_than` in chunks; raises StoreError."""
        self._last_prune = self._now()
        deleted = 0
        try:
            while True:
                conn.execute("BEGIN IMMEDIATE")
                if older_than > self._pruned_before:
                    conn.execute(
                        "INSERT OR REPLACE INTO meta (key, value) VALUES ('pruned_before', ?)",
                        (older_than,),
                    )
                n = conn.execute(
                    "DELETE FROM measurements WHERE id IN"
                    " (SELECT id FROM measurements WHERE ts < ? LIMIT ?)",
                    (older_than, PRUNE_CHUNK),
                ).rowcount
                conn.execute("COMMIT")
                self._pruned_before = max(self._pruned_before, older_than)
                deleted += n
                if n < PRUNE_CHUNK:
                    return deleted
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            error = StoreError(f"{self.path}: prune failed: {exc}")
            log.error("%s", error)
            raise error from exc


def _rollup_row(r: Rollup) -> Row:
    """A Rollup as a row of the `rollups` table (columns: ROLLUP_COLUMNS)."""
    return (
        r.target,
        r.vantage,
        r.minute,
        r.count,
        r.ok_count,
        r.latency_p50_s,
        r.latency_p95_s,
        _dumps(r.outcomes),
    )


def rollup_from_row(r: Row) -> Rollup:
    """A row read with ROLLUP_COLUMNS as a Rollup."""
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

"""The writer thread of SQLiteStore, and the SQLite schema it keeps.

`SQLiteWriter` owns the only write connection of a database. The event loop `put()`s
work on its queue (single measurements, `Batch`es, `IncidentWrite`s, `Prune`s, a final
`Stop`); the thread takes whatever has queued up, in order, and writes it as one
transaction, so batching follows load. Submitted measurements wait up to
`GROUP_COMMIT_S` to share a transaction; anything someone waits on is written at once.
Each write upserts the `latest` table.

Rollups are kept incrementally. The samples (success, outcome, `total`) of every
(minute, target, vantage) whose minute is still open are held in memory; a minute
closes once measurements `LATENESS_S` past its end have been written, and its rollups
are then written once. Open rollups that changed are also written every
`ROLLUP_REFRESH_S`, and by `add()` and `flush()` (so what they return is visible to
readers); `close()` writes them all. A row that arrives for a minute already closed
(or written before this writer started) is "late": the rollups of its keys are
recomputed from raw rows in the same transaction, and a row for a pruned minute is
merged into its rollup. Results are the same whatever the batching: memory only
changes once a transaction commits. After a crash, the rollups of minutes that were
still open are rebuilt from raw rows when the database is opened again (meta key
`rollups_before`: every minute before it was closed and written).
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
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from netvigil.errors import StoreError
from netvigil.incident import Incident, IncidentEvent
from netvigil.model import Measurement
from netvigil.store.base import Rollup
from netvigil.store.rollup import (
    MINUTE_S,
    OpenRollup,
    RollupBuilder,
    Sample,
    merge_rollups,
    minute_of,
)

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

GROUP_COMMIT_S = 0.5
"""Submitted measurements wait up to this long to share a transaction (group commit).

Each commit appends every page it changed to the WAL, so many small transactions cost
far more CPU than fewer larger ones. `add()`, `flush()`, incident writes, prunes and
`close()` are written at once (with whatever queued before them).
"""

PRUNE_CHUNK = 50_000
"""Rows deleted per transaction while pruning, so writes are not held up long."""

LATENESS_S = 60.0
"""A minute's rollups are written once a measurement this long past its end is written.

Rows for a minute that has closed are still counted exactly (recomputed from raw rows),
only at a higher cost per row.
"""

ROLLUP_REFRESH_S = 10.0
"""Open rollups that changed are written at least this often (how stale readers see them)."""

MAX_AHEAD_S = 300.0
"""Measurements stamped further than this ahead of the writer's clock do not close minutes."""

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
_ORJSON_OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
)


def _compact_json(value: Any) -> str:
    """`value` as compact JSON text: what `_dumps` writes, several times faster.

    orjson writes NaN and infinities as null, so any output holding a null is written
    again by `_dumps` (which keeps them as NaN/Infinity, as before), and so is anything
    orjson refuses (an integer beyond 64 bits).
    """
    if not value:
        return _EMPTY_JSON.get(type(value)) or _dumps(value)
    try:
        out = orjson.dumps(value, default=str, option=_ORJSON_OPTIONS)
    except TypeError:
        return _dumps(value)
    if b"null" in out:
        return _dumps(value)
    return out.decode()


_EMPTY_JSON: dict[type, str] = {dict: "{}", list: "[]"}

Row = tuple[Any, ...]
Key = tuple[str, str, int]
Pair = tuple[str, str]
"""(target, vantage): the key of an open rollup within its minute."""


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
        _compact_json(timings),
        _compact_json(m.detail),
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


class _Stage:
    """New rows of open minutes written by one transaction, kept apart until it commits."""

    __slots__ = ("cap", "max_ts", "minutes")

    def __init__(self, cap: float) -> None:
        self.cap = cap
        """Rows stamped after this do not move the watermark (see MAX_AHEAD_S)."""
        self.max_ts = -math.inf
        self.minutes: dict[int, dict[Pair, list[Sample]]] = {}


@dataclass(slots=True)
class _Plan:
    """What to change in memory once the transaction that wrote the rollups commits."""

    stage: _Stage
    closing: list[int]
    everything: bool
    watermark: float
    memory_from: float


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
        self._urgent = threading.Event()
        """Set when queued work has someone waiting on it: no group-commit delay then."""
        self._last_commit = -math.inf
        self._refreshed_at = time.monotonic()
        """When open rollups were last all written (`ROLLUP_REFRESH_S`)."""
        self._pruned_before = -math.inf
        self._last_prune = -math.inf
        self._open: dict[int, dict[Pair, Held]] = {}
        """Samples of every key of the open minutes, by minute (see the module docstring)."""
        self._dirty: dict[int, set[Pair]] = {}
        """Keys of open minutes whose stored rollup is missing or out of date."""
        self._memory_from = -math.inf
        """Minutes from this one on are accumulated in memory; older ones are late."""
        self._unmanaged: set[int] = set()
        """Minutes at or after `_memory_from` whose raw rows predate this writer (late)."""
        self._watermark = -math.inf
        """The newest `ts` written (bar ones too far ahead): what closes minutes."""
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
            self._start_rollups(conn)
        except StoreError as exc:
            conn.close()
            raise StoreError(f"{self.path}: {exc}") from exc
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"{self.path}: not a usable netvigil database: {exc}") from exc
        return conn

    def _start_rollups(self, conn: sqlite3.Connection) -> None:
        """Find which minutes this writer accumulates, rebuilding any a crash left stale."""
        cap = self._now() + MAX_AHEAD_S
        row = conn.execute("SELECT value FROM meta WHERE key = 'rollups_before'").fetchone()
        exact_before = -math.inf if row is None else float(row[0])
        if row is not None:
            stale = conn.execute(
                "SELECT id, ts, vantage, target FROM measurements WHERE ts >= ?", (exact_before,)
            ).fetchall()
            if stale:
                log.info("%s: rebuilding rollups of %d recent measurements", self.path, len(stale))
                try:
                    conn.execute("BEGIN IMMEDIATE")
                    self._refresh_rollups(conn, stale)
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
        (newest,) = conn.execute(
            "SELECT max(ts) FROM measurements WHERE ts <= ?", (cap,)
        ).fetchone()
        # Rows of minutes before `_pruned_before` are merged (see `_insert`), and rows
        # stamped too far ahead to close minutes are never accumulated: their minutes stay
        # "unmanaged" (recomputed from raw rows), so one bad clock cannot push every
        # later row onto the late path.
        self._memory_from = -math.inf if newest is None else minute_of(newest) + MINUTE_S
        self._unmanaged = {
            minute_of(ts)
            for (ts,) in conn.execute("SELECT DISTINCT ts FROM measurements WHERE ts > ?", (cap,))
        }

    def _write_loop(self, conn: sqlite3.Connection) -> None:
        while True:
            timeout = None if self.retention_s is None else PRUNE_EVERY_S
            if any(self._dirty.values()):
                timeout = min(timeout or ROLLUP_REFRESH_S, ROLLUP_REFRESH_S)
            if not self._wake.wait(timeout) and any(self._dirty.values()):
                with contextlib.suppress(StoreError):  # logged; tried again next time
                    self._close_minutes(conn, -math.inf)  # refreshes the open ones
            self._wake.clear()
            delay = self._last_commit + GROUP_COMMIT_S - time.monotonic()
            if delay > 0 and self.pending:
                self._urgent.wait(delay)
            self._urgent.clear()
            self._last_commit = time.monotonic()
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
                    with contextlib.suppress(StoreError):  # logged
                        self._close_minutes(conn, math.inf)
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
        stage = _Stage(self._now() + MAX_AHEAD_S)
        try:
            conn.execute("BEGIN IMMEDIATE")
            counts = [self._insert(conn, seg.items, stage) for seg in segments]
            plan = self._write_open_rollups(
                conn,
                stage,
                everything=any(seg.owner is not None for seg in segments)
                or time.monotonic() - self._refreshed_at >= ROLLUP_REFRESH_S,
                close_before=close_before,
            )
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self._apply(plan)
        return counts

    def _close_minutes(self, conn: sqlite3.Connection, before: float) -> None:
        """Write and forget the open minutes that start before `before` (inf: all).

        Like any commit, it also writes the changed open rollups when they are due.
        """
        if any(m < before for m in self._open) or (
            time.monotonic() - self._refreshed_at >= ROLLUP_REFRESH_S
        ):
            try:
                self._commit(conn, [], close_before=before)
            except Exception as exc:
                error = StoreError(f"{self.path}: could not write rollups: {exc}")
                log.error("%s", error)
                raise error from exc

    def _insert(self, conn: sqlite3.Connection, items: list[Measurement], stage: _Stage) -> int:
        """Insert rows (inside a transaction); returns how many were new.

        New rows of open minutes go to `stage`; the rollups of late rows are brought up
        to date here (see the module docstring).
        """
        if not items:
            return 0
        rows = [_row(m) for m in items]
        memory: list[Row] = []  # rows of minutes accumulated in memory
        fresh: list[Row] = []  # late rows whose minute still has all its raw rows
        late: list[Row] = []  # rows for minutes already pruned
        pruned_before, unmanaged = self._pruned_before, self._unmanaged
        floor = max(self._memory_from, pruned_before)
        for r in rows:
            minute = int(r[1] // MINUTE_S) * MINUTE_S
            if minute < floor or minute in unmanaged:
                (late if minute < pruned_before else fresh).append(r)
            else:
                memory.append(r)
        new = 0
        if memory:
            new += self._insert_open(conn, memory, stage)
        if fresh:
            before = conn.total_changes
            conn.executemany(_INSERT, fresh)
            new += conn.total_changes - before
            self._refresh_rollups(conn, fresh)
        if late:
            late_new = [r for r in late if conn.execute(_INSERT, r).rowcount == 1]
            new += len(late_new)
            self._merge_rollups(conn, late_new)
        newest: dict[Pair, Row] = {}
        for r in rows:
            pair = (r[3], r[2])
            seen = newest.get(pair)
            if seen is None or (r[1], r[0]) > (seen[1], seen[0]):
                newest[pair] = r
        conn.executemany(_UPSERT_LATEST, newest.values())
        return new

    def _insert_open(self, conn: sqlite3.Connection, rows: list[Row], stage: _Stage) -> int:
        """Insert rows of open minutes and stage the new ones; returns how many were new.

        All are inserted at once; only when some id was already stored (a resend) are
        they inserted again one by one, to learn which ones were new.
        """
        conn.execute("SAVEPOINT open_rows")
        before = conn.total_changes
        conn.executemany(_INSERT, rows)
        if conn.total_changes - before != len(rows):
            conn.execute("ROLLBACK TO open_rows")
            rows = [r for r in rows if conn.execute(_INSERT, r).rowcount == 1]
        conn.execute("RELEASE open_rows")
        minutes = stage.minutes
        cap, max_ts = stage.cap, stage.max_ts
        for r in rows:
            ts = r[1]
            if max_ts < ts <= cap:
                max_ts = ts
            minute = int(ts // MINUTE_S) * MINUTE_S
            keys = minutes.get(minute)
            if keys is None:
                keys = minutes[minute] = {}
            pair = (r[3], r[2])
            sample = (r[5], r[6], r[8])
            samples = keys.get(pair)
            if samples is None:
                keys[pair] = [sample]
            else:
                samples.append(sample)
        stage.max_ts = max_ts
        return len(rows)

    def _write_open_rollups(
        self, conn: sqlite3.Connection, stage: _Stage, *, everything: bool, close_before: float
    ) -> _Plan:
        """Write the open rollups that close now (all changed ones with `everything`)."""
        watermark = max(self._watermark, stage.max_ts)
        minutes = self._open.keys() | stage.minutes.keys()
        closing = sorted(
            m for m in minutes if m < close_before or m + MINUTE_S + LATENESS_S <= watermark
        )
        rows: list[Row] = []
        for minute in minutes if everything else closing:
            held = self._open.get(minute, {})
            staged = stage.minutes.get(minute, {})
            dirty = self._dirty.get(minute)
            pairs: Iterable[Pair] = staged.keys() | dirty if dirty else staged
            for pair in pairs:
                rows.append(_open_rollup_row(pair, minute, held.get(pair), staged.get(pair)))
        if rows:
            conn.executemany(_UPSERT_ROLLUP, rows)
        memory_from = self._memory_from
        if closing:
            memory_from = max(memory_from, closing[-1] + MINUTE_S)
            conn.execute(
                "INSERT OR REPLACE INTO meta (key, value) VALUES ('rollups_before', ?)",
                (memory_from,),
            )
        return _Plan(stage, closing, everything, watermark, memory_from)

    def _apply(self, plan: _Plan) -> None:
        """Fold a committed transaction's staged rows into the open minutes."""
        closing = set(plan.closing)
        for minute, staged in plan.stage.minutes.items():
            if minute in closing:
                continue
            held = self._open.get(minute)
            if held is None:
                held = self._open[minute] = {}
                self._dirty[minute] = set()
            for pair, samples in staged.items():
                old = held.get(pair)
                if old is None:
                    held[pair] = (
                        _compact_sample(samples[0]) if len(samples) == 1 else OpenRollup(samples)
                    )
                elif isinstance(old, OpenRollup):
                    old.extend(samples)
                else:
                    held[pair] = OpenRollup([_sample(old), *samples])
            if not plan.everything:
                self._dirty[minute].update(staged)
        for minute in closing:
            self._open.pop(minute, None)
            self._dirty.pop(minute, None)
        if plan.everything:
            for dirty in self._dirty.values():
                dirty.clear()
            self._refreshed_at = time.monotonic()
        self._watermark = plan.watermark
        self._memory_from = plan.memory_from

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
        """Delete raw rows older than `older_than` in chunks; raises StoreError.

        Open minutes before `older_than` are closed first, so that rows arriving for
        them later are merged into their stored rollups.
        """
        self._last_prune = self._now()
        self._close_minutes(conn, older_than)
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
        _compact_json(r.outcomes),
    )


_ONE_OUTCOME: dict[str, str] = {}
"""`{"<outcome>":1}`, the outcomes JSON of a single measurement, by outcome name."""


Held = float | Sample | OpenRollup
"""What an open key holds: one sample (a float: an `ok` one with that `total`), or more."""


def _compact_sample(sample: Sample) -> float | Sample:
    """One sample as held: the usual ok one as just its `total` (a float is 24 bytes)."""
    ok, outcome, total_s = sample
    return total_s if ok and outcome == "ok" and type(total_s) is float else sample


def _sample(held: float | Sample) -> Sample:
    """A held single sample as a Sample again."""
    return (1, "ok", held) if isinstance(held, float) else held


def _open_rollup_row(
    pair: Pair, minute: int, held: Held | None, staged: list[Sample] | None
) -> Row:
    """The `rollups` row of one open key: what it holds plus this transaction's samples."""
    if held is None and staged is not None and len(staged) == 1:
        held, staged = staged[0], None
    elif isinstance(held, float):
        held = _sample(held)
    if isinstance(held, tuple) and not staged:
        ok, outcome, total_s = held
        outcomes = _ONE_OUTCOME.get(outcome)
        if outcomes is None:
            outcomes = _ONE_OUTCOME[outcome] = _compact_json({outcome: 1})
        latency = None
        if ok and total_s is not None and math.isfinite(total_s):
            latency = total_s + 0.0  # as `quantile` computes it (-0.0 becomes 0.0)
        return (pair[0], pair[1], minute, 1, 1 if ok else 0, latency, latency, outcomes)
    if held is None:
        acc = OpenRollup()
    elif isinstance(held, tuple):
        acc = OpenRollup((held,))
    else:
        acc = held
    count, ok_count, p50, p95, outcome_counts = acc.summary(staged or ())
    return (pair[0], pair[1], minute, count, ok_count, p50, p95, _compact_json(outcome_counts))


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

"""The agent's spool: measurements waiting to be shipped, in a local SQLite file.

    spool = await Spool.open("spool.db", max_rows=1_000_000)
    spool.submit(m)                       # the Monitor's sink: never blocks the loop
    batch = await spool.peek(500)         # oldest first
    await spool.ack([m.id for m in batch])            # delivered: delete
    await spool.reject(ids, "HTTP 422: ...")          # refused by the server: keep aside
    await spool.close()

One writer thread owns the SQLite connection. `submit` only enqueues; the thread
writes what has queued up in one transaction, and runs `peek`/`ack`/`reject` in the
order they were asked, so a `peek` sees every measurement submitted before it.

The file survives restarts: whatever was not acknowledged is shipped after the next
start. Size policy: at most `max_rows` measurements wait; beyond that the OLDEST are
dropped (a logged warning and the `dropped` counter say how many), so a long outage
keeps the most recent `max_rows`. Batches the server refused move to the `rejected`
table with the server's reason (at most `max_rejected_rows`, oldest dropped the same
way) instead of being retried forever or deleted.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from netvigil.errors import StoreError
from netvigil.model import Measurement, measurement_list_adapter

__all__ = ["RejectedEntry", "Spool", "SpoolStats"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    seq  INTEGER PRIMARY KEY AUTOINCREMENT,
    id   TEXT NOT NULL UNIQUE,
    body TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS rejected (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    id          TEXT NOT NULL UNIQUE,
    body        TEXT NOT NULL,
    reason      TEXT NOT NULL,
    rejected_at REAL NOT NULL
);
"""

_CHUNK = 500
"""Ids per `IN (...)` statement."""


@dataclass(slots=True)
class SpoolStats:
    """Counters since this Spool was opened."""

    submitted: int = 0
    written: int = 0
    acked: int = 0
    rejected: int = 0
    dropped: int = 0
    """Measurements deleted unshipped because the spool was full (oldest first)."""
    write_errors: int = 0
    """Measurements that could not be written at all (disk full, I/O error); logged."""


@dataclass(frozen=True, slots=True)
class RejectedEntry:
    """A measurement the server refused, kept aside with the server's reason."""

    measurement: Measurement | None
    """None when the stored body can no longer be read as a Measurement."""
    id: str
    reason: str
    rejected_at: float


@dataclass(slots=True)
class _Op:
    fn: Callable[[sqlite3.Connection], Any]
    future: concurrent.futures.Future[Any]


class _Close:
    def __init__(self) -> None:
        self.future: concurrent.futures.Future[None] = concurrent.futures.Future()


_Item = Measurement | _Op | _Close


class Spool:
    """Measurements waiting to be shipped, in a SQLite file; see the module docs."""

    def __init__(
        self,
        path: str | Path,
        *,
        max_rows: int = 1_000_000,
        max_rejected_rows: int = 100_000,
        write_batch: int = 1_000,
        now: Callable[[], float] = time.time,
    ) -> None:
        if max_rows < 1 or max_rejected_rows < 1 or write_batch < 1:
            raise ValueError("max_rows, max_rejected_rows and write_batch must be at least 1")
        self.path = Path(path)
        self.max_rows = max_rows
        self.max_rejected_rows = max_rejected_rows
        self.stats = SpoolStats()
        self._write_batch = write_batch
        self._now = now
        self._queue: queue.SimpleQueue[_Item] = queue.SimpleQueue()
        self._rows = 0
        self._writing = 0
        """Measurements the writer has taken off the queue but not yet counted in `_rows`."""
        self._closed = False
        self._ready: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(
            target=self._run, name=f"spool-writer:{self.path.name}", daemon=True
        )
        self._thread.start()

    @classmethod
    async def open(cls, path: str | Path, **options: Any) -> Spool:
        """Open (creating if needed) the spool file at `path`. Raises StoreError."""
        spool = cls(path, **options)
        await asyncio.wrap_future(spool._ready)
        return spool

    @property
    def depth(self) -> int:
        """Measurements waiting: stored rows plus those not yet written."""
        return self._rows + self._writing + self._queue.qsize()

    def submit(self, m: Measurement) -> None:
        """Enqueue one measurement for spooling; never blocks. Raises StoreError once closed."""
        if self._closed:
            raise StoreError(f"spool {self.path} is closed")
        self.stats.submitted += 1
        self._queue.put(m)

    async def peek(self, n: int) -> list[Measurement]:
        """Up to `n` waiting measurements, oldest first (they stay until acked)."""
        return await self._call(lambda conn: self._peek(conn, n))

    async def ack(self, ids: Sequence[str]) -> int:
        """Delete delivered measurements; returns how many were still waiting."""
        return await self._call(lambda conn: self._ack(conn, list(ids)))

    async def reject(self, ids: Sequence[str], reason: str) -> int:
        """Move refused measurements to the `rejected` table with `reason`."""
        return await self._call(lambda conn: self._reject(conn, list(ids), reason))

    async def rejected(self, limit: int = 1000) -> list[RejectedEntry]:
        """The newest refused measurements (at most `limit`), oldest first."""
        return await self._call(lambda conn: self._list_rejected(conn, limit))

    async def count_rejected(self) -> int:
        """How many refused measurements are kept."""
        return await self._call(
            lambda conn: int(conn.execute("SELECT count(*) FROM rejected").fetchone()[0])
        )

    async def flush(self) -> None:
        """Return once every measurement submitted so far is written."""
        await self._call(lambda conn: None)

    async def close(self) -> None:
        """Write what is queued and close the file. Further submits raise StoreError."""
        if self._closed:
            return
        self._closed = True
        item = _Close()
        self._queue.put(item)
        await asyncio.wrap_future(item.future)
        await asyncio.to_thread(self._thread.join)

    async def __aenter__(self) -> Spool:
        await asyncio.wrap_future(self._ready)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- the writer thread ----------------------------------------------------------

    async def _call(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        if self._closed:
            raise StoreError(f"spool {self.path} is closed")
        future: concurrent.futures.Future[T] = concurrent.futures.Future()
        self._queue.put(_Op(fn, future))
        return await asyncio.wrap_future(future)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(self.path, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA busy_timeout=5000")
        conn.executescript(_SCHEMA)
        self._rows = int(conn.execute("SELECT count(*) FROM spool").fetchone()[0])
        return conn

    def _run(self) -> None:
        try:
            conn = self._connect()
        except (OSError, sqlite3.Error) as exc:
            self._closed = True
            self._ready.set_exception(StoreError(f"cannot open spool {self.path}: {exc}"))
            return
        self._ready.set_result(None)
        try:
            self._serve(conn)
        finally:
            conn.close()

    def _serve(self, conn: sqlite3.Connection) -> None:
        while True:
            items = [self._queue.get()]
            while len(items) < self._write_batch:
                try:
                    items.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            self._writing = sum(isinstance(item, Measurement) for item in items)
            pending: list[Measurement] = []
            for item in items:
                if isinstance(item, Measurement):
                    pending.append(item)
                    continue
                self._write(conn, pending)
                pending = []
                if isinstance(item, _Close):
                    self._drain_after_close(conn)
                    if not item.future.cancelled():
                        item.future.set_result(None)
                    return
                self._run_op(conn, item)
            self._write(conn, pending)

    def _drain_after_close(self, conn: sqlite3.Connection) -> None:
        """Write anything that raced in behind the close, failing late operations."""
        pending: list[Measurement] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, Measurement):
                pending.append(item)
            elif isinstance(item, _Op) and item.future.set_running_or_notify_cancel():
                item.future.set_exception(StoreError(f"spool {self.path} is closed"))
        self._writing += len(pending)
        self._write(conn, pending)

    def _run_op(self, conn: sqlite3.Connection, op: _Op) -> None:
        if not op.future.set_running_or_notify_cancel():
            return  # the caller gave up waiting before the operation started
        try:
            result = op.fn(conn)
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.rollback()
            op.future.set_exception(StoreError(f"spool {self.path}: {exc}"))
        except BaseException as exc:  # a bug: hand it to the caller rather than die
            if conn.in_transaction:
                conn.rollback()
            op.future.set_exception(exc)
        else:
            op.future.set_result(result)

    def _write(self, conn: sqlite3.Connection, batch: list[Measurement]) -> None:
        if not batch:
            return
        try:
            rows = [(m.id, _dump(m)) for m in batch]
            conn.execute("BEGIN IMMEDIATE")
            cur = conn.executemany("INSERT OR IGNORE INTO spool (id, body) VALUES (?, ?)", rows)
            added = max(cur.rowcount, 0)
            dropped = self._trim(conn, "spool", self._rows + added - self.max_rows)
            conn.execute("COMMIT")
        except Exception as exc:  # the writer thread must outlive any one bad batch
            if conn.in_transaction:
                conn.rollback()
            self._writing -= len(batch)
            self.stats.write_errors += len(batch)
            log.error("spool %s: could not write %d measurement(s): %s", self.path, len(batch), exc)
            return
        self._rows += added - dropped
        self._writing -= len(batch)
        self.stats.written += added
        if dropped:
            self.stats.dropped += dropped
            log.warning(
                "spool %s is full (max_rows=%d): dropped the %d oldest unshipped measurement(s)"
                " (%d dropped since start)",
                self.path,
                self.max_rows,
                dropped,
                self.stats.dropped,
            )

    @staticmethod
    def _trim(conn: sqlite3.Connection, table: str, excess: int) -> int:
        if excess <= 0:
            return 0
        cur = conn.execute(
            f"DELETE FROM {table} WHERE seq IN (SELECT seq FROM {table} ORDER BY seq LIMIT ?)",
            (excess,),
        )
        return max(cur.rowcount, 0)

    def _peek(self, conn: sqlite3.Connection, n: int) -> list[Measurement]:
        rows = conn.execute("SELECT id, body FROM spool ORDER BY seq LIMIT ?", (n,)).fetchall()
        out: list[Measurement] = []
        unreadable: list[str] = []
        for ident, body in rows:
            parsed = _parse(body)
            if parsed is None:
                unreadable.append(ident)
            else:
                out.append(parsed)
        if unreadable:
            log.error("spool %s: %d unreadable row(s) set aside", self.path, len(unreadable))
            self._reject(conn, unreadable, "unreadable in the spool file")
        return out

    def _ack(self, conn: sqlite3.Connection, ids: list[str]) -> int:
        deleted = 0
        conn.execute("BEGIN IMMEDIATE")
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            deleted += conn.execute(f"DELETE FROM spool WHERE id IN ({marks})", chunk).rowcount
        conn.execute("COMMIT")
        self._rows -= deleted
        self.stats.acked += deleted
        return deleted

    def _reject(self, conn: sqlite3.Connection, ids: list[str], reason: str) -> int:
        moved = 0
        now = self._now()
        conn.execute("BEGIN IMMEDIATE")
        for chunk in _chunks(ids):
            marks = ",".join("?" * len(chunk))
            conn.execute(
                "INSERT OR REPLACE INTO rejected (id, body, reason, rejected_at) "
                f"SELECT id, body, ?, ? FROM spool WHERE id IN ({marks}) ORDER BY seq",
                (reason, now, *chunk),
            )
            moved += conn.execute(f"DELETE FROM spool WHERE id IN ({marks})", chunk).rowcount
        kept = int(conn.execute("SELECT count(*) FROM rejected").fetchone()[0])
        dropped = self._trim(conn, "rejected", kept - self.max_rejected_rows)
        conn.execute("COMMIT")
        self._rows -= moved
        self.stats.rejected += moved
        if dropped:
            log.warning(
                "spool %s: rejected table is full (max_rejected_rows=%d): dropped %d oldest",
                self.path,
                self.max_rejected_rows,
                dropped,
            )
        return moved

    @staticmethod
    def _list_rejected(conn: sqlite3.Connection, limit: int) -> list[RejectedEntry]:
        rows = conn.execute(
            "SELECT id, body, reason, rejected_at FROM "
            "(SELECT * FROM rejected ORDER BY seq DESC LIMIT ?) ORDER BY seq",
            (limit,),
        ).fetchall()
        return [
            RejectedEntry(measurement=_parse(body), id=ident, reason=reason, rejected_at=float(at))
            for ident, body, reason, at in rows
        ]


def _dump(m: Measurement) -> str:
    # `default=str` keeps a probe's odd detail value (bytes, an address object) as text.
    return json.dumps(m.to_json(), separators=(",", ":"), default=str)


def _parse(body: str) -> Measurement | None:
    try:
        return measurement_list_adapter.validate_python([json.loads(body)])[0]
    except (ValueError, ValidationError):
        return None


def _chunks(ids: list[str]) -> list[list[str]]:
    return [ids[i : i + _CHUNK] for i in range(0, len(ids), _CHUNK)]

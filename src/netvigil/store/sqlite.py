"""SQLiteStore: the embedded store, one SQLite file in WAL mode.

One writer thread owns the only write connection and takes queued work in order
(`netvigil.store.sqlite_writer`): single measurements from `submit()` (the monitor's hot
path, where the event loop only appends to a queue), batches from `add()`, prunes and
`close()`. Reads run on a small pool of read-only connections in their own threads,
which also decode rows, so the event loop does no database work at all.

    store = await SQLiteStore.open("netvigil.db", retention_days=7)
    store.submit(measurement)            # never blocks
    await store.add(batch)               # returns once the batch is durable
    await store.flush()                  # everything submitted so far is durable
    async with await SQLiteStore.open(path) as store: ...

Rollups are recomputed from raw rows for every (minute, target, vantage) a write
touches, so late and duplicate data land in the right rollup whatever the batching.
When a minute's raw rows were pruned, new rows are merged into its rollup instead
(counts exact, latency quantiles kept; see `merge_rollups`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import queue
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from netvigil.errors import StoreError
from netvigil.model import Measurement
from netvigil.outcome import Outcome, Phase
from netvigil.store.base import MeasurementQuery, Rollup, RollupQuery, Store
from netvigil.store.rollup import minute_of
from netvigil.store.sqlite_writer import (
    APPLICATION_ID,
    ROLLUP_COLUMNS,
    SCHEMA_VERSION,
    Batch,
    Item,
    Prune,
    SQLiteWriter,
    Stop,
    migrate,
    rollup_from_row,
)

__all__ = ["APPLICATION_ID", "SCHEMA_VERSION", "SQLiteStore", "migrate"]

_T = TypeVar("_T")
Row = tuple[Any, ...]

_READ_COLUMNS = "id, ts, vantage, target, kind, ok, outcome, phase, timings, detail, address"


def _measurement(r: Row) -> Measurement:
    """A row read with `_READ_COLUMNS` as a Measurement."""
    return Measurement(
        id=r[0],
        ts=r[1],
        vantage=r[2],
        target=r[3],
        kind=r[4],
        ok=bool(r[5]),
        outcome=Outcome(r[6]),
        phase=None if r[7] is None else Phase(r[7]),
        timings=json.loads(r[8]),
        detail=json.loads(r[9]),
        address=r[10],
    )


class SQLiteStore:
    """Measurements and rollups in one SQLite file (see the module docstring).

    Create it with `await SQLiteStore.open(path)`. Every method raises StoreError when
    the database cannot be read or written, or after `close()`.
    """

    def __init__(
        self,
        path: Path,
        *,
        retention_days: float | None,
        now: Callable[[], float],
        readers: int,
    ) -> None:
        self.path = path
        self.retention_s = None if retention_days is None else retention_days * 86_400.0
        self._writer = SQLiteWriter(path, retention_s=self.retention_s, now=now)
        self._closed = False
        self._reader_count = readers
        self._readers: queue.SimpleQueue[sqlite3.Connection] = queue.SimpleQueue()
        self._read_pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=readers, thread_name_prefix="netvigil-store-read"
        )

    @classmethod
    async def open(
        cls,
        path: str | Path,
        *,
        retention_days: float | None = None,
        now: Callable[[], float] = time.time,
        readers: int = 2,
    ) -> SQLiteStore:
        """Open (creating or migrating) the database at `path` and start its writer.

        With `retention_days`, raw measurements older than that are pruned about once
        a minute; rollups are kept. `now` is the clock used for that.
        Raises StoreError for a file that is not a netvigil database, one written by a
        newer netvigil, or one that cannot be opened.
        """
        store = cls(Path(path), retention_days=retention_days, now=now, readers=readers)
        store._writer.start()
        try:
            await asyncio.wrap_future(store._writer.ready)
            await asyncio.get_running_loop().run_in_executor(store._read_pool, store._open_readers)
        except BaseException:
            await store.close()
            raise
        return store

    async def __aenter__(self) -> SQLiteStore:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    # -- writes ---------------------------------------------------------------------------

    @property
    def pending(self) -> int:
        """How many queued items the writer has not taken yet."""
        return len(self._writer.pending)

    @property
    def dropped(self) -> int:
        """Submitted measurements lost because they could not be written (each logged)."""
        return self._writer.dropped

    def submit(self, m: Measurement) -> None:
        """Queue one measurement for writing and return at once (the hot path)."""
        if self._closed or self._writer.failed is not None:
            self._raise_closed()
        self._writer.put(m)

    async def add(self, batch: Sequence[Measurement]) -> int:
        """Store a batch; ids already stored are skipped. Returns how many were new.

        The batch is written in one transaction: if it cannot be, nothing of it is
        stored and StoreError is raised.
        """
        return await self._request(lambda fut: Batch(list(batch), fut))

    async def flush(self) -> None:
        """Wait until everything submitted or added before this call is durable.

        A submitted measurement that cannot be written (say, one holding a NaN
        timestamp) is dropped, logged and counted in `dropped`; it does not fail this.
        """
        await self._request(lambda fut: Batch([], fut))

    async def prune(self, older_than: float) -> int:
        """Delete raw measurements older than `older_than` (epoch s); rollups stay."""
        return await self._request(lambda fut: Prune(older_than, fut))

    async def close(self) -> None:
        """Write everything queued, stop the writer and close all connections."""
        if self._closed:
            return
        self._closed = True
        self._writer.put(Stop())
        await asyncio.to_thread(self._writer.join)  # it ends at Stop, or has died
        await asyncio.get_running_loop().run_in_executor(self._read_pool, self._close_readers)
        self._read_pool.shutdown(wait=False)

    async def _request(self, make: Callable[[asyncio.Future[int]], Item]) -> int:
        if self._closed or self._writer.failed is not None:
            self._raise_closed()
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._writer.put(make(future))
        return await future

    def _raise_closed(self) -> None:
        if self._writer.failed is not None:
            raise StoreError(f"{self.path}: the store writer stopped: {self._writer.failed}")
        raise StoreError(f"{self.path}: the store is closed")

    # -- reads ----------------------------------------------------------------------------

    async def measurements(self, query: MeasurementQuery) -> list[Measurement]:
        """Raw measurements matching `query`, oldest first (by id, which sorts by time).

        `since` is inclusive and `until` exclusive, on the measurement's `ts`.
        """
        where, params = _filters(query.since, query.until, query, "ts")
        if query.after_id is not None:
            where.append("id > ?")
            params.append(query.after_id)
        table = "measurements"
        timed = query.since is not None or query.until is not None
        if timed and query.targets is None and query.after_id is None:
            table += " INDEXED BY measurements_ts"  # else SQLite scans from the oldest id
        sql = f"SELECT {_READ_COLUMNS} FROM {table}{_where(where)} ORDER BY id LIMIT ?"
        return await self._read(sql, [*params, query.limit], _measurement)

    async def rollups(self, query: RollupQuery) -> list[Rollup]:
        """Per-minute rollups matching `query`, oldest first (then by target, vantage).

        A minute is included when it overlaps [since, until).
        """
        since = None if query.since is None else minute_of(query.since)
        where, params = _filters(since, query.until, query, "minute")
        sql = (
            f"SELECT {ROLLUP_COLUMNS} FROM rollups{_where(where)}"
            " ORDER BY minute, target, vantage LIMIT ?"
        )
        return await self._read(sql, [*params, query.limit], rollup_from_row)

    async def latest(self) -> list[Measurement]:
        """The newest measurement of every (target, vantage) pair, by target then vantage."""
        sql = f"SELECT {_READ_COLUMNS} FROM latest ORDER BY target, vantage"
        return await self._read(sql, [], _measurement)

    async def _read(
        self, sql: str, params: Sequence[Any], convert: Callable[[Row], _T]
    ) -> list[_T]:
        if self._closed:
            self._raise_closed()

        def run() -> list[_T]:
            conn = self._readers.get()
            try:
                return [convert(r) for r in conn.execute(sql, params)]
            finally:
                self._readers.put(conn)

        try:
            return await asyncio.get_running_loop().run_in_executor(self._read_pool, run)
        except (sqlite3.Error, ValueError) as exc:
            raise StoreError(f"{self.path}: read failed: {exc}") from exc

    def _open_readers(self) -> None:
        try:
            for _ in range(self._reader_count):
                conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
                self._readers.put(conn)
                conn.execute("PRAGMA query_only = 1")
                conn.execute("PRAGMA busy_timeout = 5000")
        except sqlite3.Error as exc:
            raise StoreError(f"{self.path}: cannot open a read connection: {exc}") from exc

    def _close_readers(self) -> None:
        while not self._readers.empty():
            self._readers.get().close()


def _filters(
    since: float | None,
    until: float | None,
    query: MeasurementQuery | RollupQuery,
    time_column: str,
) -> tuple[list[str], list[Any]]:
    """WHERE clauses and parameters for the filters both query kinds share."""
    where: list[str] = []
    params: list[Any] = []
    if since is not None:
        where.append(f"{time_column} >= ?")
        params.append(since)
    if until is not None:
        where.append(f"{time_column} < ?")
        params.append(until)
    for column, values in (("target", query.targets), ("vantage", query.vantages)):
        if values is not None:
            where.append(f"{column} IN (SELECT value FROM json_each(?))")
            params.append(json.dumps(list(values)))
    return where, params


def _where(clauses: Iterable[str]) -> str:
    joined = " AND ".join(clauses)
    return f" WHERE {joined}" if joined else ""


if TYPE_CHECKING:

    def _is_a_store(store: SQLiteStore) -> Store:
        return store

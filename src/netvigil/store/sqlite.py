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
    store.submit_incident_event(event)   # never blocks: snapshot saved, event appended
    await store.incidents(IncidentQuery(open_only=True))
    async with await SQLiteStore.open(path) as store: ...

Rollups are kept incrementally by the writer (open minutes in memory, written when the
minute closes, every few seconds while it is open, and by `add()`, `flush()` and
`close()`); late and duplicate data land in the right rollup whatever the batching,
as a late row's rollups are recomputed from raw rows. When a minute's raw rows were
pruned, new rows are merged into its rollup instead (counts exact, latency quantiles
kept; see `merge_rollups`).

Incidents are kept as their newest snapshot (`Incident.to_json()`) plus the columns
queries filter on, and every event in an append-only log with the snapshot it carried.
Pruning never touches them.
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
from netvigil.incident import EventKind, Incident, IncidentEvent
from netvigil.model import Measurement
from netvigil.outcome import Outcome, Phase
from netvigil.store.base import IncidentQuery, MeasurementQuery, Rollup, RollupQuery, Store
from netvigil.store.rollup import MINUTE_S, minute_of
from netvigil.store.sqlite_writer import (
    APPLICATION_ID,
    ROLLUP_COLUMNS,
    SCHEMA_VERSION,
    Batch,
    IncidentWrite,
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


def _json_float(column: str) -> str:
    """SQL writing a REAL column as a JSON number that reads back exactly (or null)."""
    return f"CASE WHEN {column} IS NULL THEN 'null' ELSE printf('%!.17g', {column}) END"


_ROLLUP_JSON = (
    'minute, printf(\'{"minute":%d,"target":%s,"vantage":%s,"count":%d,'
    '"ok_count":%d,"success_ratio":%!.17g,"latency_p50_s":%s,"latency_p95_s":%s,'
    '"outcomes":%s}\', minute, json_quote(target), json_quote(vantage), count, ok_count,'
    " CASE WHEN count THEN CAST(ok_count AS REAL) / count ELSE 0.0 END,"
    f" {_json_float('latency_p50_s')}, {_json_float('latency_p95_s')}, outcomes)"
)
"""(minute, the rollup as a JSON object), for `rollups_json`."""
_MEASUREMENT_JSON = (
    'id, printf(\'{"id":%s,"ts":%!.17g,"vantage":%s,"target":%s,"kind":%s,'
    '"ok":%s,"outcome":%s,"phase":%s,"timings":%s,"detail":%s,"address":%s}\','
    " json_quote(id), ts, json_quote(vantage), json_quote(target), json_quote(kind),"
    " CASE WHEN ok THEN 'true' ELSE 'false' END, json_quote(outcome), json_quote(phase),"
    " timings, detail, json_quote(address))"
)
"""(id, the measurement as a JSON object), for `measurements_json`."""
_DISTINCT = "(SELECT DISTINCT value FROM json_each(?))"
_READ_COLUMNS = "id, ts, vantage, target, kind, ok, outcome, phase, timings, detail, address"


def _incident(r: Row) -> Incident:
    """A row whose first column is an incident's JSON, as an Incident."""
    try:
        return Incident.from_json(json.loads(r[0]))
    except (KeyError, TypeError) as exc:
        raise ValueError(f"malformed incident record: {exc!r}") from exc


def _incident_event(r: Row) -> IncidentEvent:
    """A row (kind, ts, quiet, snapshot JSON) of the event log as an IncidentEvent."""
    return IncidentEvent(EventKind(r[0]), r[1], _incident(r[3:]), quiet=bool(r[2]))


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
        readers: int = 4,
    ) -> SQLiteStore:
        """Open (creating or migrating) the database at `path` and start its writer.

        With `retention_days`, raw measurements older than that are pruned about once
        a minute; rollups are kept. `now` is the clock used for that. `readers` read
        connections (each in its own thread) serve reads at once, so a long read (a week
        of rollups) does not hold up short ones; SQLite runs without the GIL.
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

    @property
    def incidents_dropped(self) -> int:
        """Submitted incident events lost because they could not be written (each logged)."""
        return self._writer.incidents_dropped

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

    async def save_incident(self, incident: Incident) -> None:
        """Store `incident`, replacing the one with the same id; returns once durable.

        Do not change `incident` until this returns (the writer thread reads it).
        """
        await self._request(lambda fut: IncidentWrite(incident=incident, future=fut))

    async def add_incident_event(self, event: IncidentEvent) -> None:
        """Append `event` to the event log of its incident; returns once durable."""
        await self._request(lambda fut: IncidentWrite(event=event, future=fut))

    def submit_incident_event(self, event: IncidentEvent) -> None:
        """Queue `event` and return at once: its snapshot replaces the stored incident and
        the event is appended to the log, in order with submitted measurements.

        A write that fails is logged and counted in `incidents_dropped`.
        """
        if self._closed or self._writer.failed is not None:
            self._raise_closed()
        self._writer.put(IncidentWrite(incident=event.incident, event=event))

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
        sql, params = _measurement_sql(query, _READ_COLUMNS)
        return await self._read(sql, params, _measurement)

    async def measurements_json(self, query: MeasurementQuery) -> list[tuple[str, str]]:
        """The measurements `measurements(query)` would return, as (id, JSON object text).

        The object has the Measurement's fields (`export`'s form), floats written with
        17 significant digits; SQLite writes the text in the reader thread.
        """
        sql, params = _measurement_sql(query, _MEASUREMENT_JSON)
        return await self._read(sql, params, None)

    async def rollups(self, query: RollupQuery) -> list[Rollup]:
        """Per-minute rollups matching `query`, oldest first (then by target, vantage).

        A minute is included when it overlaps [since, until).
        """
        sql, params = _rollup_sql(query, ROLLUP_COLUMNS)
        return await self._read(sql, params, rollup_from_row)

    async def rollups_json(self, query: RollupQuery) -> list[tuple[int, str]]:
        """The rollups `rollups(query)` would return, as (minute, JSON object text).

        The object has the Rollup's fields plus `success_ratio`, floats written with 17
        significant digits (they read back exactly). SQLite writes the text, so Python
        makes two objects per row and the reader thread mostly runs without the GIL.
        """
        sql, params = _rollup_sql(query, _ROLLUP_JSON)
        return await self._read(sql, params, None)

    async def latest(self) -> list[Measurement]:
        """The newest measurement of every (target, vantage) pair, by target then vantage."""
        sql = f"SELECT {_READ_COLUMNS} FROM latest ORDER BY target, vantage"
        return await self._read(sql, [], _measurement)

    async def incidents(self, query: IncidentQuery) -> list[Incident]:
        """Incidents matching `query`, newest first (by start, then id)."""
        where: list[str] = []
        params: list[Any] = []
        if query.state is not None:
            where.append("state = ?")
            params.append(query.state.value)
        if query.open_only:
            where.append("state != 'resolved'")
        if query.since is not None:
            where.append("(end_ts IS NULL OR end_ts >= ?)")
            params.append(query.since)
        if query.until is not None:
            where.append("start_ts < ?")
            params.append(query.until)
        if query.service is not None:
            where.append("EXISTS (SELECT 1 FROM json_each(services) WHERE value = ?)")
            params.append(query.service)
        if not query.include_withdrawn:
            where.append("NOT (state = 'resolved' AND confirmed_ts IS NULL)")
        sql = f"SELECT data FROM incidents{_where(where)} ORDER BY start_ts DESC, id DESC LIMIT ?"
        return await self._read(sql, [*params, query.limit], _incident)

    async def incident(self, incident_id: str) -> Incident | None:
        """The incident with this id, or None."""
        found = await self._read(
            "SELECT data FROM incidents WHERE id = ?", [incident_id], _incident
        )
        return found[0] if found else None

    async def incident_events(self, incident_id: str) -> list[IncidentEvent]:
        """The event log of one incident, oldest first (empty for an unknown id)."""
        sql = "SELECT kind, ts, quiet, data FROM incident_events WHERE incident = ? ORDER BY seq"
        return await self._read(sql, [incident_id], _incident_event)

    async def _read(
        self, sql: str, params: Sequence[Any], convert: Callable[[Row], _T] | None
    ) -> list[_T]:
        """Rows of `sql`, each passed through `convert` (None: the rows as they are)."""
        if self._closed:
            self._raise_closed()

        def run() -> list[_T]:
            conn = self._readers.get()
            try:
                if convert is None:
                    rows: list[_T] = conn.execute(sql, params).fetchall()
                    return rows
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


def _measurement_sql(query: MeasurementQuery, columns: str) -> tuple[str, list[Any]]:
    """The SELECT of `columns` (and its parameters) for `query`'s measurements, by id."""
    where, params = _filters(query.since, query.until, query, "ts")
    if query.after_id is not None:
        where.append("id > ?")
        params.append(query.after_id)
    table = "measurements"
    timed = query.since is not None or query.until is not None
    if timed and query.targets is None and query.after_id is None:
        table += " INDEXED BY measurements_ts"  # else SQLite scans from the oldest id
    sql = f"SELECT {columns} FROM {table}{_where(where)} ORDER BY id LIMIT ?"
    return sql, [*params, query.limit]


def _rollup_sql(query: RollupQuery, columns: str) -> tuple[str, list[Any]]:
    """The SELECT of `columns` (and its parameters) for `query`'s rollups, oldest first.

    With targets named, each (target, vantage) is read by its primary key's minute range,
    so the cost follows the range asked for, not the target's whole history (and SQLite
    never walks the minute index over every target). Without vantages named, a target's
    vantages are found with one primary-key seek each. With `step` over a minute the
    rows are summed into buckets in SQL (`_bucketed`), as `bucket_rollups` does.
    """
    since = None if query.since is None else minute_of(query.since)
    if query.targets is None:
        where, params = _filters(since, query.until, query, "minute")
        if query.step != MINUTE_S:
            return _bucketed(
                "", [], f"SELECT * FROM rollups{_where(where)}", params, query, columns
            )
        sql = (
            f"SELECT {columns} FROM rollups{_where(where)} ORDER BY minute, target, vantage LIMIT ?"
        )
        return sql, [*params, query.limit]
    pairs: list[Any] = [json.dumps(list(query.targets))]
    if query.vantages is not None:
        cte = f"pair(pt, pv) AS (SELECT t.value, v.value FROM {_DISTINCT} AS t, {_DISTINCT} AS v)"
        pairs.append(json.dumps(list(query.vantages)))
    else:
        cte = (
            "RECURSIVE pair(pt, pv) AS ("
            "SELECT t.value, (SELECT min(vantage) FROM rollups WHERE target = t.value)"
            f" FROM {_DISTINCT} AS t"
            " UNION ALL SELECT p.pt, (SELECT min(vantage) FROM rollups"
            " WHERE target = p.pt AND vantage > p.pv)"
            " FROM pair AS p WHERE p.pv IS NOT NULL)"
        )
    where, params = _filters(since, query.until, RollupQuery(), "r.minute")
    joined = "pair AS p CROSS JOIN rollups AS r ON r.target = p.pt AND r.vantage = p.pv"
    if query.step != MINUTE_S:
        source = f"SELECT r.* FROM {joined}{_where(where)}"
        return _bucketed(f"{cte}, ", pairs, source, params, query, columns)
    sql = (
        f"WITH {cte} SELECT {columns} FROM {joined}{_where(where)}"
        " ORDER BY r.minute, r.target, r.vantage LIMIT ?"
    )
    return sql, [*pairs, *params, query.limit]


def _bucketed(
    ctes: str,
    cte_params: list[Any],
    source: str,
    params: list[Any],
    query: RollupQuery,
    columns: str,
) -> tuple[str, list[Any]]:
    """The SELECT of `columns` over the rollup rows of `source` summed into `query.step`
    buckets: counts and outcomes added, latencies averaged weighted by `ok_count`.

    One scan groups the minutes by bucket and by their outcomes text (a bucket of a
    steady target holds one or two distinct texts), so outcomes are parsed once per
    distinct text, not once per minute; the groups are then summed per bucket.
    """
    step = int(query.step)

    def weighted(column: str) -> str:
        return (
            f"sum({column} * ok_count) AS {column}_sum,"
            f" sum(CASE WHEN {column} IS NOT NULL THEN ok_count END) AS {column}_weight"
        )

    def mean(column: str) -> str:
        return f"sum({column}_sum) / nullif(sum({column}_weight), 0) AS {column}"

    sql = (
        f"WITH {ctes}g AS MATERIALIZED (SELECT minute / {step} * {step} AS minute, target,"
        " vantage, outcomes, count(*) AS times, sum(count) AS count, sum(ok_count) AS ok_count,"
        f" {weighted('latency_p50_s')}, {weighted('latency_p95_s')}"
        f" FROM ({source}) GROUP BY 1, 2, 3, 4),"
        " a AS (SELECT minute, target, vantage, sum(count) AS count, sum(ok_count) AS ok_count,"
        f" {mean('latency_p50_s')}, {mean('latency_p95_s')} FROM g GROUP BY 1, 2, 3),"
        " o AS (SELECT minute, target, vantage, json_group_object(name, n) AS outcomes FROM"
        " (SELECT g.minute, g.target, g.vantage, j.key AS name, sum(j.value * g.times) AS n"
        " FROM g, json_each(g.outcomes) AS j GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4)"
        " GROUP BY 1, 2, 3)"
        f" SELECT {columns} FROM (SELECT a.*, coalesce(o.outcomes, '{{}}') AS outcomes"
        " FROM a LEFT JOIN o USING (minute, target, vantage))"
        " ORDER BY minute, target, vantage LIMIT ?"
    )
    return sql, [*cte_params, *params, query.limit]


def _where(clauses: Iterable[str]) -> str:
    joined = " AND ".join(clauses)
    return f" WHERE {joined}" if joined else ""


if TYPE_CHECKING:

    def _is_a_store(store: SQLiteStore) -> Store:
        return store

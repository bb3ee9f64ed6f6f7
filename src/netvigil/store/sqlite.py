"""SQLiteStore: the embedded store, one SQLite file in WAL mode.

One writer thread owns the only write connection and takes queued work in order
(`netvigil.store.sqlite_writer`): single measurements from `submit()` (the monitor's hot
path, where the event loop only appends to a queue), batches from `add()`, incident and
admin table writes, prunes and `close()`. Reads run on a small pool of read-only
connections in their own threads, which also decode rows, so the event loop does no
database work at all.

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

The admin tables (`AdminStore`: admin tokens, agents, mutes, incident notes) live in the
same file: reads go through the read connections, changes through the writer's queue
(`netvigil.store.admin_tables`).

The pieces: `schema` (migrations), `codec` (rows), `queries` (SELECTs), `open_rollups`
(the minutes being built), `recompute` (rollups from raw rows), `writes` (the queue and
its items), `row_writer` (measurement and rollup transactions), `write_failures` (a full
disk told calmly) and `sqlite_writer` (the thread; its settings are `writer_settings`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import queue
import sqlite3
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from netvigil.errors import StoreError
from netvigil.incident import Incident, IncidentEvent
from netvigil.maintenance import Mute
from netvigil.metrics import StoreFigures
from netvigil.model import Measurement
from netvigil.signal import SignalEvent, SignalSample
from netvigil.store import admin_tables
from netvigil.store.base import (
    AdminStore,
    AgentRecord,
    IncidentNote,
    IncidentQuery,
    MeasurementQuery,
    NoteKind,
    Rollup,
    RollupQuery,
    Store,
    TokenRecord,
)
from netvigil.store.codec import (
    READ_COLUMNS,
    ROLLUP_COLUMNS,
    Row,
    incident_event_from_row,
    incident_from_row,
    measurement_from_row,
    rollup_from_row,
)
from netvigil.store.queries import (
    MEASUREMENT_JSON,
    ROLLUP_JSON,
    incident_sql,
    measurement_sql,
    rollup_sql,
)
from netvigil.store.schema import APPLICATION_ID, SCHEMA_VERSION, migrate
from netvigil.store.signal_buckets import BUCKET_SQLITE, BucketQuery, SignalBuckets, read_buckets
from netvigil.store.signals import (
    SignalQuery,
    SignalStore,
    event_from_row,
    events_sql,
    insert_signals,
    sample_from_row,
    samples_sql,
)
from netvigil.store.sqlite_writer import DEFAULT_SETTINGS, SQLiteWriter, WriterSettings
from netvigil.store.writes import AdminWrite, Batch, IncidentWrite, Item, Prune, Stop

__all__ = ["APPLICATION_ID", "SCHEMA_VERSION", "SQLiteStore", "WriterSettings", "migrate"]

_T = TypeVar("_T")

log = logging.getLogger(__name__)


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
        settings: WriterSettings,
    ) -> None:
        self.path = path
        self.retention_s = None if retention_days is None else retention_days * 86_400.0
        self._now = now
        self._writer = SQLiteWriter(path, retention_s=self.retention_s, now=now, settings=settings)
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
        settings: WriterSettings = DEFAULT_SETTINGS,
    ) -> SQLiteStore:
        """Open (creating or migrating) the database at `path` and start its writer.

        With `retention_days`, raw measurements older than that are pruned about once
        a minute; rollups are kept. `now` is the clock used for that (and for the times
        the admin tables record). `settings` are the writer's timing and sizes. `readers` read
        connections (each in its own thread) serve reads at once, so a long read (a week
        of rollups) does not hold up short ones; SQLite runs without the GIL.
        Raises StoreError for a file that is not a netvigil database, one written by a
        newer netvigil, or one that cannot be opened.
        """
        store = cls(
            Path(path), retention_days=retention_days, now=now, readers=readers, settings=settings
        )
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
        """How many queued items the writer has not written yet (including those kept to
        be tried again while writes fail, and those in a write under way)."""
        return self._writer.waiting

    @property
    def dropped(self) -> int:
        """Submitted measurements lost: they could not be written, or too many waited
        while writes failed (logged)."""
        return self._writer.dropped

    @property
    def incidents_dropped(self) -> int:
        """Submitted incident events lost the same ways (logged)."""
        return self._writer.incidents_dropped

    @property
    def write_failures(self) -> int:
        """Writes (transactions) that failed on the database file: full disk, I/O error."""
        return self._writer.failures.total

    @property
    def failing(self) -> bool:
        """Whether the last write failed on the database file (queued work is retried)."""
        return self._writer.failures.failing

    def figures(self) -> StoreFigures:
        """What `/metrics` reports about the store's writes."""
        return StoreFigures(
            queue_depth=self.pending,
            write_failures=self.write_failures,
            failing=self.failing,
            dropped=self.dropped,
            incidents_dropped=self.incidents_dropped,
        )

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
        """Write everything queued, stop the writer and close all connections.

        Waits at most `WriterSettings.close_timeout_s` for the writer; past that it gives
        up, logging how many measurements were not written (the writer thread is left to
        end with the process). While writes fail (a full disk), the writer tries once
        more and then gives up by itself, logging the same.
        """
        if self._closed:
            return
        self._closed = True
        self._writer.put(Stop())
        timeout_s = self._writer.settings.close_timeout_s
        # it ends at Stop, or has died
        if not await asyncio.to_thread(self._writer.join, timeout_s):
            log.error(
                "%s: gave up waiting for the store writer after %g s: about %d measurements"
                " not written",
                self.path,
                timeout_s,
                self._writer.unwritten(),
            )
        await asyncio.get_running_loop().run_in_executor(self._read_pool, self._close_readers)
        self._read_pool.shutdown(wait=False)

    async def _request(self, make: Callable[[asyncio.Future[_T]], Item]) -> _T:
        if self._closed or self._writer.failed is not None:
            self._raise_closed()
        future: asyncio.Future[_T] = asyncio.get_running_loop().create_future()
        self._writer.put(make(future))
        return await future

    def _raise_closed(self) -> None:
        if self._writer.failed is not None:
            raise StoreError(f"{self.path}: the store writer stopped: {self._writer.failed}")
        raise StoreError(f"{self.path}: the store is closed")

    # -- admin tables (see AdminStore and netvigil.store.admin_tables) --------------------

    async def admin_tokens(self) -> list[TokenRecord]:
        """Every admin token, by name."""
        return await self._read(admin_tables.TOKENS_SQL, [], admin_tables.token_from_row)

    async def add_admin_token(self, name: str, token_sha256: str) -> TokenRecord:
        """Store a new admin token. Raises ValueError when the name or token is taken."""
        record = TokenRecord(name, self._now(), None)
        return await self._change(admin_tables.insert_token(record, token_sha256))

    async def revoke_admin_token(self, name: str) -> bool:
        """Delete the admin token `name`; whether there was one."""
        return await self._change(admin_tables.delete_by_name("token", name))

    async def use_admin_token(self, token_sha256: str) -> str | None:
        """The name of the admin token with this digest (recording its use), or None."""
        return await self._change(admin_tables.use_token(token_sha256, self._now()))

    async def agents(self) -> list[AgentRecord]:
        """Every agent added through the admin API, by name."""
        return await self._read(admin_tables.AGENTS_SQL, [], admin_tables.agent_from_row)

    async def add_agent(
        self, name: str, token_sha256: str, *, country: str | None, in_country: bool
    ) -> AgentRecord:
        """Store a new agent. Raises ValueError when the name or token is taken."""
        record = AgentRecord(name, token_sha256, country, in_country, self._now())
        return await self._change(admin_tables.insert_agent(record))

    async def revoke_agent(self, name: str) -> bool:
        """Delete the agent `name`; whether there was one."""
        return await self._change(admin_tables.delete_by_name("agent", name))

    async def mutes(self) -> list[Mute]:
        """Every stored mute (expired ones too), by target."""
        return await self._read(admin_tables.MUTES_SQL, [], admin_tables.mute_from_row)

    async def set_mute(self, target: str, until: float, note: str) -> Mute:
        """Mute `target` until `until` (epoch s), replacing its mute; the stored mute."""
        return await self._change(admin_tables.replace_mute(Mute(target, until, note, self._now())))

    async def lift_mute(self, target: str) -> bool:
        """Delete the mute on `target`; whether there was one."""
        return await self._change(admin_tables.delete_by_name("mute", target))

    async def notes(self, incident_id: str) -> list[IncidentNote]:
        """The acknowledgements and annotations of an incident, oldest first."""
        return await self._read(admin_tables.NOTES_SQL, [incident_id], admin_tables.note_from_row)

    async def add_note(
        self, incident_id: str, kind: NoteKind, author: str, text: str
    ) -> IncidentNote:
        """Append an acknowledgement or annotation to an incident; the stored note."""
        change = admin_tables.insert_note(incident_id, kind, self._now(), author, text)
        return await self._change(change)

    async def _change(self, run: Callable[[sqlite3.Connection], _T]) -> _T:
        """Have the writer run one admin table change in a transaction of its own."""
        return await self._request(lambda fut: AdminWrite(run, fut))

    # -- reads ----------------------------------------------------------------------------

    async def measurements(self, query: MeasurementQuery) -> list[Measurement]:
        """Raw measurements matching `query`, oldest first (by id, which sorts by time).

        `since` is inclusive and `until` exclusive, on the measurement's `ts`.
        """
        sql, params = measurement_sql(query, READ_COLUMNS)
        return await self._read(sql, params, measurement_from_row)

    async def measurements_json(self, query: MeasurementQuery) -> list[tuple[str, str]]:
        """The measurements `measurements(query)` would return, as (id, JSON object text).

        The object has the Measurement's fields (`export`'s form), floats written with
        17 significant digits; SQLite writes the text in the reader thread.
        """
        sql, params = measurement_sql(query, MEASUREMENT_JSON)
        return await self._read(sql, params, None)

    async def rollups(self, query: RollupQuery) -> list[Rollup]:
        """Per-minute rollups matching `query`, oldest first (then by target, vantage).

        A minute is included when it overlaps [since, until).
        """
        sql, params = rollup_sql(query, ROLLUP_COLUMNS)
        return await self._read(sql, params, rollup_from_row)

    async def rollups_json(self, query: RollupQuery) -> list[tuple[int, str]]:
        """The rollups `rollups(query)` would return, as (minute, JSON object text).

        The object has the Rollup's fields plus `success_ratio`, floats written with 17
        significant digits (they read back exactly). SQLite writes the text, so Python
        makes two objects per row and the reader thread mostly runs without the GIL.
        """
        sql, params = rollup_sql(query, ROLLUP_JSON)
        return await self._read(sql, params, None)

    async def latest(self) -> list[Measurement]:
        """The newest measurement of every (target, vantage) pair, by target then vantage."""
        sql = f"SELECT {READ_COLUMNS} FROM latest ORDER BY target, vantage"
        return await self._read(sql, [], measurement_from_row)

    async def incidents(self, query: IncidentQuery) -> list[Incident]:
        """Incidents matching `query`, newest first (by start, then id)."""
        sql, params = incident_sql(query)
        return await self._read(sql, params, incident_from_row)

    async def incident(self, incident_id: str) -> Incident | None:
        """The incident with this id, or None."""
        found = await self._read(
            "SELECT data FROM incidents WHERE id = ?", [incident_id], incident_from_row
        )
        return found[0] if found else None

    async def incident_events(self, incident_id: str) -> list[IncidentEvent]:
        """The event log of one incident, oldest first (empty for an unknown id)."""
        sql = "SELECT kind, ts, quiet, data FROM incident_events WHERE incident = ? ORDER BY seq"
        return await self._read(sql, [incident_id], incident_event_from_row)

    # -- network-level signals (see SignalStore and netvigil.store.signals) --------------

    async def add_signals(
        self, samples: Sequence[SignalSample], events: Sequence[SignalEvent]
    ) -> int:
        """Store signal samples and events (each row once); how many rows were new."""
        if not samples and not events:
            return 0
        return await self._change(insert_signals(samples, events))

    async def signal_samples(self, query: SignalQuery) -> list[SignalSample]:
        """The signal samples matching `query`, oldest first."""
        sql, params = samples_sql(query)
        return await self._read(sql, params, sample_from_row)

    async def signal_events(self, query: SignalQuery) -> list[SignalEvent]:
        """The signal events matching `query`, oldest first."""
        sql, params = events_sql(query)
        return await self._read(sql, params, event_from_row)

    async def signal_buckets(self, query: BucketQuery) -> SignalBuckets:
        """One entity's signals in buckets, grouped in SQL (`signal_buckets`)."""

        async def fetch(sql: str, params: list[Any]) -> list[Row]:
            return await self._read(sql, params, None)

        return await read_buckets(query, BUCKET_SQLITE, fetch, self.signal_events)

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


if TYPE_CHECKING:

    def _is_a_store(store: SQLiteStore) -> Store:
        return store

    def _is_an_admin_store(store: SQLiteStore) -> AdminStore:
        return store

    def _is_a_signal_store(store: SQLiteStore) -> SignalStore:
        return store

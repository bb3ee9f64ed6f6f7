"""PostgresStore: measurements, rollups, incidents and the admin tables in PostgreSQL.

The same `Store` and `AdminStore` as the SQLite store, for a deployment that wants a
database server (several readers, backups, more data than one file holds comfortably):

    store = await PostgresStore.open("postgresql://netvigil@db/netvigil", retention_days=30)
    store.submit(measurement)            # never blocks
    await store.add(batch)               # COPY, then INSERT ... ON CONFLICT DO NOTHING
    await store.flush()                  # everything submitted so far is durable
    async with await PostgresStore.open(dsn) as store: ...

One writer task owns the write connection and takes queued work in order
(`netvigil.store.postgres_writer`): submitted measurements and incident events, batches,
prunes and `close()`; it rides out a server restart by keeping what nobody waits on
queued and reconnecting with a bounded backoff. Reads and the admin tables use a small
connection pool. The schema is migrated on open (`postgres_schema`, the SQL files in
`migrations/postgres/`). Measurements live in day partitions (`postgres_partitions`):
`prune` drops whole days and deletes only inside the day that straddles the cut.
A write marks the rollups its rows touch; the writer folds them in every few seconds and
reads recompute the ones still marked (`postgres_rollups`), so reads are always exact.

Errors and logs name the server by `redact_dsn(dsn)`: never with its password.

The store belongs to the event loop it was opened on. A call from another loop (a
setup call through `asyncio.run` in a thread, as the web app makes them) works: reads
and admin changes use a connection of their own, and writes wake the writer through
its loop, which must be running meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import unquote, urlsplit

import asyncpg

from netvigil.errors import StoreError
from netvigil.incident import Incident, IncidentEvent
from netvigil.maintenance import Mute
from netvigil.metrics import StoreFigures
from netvigil.model import Measurement
from netvigil.signal import SignalEvent, SignalSample
from netvigil.store import postgres_admin as admin
from netvigil.store import postgres_signals
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
    incident_event_from_row,
    incident_from_row,
    measurement_from_row,
    rollup_from_row,
)
from netvigil.store.postgres_options import DEFAULT_OPTIONS, PostgresOptions
from netvigil.store.postgres_queries import incident_sql, measurement_sql, rollup_sql
from netvigil.store.postgres_schema import migrate, redact_dsn
from netvigil.store.postgres_writer import PostgresWriter
from netvigil.store.signal_buckets import BucketQuery, SignalBuckets
from netvigil.store.signals import SignalQuery, SignalStore
from netvigil.store.writer_settings import DEFAULT_SETTINGS, WriterSettings
from netvigil.store.writes import Batch, IncidentWrite, Item, Prune, Stop

__all__ = ["PostgresOptions", "PostgresStore"]

_T = TypeVar("_T")

log = logging.getLogger(__name__)


def _scrub(text: str, dsn: str) -> str:
    """`text` with the password of `dsn` blotted out, should a driver message quote it."""
    try:
        password = urlsplit(dsn).password
    except ValueError:
        password = None
    if not password:
        return text
    return text.replace(password, "***").replace(unquote(password), "***")


class PostgresStore:
    """Measurements, rollups, incidents and admin tables in PostgreSQL (module docstring).

    Create it with `await PostgresStore.open(dsn)`. Every method raises StoreError when
    the database cannot be read or written, or after `close()`.
    """

    def __init__(
        self,
        dsn: str,
        *,
        retention_days: float | None,
        now: Callable[[], float],
        settings: WriterSettings,
        options: PostgresOptions,
    ) -> None:
        self.dsn = dsn
        self.label = redact_dsn(dsn)
        self.retention_s = None if retention_days is None else retention_days * 86_400.0
        self.options = options
        self._now = now
        self._closed = False
        self._pool: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._writer = PostgresWriter(
            self._connect_writer,
            label=self.label,
            retention_s=self.retention_s,
            now=now,
            settings=settings,
            options=options,
        )

    @classmethod
    async def open(
        cls,
        dsn: str,
        *,
        retention_days: float | None = None,
        now: Callable[[], float] = time.time,
        settings: WriterSettings = DEFAULT_SETTINGS,
        options: PostgresOptions = DEFAULT_OPTIONS,
    ) -> PostgresStore:
        """Connect to the database at `dsn`, migrate it and start the writer.

        With `retention_days`, raw measurements older than that are pruned about once
        a minute (by `now`, the clock the admin tables also record times with).
        Raises StoreError when the server cannot be reached or refuses the credentials,
        or the database was written by a newer netvigil.
        """
        store = cls(dsn, retention_days=retention_days, now=now, settings=settings, options=options)
        store._loop = asyncio.get_running_loop()
        try:
            await store._writer.start()
            store._pool = await asyncpg.create_pool(
                dsn,
                min_size=1,
                max_size=options.readers,
                timeout=options.connect_timeout_s,
            )
        except StoreError as exc:
            await store._abandon()
            raise StoreError(_scrub(str(exc), dsn)) from None
        except Exception as exc:
            await store._abandon()
            raise StoreError(_scrub(f"{store.label}: cannot connect: {exc}", dsn)) from None
        return store

    async def _connect_writer(self) -> Any:
        """A new write connection, the schema migrated."""
        conn = await asyncpg.connect(self.dsn, timeout=self.options.connect_timeout_s)
        try:
            await migrate(conn)
        except BaseException:
            conn.terminate()
            raise
        return conn

    async def _abandon(self) -> None:
        self._closed = True
        self._writer.put(Stop())
        await self._writer.join(1.0)
        if self._pool is not None:
            self._pool.terminate()

    async def __aenter__(self) -> PostgresStore:
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
        """How many queued items the writer has not written yet."""
        return self._writer.waiting

    @property
    def dropped(self) -> int:
        """Submitted measurements lost (could not be written, or too many waited)."""
        return self._writer.dropped

    @property
    def incidents_dropped(self) -> int:
        """Submitted incident events lost the same ways."""
        return self._writer.incidents_dropped

    @property
    def write_failures(self) -> int:
        """Writes (and reconnections) that failed on the server or the link to it."""
        return self._writer.failures.total

    @property
    def failing(self) -> bool:
        """Whether the last write failed on the server (queued work is retried)."""
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
        """Queue one measurement for writing and return at once (the hot path).

        While the server is away and `max_backlog` items wait already, the measurement
        is dropped and counted in `dropped` instead: the queue stays bounded.
        """
        self._check_open()
        if self._writer.waiting >= self._writer.settings.max_backlog and self.failing:
            self._writer.dropped += 1
            return
        self._writer.put(m)

    async def add(self, batch: Sequence[Measurement]) -> int:
        """Store a batch; ids already stored are skipped. Returns how many were new.

        The batch is written in one transaction: if it cannot be, nothing of it is
        stored and StoreError is raised.
        """
        new: int = await self._request(lambda fut: Batch(list(batch), fut))
        return new

    async def save_incident(self, incident: Incident) -> None:
        """Store `incident`, replacing the one with the same id; returns once durable."""
        await self._request(lambda fut: IncidentWrite(incident=incident, future=fut))

    async def add_incident_event(self, event: IncidentEvent) -> None:
        """Append `event` to the event log of its incident; returns once durable."""
        await self._request(lambda fut: IncidentWrite(event=event, future=fut))

    def submit_incident_event(self, event: IncidentEvent) -> None:
        """Queue `event` and return at once: its snapshot replaces the stored incident and
        the event is appended to the log, in order with submitted measurements."""
        self._check_open()
        self._writer.put(IncidentWrite(incident=event.incident, event=event))

    async def flush(self) -> None:
        """Wait until everything submitted or added before this call is durable."""
        await self._request(lambda fut: Batch([], fut))

    async def prune(self, older_than: float) -> int:
        """Delete raw measurements older than `older_than` (epoch s); rollups stay.

        Day partitions wholly before it are dropped; rows are deleted only in the day
        that straddles it. Returns how many measurements went.
        """
        deleted: int = await self._request(lambda fut: Prune(older_than, fut))
        return deleted

    async def close(self) -> None:
        """Write everything queued, stop the writer and close the connections.

        Waits at most `WriterSettings.close_timeout_s` for the writer; past that it gives
        up, logging how many measurements were not written.
        """
        if self._closed:
            return
        self._closed = True
        self._writer.put(Stop())
        timeout_s = self._writer.settings.close_timeout_s
        if not await self._writer.join(timeout_s):
            log.error(
                "%s: gave up waiting for the store writer after %g s: about %d measurements"
                " not written",
                self.label,
                timeout_s,
                self._writer.unwritten(),
            )
            self._writer.queue.fail_all(StoreError(f"{self.label}: closed before written"))
        if self._pool is not None:
            try:
                await asyncio.wait_for(self._pool.close(), timeout_s)
            except Exception:  # a read still running past the timeout: cut it
                self._pool.terminate()

    async def _request(self, make: Callable[[Any], Item]) -> Any:
        self._check_open()
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._writer.put(make(future))
        return await future

    def _check_open(self) -> None:
        if self._writer.failed is not None:
            raise StoreError(f"{self.label}: the store writer stopped: {self._writer.failed}")
        if self._closed:
            raise StoreError(f"{self.label}: the store is closed")

    # -- admin tables (see AdminStore and netvigil.store.postgres_admin) ------------------

    async def admin_tokens(self) -> list[TokenRecord]:
        """Every admin token, by name."""
        return await self._use(admin.tokens)

    async def add_admin_token(self, name: str, token_sha256: str) -> TokenRecord:
        """Store a new admin token. Raises ValueError when the name or token is taken."""
        record = TokenRecord(name, self._now(), None)
        return await self._use(lambda c: admin.add_token(c, record, token_sha256))

    async def revoke_admin_token(self, name: str) -> bool:
        """Delete the admin token `name`; whether there was one."""
        return await self._use(lambda c: admin.delete_by_name(c, "token", name))

    async def use_admin_token(self, token_sha256: str) -> str | None:
        """The name of the admin token with this digest (recording its use), or None."""
        now = self._now()
        return await self._use(lambda c: admin.use_token(c, token_sha256, now))

    async def agents(self) -> list[AgentRecord]:
        """Every agent added through the admin API, by name."""
        return await self._use(admin.agents)

    async def add_agent(
        self, name: str, token_sha256: str, *, country: str | None, in_country: bool
    ) -> AgentRecord:
        """Store a new agent. Raises ValueError when the name or token is taken."""
        record = AgentRecord(name, token_sha256, country, in_country, self._now())
        return await self._use(lambda c: admin.add_agent(c, record))

    async def revoke_agent(self, name: str) -> bool:
        """Delete the agent `name`; whether there was one."""
        return await self._use(lambda c: admin.delete_by_name(c, "agent", name))

    async def mutes(self) -> list[Mute]:
        """Every stored mute (expired ones too), by target."""
        return await self._use(admin.mutes)

    async def set_mute(self, target: str, until: float, note: str) -> Mute:
        """Mute `target` until `until` (epoch s), replacing its mute; the stored mute."""
        mute = Mute(target, until, note, self._now())
        return await self._use(lambda c: admin.replace_mute(c, mute))

    async def lift_mute(self, target: str) -> bool:
        """Delete the mute on `target`; whether there was one."""
        return await self._use(lambda c: admin.delete_by_name(c, "mute", target))

    async def notes(self, incident_id: str) -> list[IncidentNote]:
        """The acknowledgements and annotations of an incident, oldest first."""
        return await self._use(lambda c: admin.notes(c, incident_id))

    async def add_note(
        self, incident_id: str, kind: NoteKind, author: str, text: str
    ) -> IncidentNote:
        """Append an acknowledgement or annotation to an incident; the stored note."""
        ts = self._now()
        return await self._use(lambda c: admin.add_note(c, incident_id, kind, ts, author, text))

    # -- reads ----------------------------------------------------------------------------

    async def measurements(self, query: MeasurementQuery) -> list[Measurement]:
        """Raw measurements matching `query`, oldest first (by id, which sorts by time).

        `since` is inclusive and `until` exclusive, on the measurement's `ts`.
        """
        sql, params = measurement_sql(query)
        return [measurement_from_row(r) for r in await self._fetch(sql, params)]

    async def rollups(self, query: RollupQuery) -> list[Rollup]:
        """Per-minute rollups matching `query` (in buckets of `query.step`), oldest first
        (then by target, vantage); a minute is included when it overlaps [since, until)."""
        sql, params = rollup_sql(query)
        return [rollup_from_row(r) for r in await self._fetch(sql, params)]

    async def latest(self) -> list[Measurement]:
        """The newest measurement of every (target, vantage) pair, by target then vantage."""
        sql = f"SELECT {READ_COLUMNS} FROM latest ORDER BY target, vantage"
        return [measurement_from_row(r) for r in await self._fetch(sql, [])]

    async def incidents(self, query: IncidentQuery) -> list[Incident]:
        """Incidents matching `query`, newest first (by start, then id)."""
        sql, params = incident_sql(query)
        return [incident_from_row(r) for r in await self._fetch(sql, params)]

    async def incident(self, incident_id: str) -> Incident | None:
        """The incident with this id, or None."""
        rows = await self._fetch("SELECT data FROM incidents WHERE id = $1", [incident_id])
        return incident_from_row(rows[0]) if rows else None

    async def incident_events(self, incident_id: str) -> list[IncidentEvent]:
        """The event log of one incident, oldest first (empty for an unknown id)."""
        sql = "SELECT kind, ts, quiet, data FROM incident_events WHERE incident = $1 ORDER BY seq"
        return [incident_event_from_row(r) for r in await self._fetch(sql, [incident_id])]

    # -- network-level signals (see SignalStore and netvigil.store.postgres_signals) -----

    async def add_signals(
        self, samples: Sequence[SignalSample], events: Sequence[SignalEvent]
    ) -> int:
        """Store signal samples and events (each row once); how many rows were new."""
        if not samples and not events:
            return 0
        return await self._use(lambda c: postgres_signals.add_signals(c, samples, events))

    async def signal_samples(self, query: SignalQuery) -> list[SignalSample]:
        """The signal samples matching `query`, oldest first."""
        return await self._use(lambda c: postgres_signals.signal_samples(c, query))

    async def signal_events(self, query: SignalQuery) -> list[SignalEvent]:
        """The signal events matching `query`, oldest first."""
        return await self._use(lambda c: postgres_signals.signal_events(c, query))

    async def signal_buckets(self, query: BucketQuery) -> SignalBuckets:
        """One entity's signals in buckets, grouped by the server (`signal_buckets`)."""
        return await self._use(lambda c: postgres_signals.signal_buckets(c, query))

    async def _fetch(self, sql: str, params: Sequence[Any]) -> list[Any]:
        """The rows of `sql` (asyncpg records, read like tuples)."""
        rows: list[Any] = await self._use(lambda c: c.fetch(sql, *params))
        return rows

    async def _use(self, run: Callable[[Any], Awaitable[_T]]) -> _T:
        """What `run` returns on a pooled connection; database failures as StoreError.

        Called from another event loop than the one the store was opened on (a setup
        call made through `asyncio.run` in a thread), it uses a connection of its own
        for the call, as the pool's connections belong to the store's loop.
        """
        self._check_open()
        try:
            if asyncio.get_running_loop() is not self._loop:
                conn = await asyncpg.connect(self.dsn, timeout=self.options.connect_timeout_s)
                try:
                    return await run(conn)
                finally:
                    await conn.close()
            async with self._pool.acquire(timeout=self.options.connect_timeout_s) as conn:
                return await run(conn)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
            raise StoreError(_scrub(f"{self.label}: {exc}", self.dsn)) from None


if TYPE_CHECKING:

    def _is_a_store(store: PostgresStore) -> Store:
        return store

    def _is_an_admin_store(store: PostgresStore) -> AdminStore:
        return store

    def _is_a_signal_store(store: PostgresStore) -> SignalStore:
        return store

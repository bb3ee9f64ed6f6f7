"""The writer task of PostgresStore: the only write connection of a store, on the event loop.

The store `put()`s work on its queue (`netvigil.store.writes`); the task takes whatever
has queued up, in order, and writes it in as few transactions as order allows, so
batching follows load, as SQLite's writer thread does. Submitted measurements wait up
to `WriterSettings.group_commit_s` to share a transaction; anything someone waits on is
written at once. Incident snapshots and events are written in queue order with the
measurements around them (`queued_writer.write_steps`; rows: `postgres_rows`). The
rollups a write marked are folded in every `PostgresOptions.fold_every_s`
(`postgres_rollups`), on a prune, and on stop.

When the server goes away (restarts, the link drops, the disk fills: see
`is_connection_error`), an outage starts: what nobody waits on (submitted measurements
and incident events) stays queued, at most `max_backlog` items (the oldest beyond that
are dropped and counted), and callers waiting on a write are refused at once. The task
reconnects and tries the oldest queued work again after `retry_every_s`, doubling the
wait after each failed try up to `PostgresOptions.max_retry_s`; `WriteFailures` logs
the outage calmly and counts its failed tries. Writing again is safe: measurements are
idempotent by id, and rollups are recomputed from what is stored. (An incident event
whose commit reached the server just as the link dropped may be appended twice.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable
from typing import Any

from netvigil.errors import StoreError
from netvigil.model import Measurement
from netvigil.store.postgres_options import DEFAULT_OPTIONS, PostgresOptions
from netvigil.store.postgres_partitions import day_of
from netvigil.store.postgres_rows import (
    create_staging,
    staging_records,
    write_incidents,
    write_measurements,
)
from netvigil.store.postgres_schema import is_connection_error
from netvigil.store.postgres_upkeep import Upkeep
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
from netvigil.store.write_failures import WriteFailures
from netvigil.store.writer_settings import WriterSettings
from netvigil.store.writes import IncidentWrite, Item, Prune, Stop, resolve

__all__ = ["PostgresWriter"]

log = logging.getLogger(__name__)


class PostgresWriter(QueuedWriter):
    """The task owning the write connection; `connect()` opens a new one (migrated).

    `label` names the store in logs (a DSN without its password). `now` is the wall
    clock (prunes, partitions ahead), `monotonic` times group commits and retries.
    `failed` is set when the task stopped on an unexpected error.
    """

    def __init__(
        self,
        connect: Callable[[], Awaitable[Any]],
        *,
        label: str,
        retention_s: float | None,
        now: Callable[[], float],
        settings: WriterSettings,
        options: PostgresOptions = DEFAULT_OPTIONS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        failures = WriteFailures(
            label,
            meanwhile=(
                f"measurements stay queued (at most {settings.max_backlog}) and are retried"
                f" every {settings.retry_every_s:g} s or more (at most {options.max_retry_s:g} s)"
            ),
            summary_every_s=settings.summary_every_s,
            monotonic=monotonic,
        )
        super().__init__(label, settings, failures, log)
        self.label = label
        self.retention_s = retention_s
        self.options = options
        self.upkeep = Upkeep(options, now=now, monotonic=monotonic)
        self._connect = connect
        self._conn: Any = None
        self._now = now
        self._monotonic = monotonic
        self._tries = 0
        self._wake = asyncio.Event()
        self._urgent = asyncio.Event()
        self._last_commit = -math.inf
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        """Connect (raising StoreError when that fails) and start the task."""
        try:
            await self._connection()
        except Exception as exc:
            raise StoreError(f"{self.label}: {exc}") from exc
        self._loop = asyncio.get_running_loop()
        self._task = asyncio.create_task(self._run(), name="netvigil-store-write")

    def put(self, item: Item) -> None:
        """Queue work; never blocks. From another thread than the task's loop, the task
        is woken through that loop (which must be running)."""
        self.queue.put(item)
        urgent = type(item) is not Measurement
        try:
            here = asyncio.get_running_loop()
        except RuntimeError:
            here = None
        if here is self._loop or self._loop is None:
            self._signal(urgent)
        else:
            self._loop.call_soon_threadsafe(self._signal, urgent)

    def _signal(self, urgent: bool) -> None:
        if urgent:
            self._urgent.set()
        self._wake.set()

    async def join(self, timeout_s: float) -> bool:
        """Wait until the task has ended (after a `Stop`, or a failure), at most
        `timeout_s`; whether it has ended. Past the timeout the task is cancelled (what
        is still queued stays there: see `WriteQueue.fail_all`)."""
        if self._task is None:
            return True
        done, _ = await asyncio.wait([self._task], timeout=timeout_s)
        if done:
            return True
        self._task.cancel()
        with contextlib.suppress(BaseException):
            await self._task
        return False

    async def _connection(self) -> Any:
        """The write connection, opened (staging tables, partitions known and ahead) when
        there is none."""
        if self._conn is not None and not self._conn.is_closed():
            return self._conn
        try:
            conn = await self._connect()
        except StoreError:
            raise
        except Exception as exc:  # refused, unreachable, bad credentials: the server's side
            raise ConnectionError(f"cannot connect: {exc}") from exc
        try:
            await create_staging(conn)
            await self.upkeep.opened(conn)
        except BaseException:
            conn.terminate()
            raise
        self._conn = conn
        return conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            self._conn.terminate()
            self._conn = None

    async def _run(self) -> None:
        try:
            await self._write_loop()
        except asyncio.CancelledError:
            raise
        except BaseException as exc:  # a bug: fail loudly rather than hang callers
            log.exception("store writer stopped")
            self.failed = exc
            self.queue.fail_all(StoreError(f"{self.label}: store writer stopped: {exc}"))
        finally:
            if self._conn is not None:
                conn, self._conn = self._conn, None
                try:
                    await asyncio.wait_for(conn.close(), 2.0)
                except BaseException:
                    conn.terminate()

    async def _write_loop(self) -> None:
        settings = self.settings
        while True:
            if self.failures.failing:
                if await self._retry():
                    return
                continue
            if not self.queue.backlog:
                await self._wait_for_work()
            while not self.failures.failing:
                if (
                    self.retention_s is not None
                    and self._now() - self.upkeep.last_prune >= settings.prune_every_s
                ):
                    await self._prune_quietly(self._now() - self.retention_s)
                    if self.failures.failing:
                        break
                if self.upkeep.fold_wait_s() <= 0:
                    await self._fold_quietly()
                    if self.failures.failing:
                        break
                items = self.queue.take(settings.max_transaction)
                if not items:
                    break
                if await self._process(items):
                    return

    async def _wait_for_work(self) -> None:
        """Sleep until work is queued (or a prune is due), then wait out the group commit
        delay unless someone waits on the work."""
        settings = self.settings
        timeout = None if self.retention_s is None else settings.prune_every_s
        if self.upkeep.due:
            timeout = min(timeout or math.inf, max(self.upkeep.fold_wait_s(), 0.0))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)
        self._wake.clear()
        delay = self._last_commit + settings.group_commit_s - self._monotonic()
        if delay > 0 and self.queue and not self._urgent.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._urgent.wait(), delay)
        self._urgent.clear()
        self._last_commit = self._monotonic()

    async def _retry(self) -> bool:
        """During an outage: wait for the next try (refusing at once whoever waits on a
        write), keep what nobody waits on within `max_backlog`, reconnect and try the
        oldest of it again. True once the task is to end."""
        delay = self._retry_at - self._monotonic()
        if delay > 0 and not self.queue.stopping:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._urgent.wait(), delay)
        self._urgent.clear()
        self._wake.clear()
        if not self._hold_for_retry(self._monotonic):
            return False  # woken to refuse a caller
        try:
            await self._connection()
        except Exception as exc:
            self._note_failure("a reconnection", exc)
            if self.queue.stopping:
                self._give_up()
                return True
            return False
        items = self.queue.take(self.settings.retry_transaction)
        if items:
            return await self._process(items)
        self._committed()  # connected again, nothing was waiting
        return False

    def _note_failure(self, what: str, exc: BaseException) -> None:
        """Count a failed try; the next one comes after a wait that doubles, bounded."""
        self.failures.failed(what, exc, queued=len(self.queue), dropped=self.dropped)
        self._drop_connection()
        self._tries += 1
        wait = self.settings.retry_every_s * 2.0 ** min(self._tries - 1, 16)
        self._retry_at = self._monotonic() + min(wait, self.options.max_retry_s)

    def _committed(self) -> None:
        self._tries = 0
        self.failures.succeeded(dropped=self.dropped)

    async def _process(self, items: list[Item]) -> bool:
        """Write one drained run of queue items in order; True when the task is to end."""
        self._in_hand = sum(type(item) is Measurement for item in items)
        try:
            return await self._write_in_order(items)
        except Outage as outage:
            return self._left_by(outage)
        finally:
            self._in_hand = 0

    async def _write_in_order(self, items: list[Item]) -> bool:
        """`_process` until a write fails on the server (`Outage`)."""
        for at, step in write_steps(items):
            try:
                if isinstance(step, MeasurementRun):
                    await self._write(step.segments)
                elif isinstance(step, IncidentRun):
                    await self._write_incidents(step.notes)
                elif isinstance(step, Stop):
                    if self.upkeep.due:
                        await self._fold_quietly()
                    return True
                elif isinstance(step, Prune):
                    try:
                        resolve(step.future, await self._prune(step.older_than))
                    except StoreError as exc:  # failed on what it deletes
                        resolve(step.future, exc)
                else:
                    raise TypeError(f"the PostgreSQL writer cannot write {step!r}")
            except Outage as outage:
                outage.unwritten.extend(items[at:])
                raise
        return False

    async def _prune(self, older_than: float) -> int:
        """Drop and delete raw rows older than `older_than` (`DayPartitions.prune`).

        Raises Outage when the server fails, StoreError when the prune itself does.
        """
        try:
            conn = await self._connection()
            deleted = await self.upkeep.prune(conn, older_than)
        except Exception as exc:
            if is_connection_error(exc):
                raise Outage(exc, "a prune", []) from exc
            with contextlib.suppress(Exception):  # the cache may name dropped partitions
                await self.upkeep.partitions.load(self._conn)
            raise StoreError(f"{self.label}: prune failed: {exc}") from exc
        self._committed()
        return deleted

    async def _prune_quietly(self, older_than: float) -> None:
        """The periodic retention prune: failures are logged (an outage starts on a
        server failure), never raised."""
        try:
            await self._prune(older_than)
        except Outage as outage:
            self._note_failure(outage.what, outage.cause)
        except StoreError as exc:
            log.error("%s", exc)

    async def _fold_quietly(self) -> None:
        """The periodic fold: failures are logged (an outage starts on a server failure),
        never raised; the marks stay for the next fold."""
        try:
            await self.upkeep.fold(await self._connection())
        except Exception as exc:
            if is_connection_error(exc):
                self._note_failure("a rollup fold", exc)
            else:
                log.error("%s: folding rollups failed: %s", self.label, exc)

    async def _write_incidents(self, notes: list[IncidentWrite]) -> None:
        """Write incident snapshots and events in one transaction (each alone on failure).

        Raises Outage when that fails on the server.
        """
        if not notes:
            return
        try:
            await self._commit_incidents(notes)
        except Exception as exc:
            if is_connection_error(exc):
                raise Outage(exc, f"{len(notes)} incident writes", list(notes)) from exc
            for at, note in enumerate(notes):
                try:
                    await self._commit_incidents([note])
                except Exception as exc:
                    if is_connection_error(exc):
                        raise Outage(exc, "an incident write", list(notes[at:])) from exc
                    self._incident_failed(note, exc)
                else:
                    resolve_written([note])
            return
        resolve_written(notes)

    async def _commit_incidents(self, notes: list[IncidentWrite]) -> None:
        conn = await self._connection()
        async with conn.transaction():
            await write_incidents(conn, notes)
        self._committed()

    async def _write(self, segments: list[Segment]) -> None:
        """Insert segments in one transaction (`latest` and their rollup marks with them).

        When that fails on the server, Outage is raised with the segments' items. When
        it fails otherwise, each batch and each submitted measurement is written alone,
        so a bad one fails only itself: a batch is refused whole (its `add()` raises), a
        submitted measurement is dropped and logged.
        """
        if not segments:
            return
        try:
            counts = await self._commit(segments)
        except Exception as exc:
            if is_connection_error(exc):
                what = f"{sum(len(seg.items) for seg in segments)} measurements"
                raise Outage(exc, what, items_of(segments)) from exc
            with contextlib.suppress(Exception):  # another store may have dropped a day
                await self.upkeep.partitions.load(self._conn)
            await self._write_each(segments)
            return
        resolve_counts(segments, counts)

    async def _write_each(self, segments: list[Segment]) -> None:
        units = units_of(segments)
        dropped = self.dropped
        first: StoreError | None = None
        for at, unit in enumerate(units):
            try:
                [count] = await self._commit([unit], careful=True)
            except Exception as exc:
                if is_connection_error(exc):
                    what = f"{len(unit.items)} measurements"
                    raise Outage(exc, what, items_of(units[at:])) from exc
                error = self._measurements_failed(unit, exc)
                first = first or error
                continue
            resolve_counts([unit], [count])
        self._log_dropped(dropped, first)

    async def _commit(self, segments: list[Segment], *, careful: bool = False) -> list[int]:
        """One transaction for `segments`; each one's count of new rows. The partitions
        the rows need are created first, each in its own statement. `careful`: see
        `write_measurements` (a write tried again alone)."""
        records = staging_records([seg.items for seg in segments])
        conn = await self._connection()
        upkeep = self.upkeep
        await upkeep.partitions.ensure(conn, {day_of(r[2]) for r in records})
        async with conn.transaction():
            counts = await write_measurements(
                conn, records, len(segments), upkeep.pruned_before, careful=careful
            )
        self._committed()
        upkeep.written(sum(counts))
        return counts

"""Stored network-level signals: the samples and events of `netvigil.signal`, kept so a
network's chart and an incident's network-plane evidence survive a restart.

    await store.add_signals(samples, events)             # idempotent: a row once
    await store.signal_samples(SignalQuery("example-isp", since=t0, until=t1))
    await store.signal_events(SignalQuery("example-isp", since=t0, until=t1))

Both stores implement `SignalStore` (tables `signal_samples` and `signal_events`,
migrations `0005_signals.sql` for SQLite and `0003_signals.sql` for PostgreSQL). This
module holds the protocol, the query and what both backends share: the SQL text (with
`?` placeholders; PostgreSQL numbers them) and the row converters. The SQLite writer
runs `insert_signals(...)` in a transaction of its own, like an admin table change.

Signal rows follow the store's retention like raw measurements: the prune that deletes
measurements older than `retention_days` deletes samples and events older than that too
(`prune_signals` here for SQLite, `postgres_signals.prune_signals` for PostgreSQL).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from netvigil.signal import SignalEvent, SignalSample

if TYPE_CHECKING:
    from netvigil.store.signal_buckets import BucketQuery, SignalBuckets

__all__ = [
    "EVENT_COLUMNS",
    "PREFIX_PEERS",
    "SAMPLE_COLUMNS",
    "SignalQuery",
    "SignalStore",
    "event_from_row",
    "event_row",
    "events_sql",
    "insert_signals",
    "insert_sql",
    "prune_signals",
    "sample_from_row",
    "sample_row",
    "samples_sql",
    "signal_store_of",
]

PREFIX_PEERS = "bgp_prefix_peers:"
"""The signal name of one prefix's peer count (`netvigil.pipeline.signal_record`), then
the prefix: `bgp_prefix_peers:192.0.2.0/24`."""

SIGNAL_TABLES = ("signal_samples", "signal_events")
"""The tables of network-level signals, both keyed by (entity, t, ...)."""

SAMPLE_COLUMNS = ("entity", "t", "signal", "source", "value")
EVENT_COLUMNS = ("entity", "t", "kind", "prefix", "source", "peers", "peers_total", "detail")

Row = tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class SignalQuery:
    """Which signal rows to read: one entity, `since` (inclusive) to `until` (exclusive),
    only the `signals` named (None: all; events ignore it), oldest first (newest first
    with `newest_first`), at most `limit`."""

    entity: str
    since: float | None = None
    until: float | None = None
    signals: Sequence[str] | None = None
    limit: int = 100_000
    newest_first: bool = False
    """Read backwards from `until` (the latest before a time: `limit=1`)."""


@runtime_checkable
class SignalStore(Protocol):
    """Where network-level signals are kept (both stores; a wrapper may have none)."""

    async def add_signals(
        self, samples: Sequence[SignalSample], events: Sequence[SignalEvent]
    ) -> int:
        """Store samples and events; a row already stored is kept once. How many were new."""
        ...

    async def signal_samples(self, query: SignalQuery) -> list[SignalSample]:
        """The samples matching `query`, oldest first (or newest first, as it asks)."""
        ...

    async def signal_events(self, query: SignalQuery) -> list[SignalEvent]:
        """The events matching `query`, oldest first (or newest first, as it asks)."""
        ...

    async def signal_buckets(self, query: BucketQuery) -> SignalBuckets:
        """One entity's signals in time buckets, grouped by the database
        (`netvigil.store.signal_buckets`)."""
        ...


def signal_store_of(store: object) -> SignalStore | None:
    """The store keeping signals: `store` itself, or the store it wraps (its `store`
    attribute, as `TeeStore` has); None for a store without them."""
    for _depth in range(8):  # a bound, should a wrapper ever wrap itself
        if isinstance(store, SignalStore):
            return store
        store = getattr(store, "store", None)
        if store is None:
            break
    return None


def sample_row(s: SignalSample) -> Row:
    """A sample as a row of SAMPLE_COLUMNS."""
    return (s.entity, s.t, s.signal, s.source, s.value)


def event_row(e: SignalEvent) -> Row:
    """An event as a row of EVENT_COLUMNS."""
    return (e.entity, e.t, e.kind, e.prefix, e.source, e.peers, e.peers_total, e.detail)


def sample_from_row(r: Row) -> SignalSample:
    """A row of SAMPLE_COLUMNS as a SignalSample."""
    return SignalSample(entity=r[0], signal=r[2], t=r[1], value=r[4], source=r[3])


def event_from_row(r: Row) -> SignalEvent:
    """A row of EVENT_COLUMNS as a SignalEvent."""
    return SignalEvent(
        entity=r[0],
        kind=r[2],
        t=r[1],
        prefix=r[3],
        peers=r[5],
        peers_total=r[6],
        detail=r[7],
        source=r[4],
    )


def _where(query: SignalQuery, *, with_signals: bool) -> tuple[str, list[Any]]:
    clauses = ["entity = ?"]
    params: list[Any] = [query.entity]
    if query.since is not None:
        clauses.append("t >= ?")
        params.append(query.since)
    if query.until is not None:
        clauses.append("t < ?")
        params.append(query.until)
    if with_signals and query.signals is not None:
        wanted = list(query.signals) or [""]
        clauses.append(f"signal IN ({', '.join('?' for _ in wanted)})")
        params += wanted
    return " AND ".join(clauses), params


def _order(query: SignalQuery, columns: Sequence[str]) -> str:
    """The ORDER BY list: every column backwards when reading newest first, so that the
    rows read backwards are in the very order read forwards."""
    way = " DESC" if query.newest_first else ""
    return ", ".join(f"{c}{way}" for c in columns)


def samples_sql(query: SignalQuery) -> tuple[str, list[Any]]:
    """The SELECT of `signal_samples` for `query` (columns SAMPLE_COLUMNS), `?` placeholders."""
    where, params = _where(query, with_signals=True)
    sql = (
        f"SELECT {', '.join(SAMPLE_COLUMNS)} FROM signal_samples WHERE {where}"
        f" ORDER BY {_order(query, ('t', 'signal', 'source'))} LIMIT ?"
    )
    return sql, [*params, query.limit]


def events_sql(query: SignalQuery) -> tuple[str, list[Any]]:
    """The SELECT of `signal_events` for `query` (columns EVENT_COLUMNS), `?` placeholders."""
    where, params = _where(query, with_signals=False)
    sql = (
        f"SELECT {', '.join(EVENT_COLUMNS)} FROM signal_events WHERE {where}"
        f" ORDER BY {_order(query, ('t', 'kind', 'prefix', 'source'))} LIMIT ?"
    )
    return sql, [*params, query.limit]


def insert_sql(table: str, columns: Sequence[str], conflict: str) -> str:
    """An INSERT of one row into `table` that keeps a row already there (`conflict` is the
    backend's words for it: "OR IGNORE" before INTO, or "ON CONFLICT DO NOTHING" after)."""
    marks = ", ".join("?" for _ in columns)
    head, tail = (conflict, "") if conflict.startswith("OR") else ("", f" {conflict}")
    return f"INSERT {head} INTO {table} ({', '.join(columns)}) VALUES ({marks}){tail}"


def insert_signals(
    samples: Sequence[SignalSample], events: Sequence[SignalEvent]
) -> Callable[[sqlite3.Connection], int]:
    """The SQLite change storing `samples` and `events` (rows already there are kept);
    it returns how many rows were new."""
    sample_rows = [sample_row(s) for s in samples]
    event_rows = [event_row(e) for e in events]

    def run(conn: sqlite3.Connection) -> int:
        before = conn.total_changes
        conn.executemany(insert_sql("signal_samples", SAMPLE_COLUMNS, "OR IGNORE"), sample_rows)
        conn.executemany(insert_sql("signal_events", EVENT_COLUMNS, "OR IGNORE"), event_rows)
        return conn.total_changes - before

    return run


_ENTITIES = (
    "WITH RECURSIVE e(entity) AS (SELECT MIN(entity) FROM {table} UNION ALL"
    " SELECT (SELECT MIN(entity) FROM {table} WHERE entity > e.entity) FROM e"
    " WHERE e.entity IS NOT NULL) SELECT entity FROM e WHERE entity IS NOT NULL"
)
"""The entities of a signal table, one primary-key seek each (a DISTINCT would read
every row)."""


def prune_signals(conn: sqlite3.Connection, older_than: float) -> int:
    """Delete the signal samples and events older than `older_than` (epoch s) from a
    SQLite connection with no transaction open: one transaction per entity and table, each
    a range of the primary key; how many rows went. Raises sqlite3.Error."""
    deleted = 0
    for table in SIGNAL_TABLES:
        entities = [row[0] for row in conn.execute(_ENTITIES.format(table=table))]
        for entity in entities:
            conn.execute("BEGIN IMMEDIATE")
            try:
                cursor = conn.execute(
                    f"DELETE FROM {table} WHERE entity = ? AND t < ?", (entity, older_than)
                )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            deleted += cursor.rowcount
    return deleted

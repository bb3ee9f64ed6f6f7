"""The network-level signals of the PostgreSQL store (`netvigil.store.signals`).

Each function takes an asyncpg connection from the store's pool; the SQL is the SQLite
store's, its `?` placeholders numbered (`$1`, `$2`, ...), and a row already stored is
kept once (`ON CONFLICT DO NOTHING`), as there. `prune_signals` is the retention of
these tables, run in the transaction of the store's prune.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from typing import Any

from netvigil.signal import SignalEvent, SignalSample
from netvigil.store.signal_buckets import BUCKET_POSTGRES, BucketQuery, SignalBuckets, read_buckets
from netvigil.store.signals import (
    EVENT_COLUMNS,
    SAMPLE_COLUMNS,
    SIGNAL_TABLES,
    SignalQuery,
    event_from_row,
    event_row,
    events_sql,
    insert_sql,
    sample_from_row,
    sample_row,
    samples_sql,
)

__all__ = [
    "add_signals",
    "numbered",
    "prune_signals",
    "signal_buckets",
    "signal_events",
    "signal_samples",
]


def numbered(sql: str) -> str:
    """`sql` with each `?` placeholder numbered as PostgreSQL wants ($1, $2, ...)."""
    counter = itertools.count(1)
    return re.sub(r"\?", lambda _: f"${next(counter)}", sql)


_INSERT_SAMPLE = numbered(insert_sql("signal_samples", SAMPLE_COLUMNS, "ON CONFLICT DO NOTHING"))
_INSERT_EVENT = numbered(insert_sql("signal_events", EVENT_COLUMNS, "ON CONFLICT DO NOTHING"))


async def add_signals(
    conn: Any, samples: Sequence[SignalSample], events: Sequence[SignalEvent]
) -> int:
    """Store samples and events in one transaction; how many rows were new."""
    new = 0
    async with conn.transaction():
        for sql, rows in (
            (_INSERT_SAMPLE, [sample_row(s) for s in samples]),
            (_INSERT_EVENT, [event_row(e) for e in events]),
        ):
            for row in rows:
                status: str = await conn.execute(sql, *row)
                new += int(status.rsplit(" ", 1)[-1])
    return new


async def signal_samples(conn: Any, query: SignalQuery) -> list[SignalSample]:
    """The samples matching `query`, oldest first."""
    sql, params = samples_sql(query)
    return [sample_from_row(tuple(r)) for r in await conn.fetch(numbered(sql), *params)]


async def signal_events(conn: Any, query: SignalQuery) -> list[SignalEvent]:
    """The events matching `query`, oldest first."""
    sql, params = events_sql(query)
    return [event_from_row(tuple(r)) for r in await conn.fetch(numbered(sql), *params)]


async def prune_signals(conn: Any, older_than: float) -> int:
    """Delete the signal samples and events older than `older_than` (epoch s); how many
    rows went. Run it inside the prune's transaction."""
    deleted = 0
    for table in SIGNAL_TABLES:
        status: str = await conn.execute(
            f"DELETE FROM {table} WHERE t < $1::double precision", older_than
        )
        deleted += int(status.rsplit(" ", 1)[-1])
    return deleted


async def signal_buckets(conn: Any, query: BucketQuery) -> SignalBuckets:
    """`query`'s signals in buckets, grouped by the server (`netvigil.store.signal_buckets`)."""

    async def fetch(sql: str, params: list[Any]) -> list[Any]:
        rows: list[Any] = await conn.fetch(numbered(sql), *params)
        return rows

    return await read_buckets(query, BUCKET_POSTGRES, fetch, lambda q: signal_events(conn, q))

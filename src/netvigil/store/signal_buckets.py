"""One entity's stored signals in time buckets, computed by the database.

    found = await store.signal_buckets(BucketQuery("example-isp", since, until, step=3600))
    found.buckets        # per signal and bucket: lowest, highest and last value
    found.before         # per signal: the newest sample in the `lookback_s` before `since`
    found.event_counts   # per event kind and bucket: how many
    found.events         # the newest `events_limit` events of the range, oldest first

A chart of 90 days is a few thousand buckets whatever the number of samples behind it:
the samples are grouped in SQL (`GROUP BY signal, bucket`), so only the buckets leave
the database. Bucket `i` holds the samples with `since + i * step <= t < since + (i + 1)
* step` (the index computed as the floor of `(t - since) / step`); its `last` is the
sample of the greatest `t` (of equal times, the greatest `source`), as a read of the
samples oldest first would end with. Both stores implement `signal_buckets` with the SQL
here: `BUCKET_SQLITE` / `BUCKET_POSTGRES` is each backend's floor of the division, and
PostgreSQL numbers the `?` placeholders (`postgres_signals.numbered`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from netvigil.signal import SignalEvent, SignalSample
from netvigil.store.signals import SignalQuery

__all__ = [
    "BUCKET_POSTGRES",
    "BUCKET_SQLITE",
    "COUNTED_KINDS",
    "BucketQuery",
    "EventCount",
    "SignalBucket",
    "SignalBuckets",
    "before_sql",
    "bucket_sql",
    "event_counts_sql",
    "events_query",
    "newest_rows",
    "read_buckets",
    "statements",
]

Rows = Sequence[Sequence[Any]]

BUCKET_SQLITE = "CAST((t - ?) / ? AS INTEGER)"
"""The bucket index in SQLite (t >= since, so truncation is the floor)."""
BUCKET_POSTGRES = "CAST(floor((t - ?) / ?) AS BIGINT)"
"""The bucket index in PostgreSQL (CAST alone would round)."""

_LOOKUP = (
    "CROSS JOIN signal_samples x WHERE x.entity = ? AND x.t = g.last_t AND x.signal = g.signal"
)
"""The samples at each group's last time, looked up by primary key for each group (SQLite
takes a CROSS JOIN's left side as the outer loop; PostgreSQL plans it as any join)."""

COUNTED_KINDS = ("withdrawal", "announcement", "blackhole")
"""The event kinds counted per bucket."""


@dataclass(frozen=True, slots=True)
class BucketQuery:
    """One entity's signals over [since, until) in buckets of `step` seconds, the newest
    sample of each signal in the `lookback_s` before `since`, and at most `events_limit`
    events (the newest)."""

    entity: str
    since: float
    until: float
    step: float
    lookback_s: float = 86_400.0
    events_limit: int = 500

    def __post_init__(self) -> None:
        if not self.step > 0 or not self.until > self.since:
            raise ValueError(f"no buckets of {self.step:g} s in [{self.since:g}, {self.until:g})")


@dataclass(frozen=True, slots=True)
class SignalBucket:
    """The samples of one signal in bucket `index`: the lowest and highest value, and the
    time and value of the last."""

    signal: str
    index: int
    low: float
    high: float
    last_t: float
    last_value: float


@dataclass(frozen=True, slots=True)
class EventCount:
    """How many events of `kind` fell in bucket `index`."""

    kind: str
    index: int
    count: int


@dataclass(slots=True)
class SignalBuckets:
    """What `signal_buckets` answers (see the module docstring)."""

    buckets: list[SignalBucket] = field(default_factory=list)
    before: list[SignalSample] = field(default_factory=list)
    event_counts: list[EventCount] = field(default_factory=list)
    events: list[SignalEvent] = field(default_factory=list)


async def read_buckets(
    query: BucketQuery,
    bucket: str,
    fetch: Callable[[str, list[Any]], Awaitable[Rows]],
    events: Callable[[SignalQuery], Awaitable[list[SignalEvent]]],
) -> SignalBuckets:
    """`query` answered by a store: `fetch(sql, params)` runs a statement of `?`
    placeholders, `events` reads events; `bucket` is the store's index expression."""
    found = [await fetch(sql, params) for sql, params in statements(query, bucket)]
    return newest_rows(query, found[0], found[1], found[2], await events(events_query(query)))


def statements(query: BucketQuery, bucket: str) -> list[tuple[str, list[Any]]]:
    """The three statements of `query` (`bucket_sql`, `before_sql`, `event_counts_sql`),
    whose rows `newest_rows` takes in that order."""
    return [bucket_sql(query, bucket), before_sql(query), event_counts_sql(query, bucket)]


def events_query(query: BucketQuery) -> SignalQuery:
    """The read of the range's newest `events_limit` events (newest first)."""
    return SignalQuery(
        query.entity,
        since=query.since,
        until=query.until,
        limit=query.events_limit,
        newest_first=True,
    )


def bucket_sql(query: BucketQuery, bucket: str) -> tuple[str, list[Any]]:
    """The buckets of `query`'s samples, `bucket` the backend's index expression: rows of
    (signal, index, low, high, last t, source, value), one per sample at the last time of
    its bucket (`newest_rows` keeps the one of the greatest source)."""
    sql = (
        "WITH g AS ("
        f"SELECT signal, {bucket} AS b, MIN(value) AS lo, MAX(value) AS hi, MAX(t) AS last_t"
        " FROM signal_samples WHERE entity = ? AND t >= ? AND t < ? GROUP BY signal, b)"
        " SELECT g.signal, g.b, g.lo, g.hi, g.last_t, x.source, x.value"
        f" FROM g {_LOOKUP}"
    )
    since, step, until = float(query.since), float(query.step), float(query.until)
    return sql, [since, step, query.entity, since, until, query.entity]


def before_sql(query: BucketQuery) -> tuple[str, list[Any]]:
    """The newest sample of each signal in the `lookback_s` before `since`: rows of
    (signal, t, source, value), one per sample at that time (see `newest_rows`)."""
    sql = (
        "WITH g AS (SELECT signal, MAX(t) AS last_t FROM signal_samples"
        " WHERE entity = ? AND t >= ? AND t < ? GROUP BY signal)"
        f" SELECT g.signal, g.last_t, x.source, x.value FROM g {_LOOKUP}"
    )
    start = float(query.since - query.lookback_s)
    return sql, [query.entity, start, float(query.since), query.entity]


def event_counts_sql(query: BucketQuery, bucket: str) -> tuple[str, list[Any]]:
    """The events of COUNTED_KINDS per kind and bucket: rows of (kind, index, count)."""
    kinds = ", ".join("?" for _ in COUNTED_KINDS)
    sql = (
        f"SELECT kind, {bucket} AS b, COUNT(*) FROM signal_events"
        f" WHERE entity = ? AND t >= ? AND t < ? AND kind IN ({kinds}) GROUP BY kind, b"
    )
    since, step, until = float(query.since), float(query.step), float(query.until)
    return sql, [since, step, query.entity, since, until, *COUNTED_KINDS]


def newest_rows(
    query: BucketQuery,
    bucket_rows: Iterable[Sequence[Any]],
    before_rows: Iterable[Sequence[Any]],
    count_rows: Iterable[Sequence[Any]],
    newest_events: Iterable[SignalEvent],
) -> SignalBuckets:
    """The rows of the three statements and the events read newest first as
    `SignalBuckets`: of several samples at a bucket's last time, the one of the greatest
    source; indexes kept within the range's buckets (a time a rounding puts on the edge
    goes to the last one)."""
    last = _last_bucket(query)
    buckets: dict[tuple[str, int], tuple[str, SignalBucket]] = {}
    for signal, b, low, high, last_t, source, value in bucket_rows:
        index = min(int(b), last)
        seen = buckets.get((signal, index))
        if seen is None or source > seen[0]:
            buckets[(signal, index)] = (
                source,
                SignalBucket(signal, index, low, high, last_t, value),
            )
    before: dict[str, SignalSample] = {}
    for signal, t, source, value in before_rows:
        seen_sample = before.get(signal)
        if seen_sample is None or source > seen_sample.source:
            before[signal] = SignalSample(query.entity, signal, t, value, source)
    counts: dict[tuple[str, int], int] = {}
    for kind, b, n in count_rows:
        key = (kind, min(int(b), last))
        counts[key] = counts.get(key, 0) + int(n)
    return SignalBuckets(
        buckets=[bucket for _, bucket in sorted(buckets.values(), key=_order)],
        before=[before[s] for s in sorted(before)],
        event_counts=[EventCount(k, i, n) for (k, i), n in sorted(counts.items())],
        events=list(newest_events)[::-1],
    )


def _order(pair: tuple[str, SignalBucket]) -> tuple[str, int]:
    return pair[1].signal, pair[1].index


def _last_bucket(query: BucketQuery) -> int:
    count = -(-(query.until - query.since) // query.step)  # ceil
    return max(0, int(count) - 1)

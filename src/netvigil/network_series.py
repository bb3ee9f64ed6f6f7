"""One network's stored signals as a chart's series: values per time bucket.

    series = await read_network_series(store, "example-isp", since, until, step=3600)

A bucket holds the lowest value of its samples (a peers total: the highest), so a short
dip shows; a bucket without samples carries the last value on, as BGP samples come only
when something changes (a `blocks_up` value, from periodic rounds, is carried at most
`BLOCK_CARRY_S`). The value the range starts with is the newest in the `LOOKBACK_S`
before it. Withdrawals, announcements and blackholes are counted per bucket.

`read_network_series` has the database group the samples (`SignalStore.signal_buckets`),
so a range of 90 days costs its buckets, not its samples; `bucket_samples` and
`count_events` group samples and events already read the same way (the incident
report's record, `netvigil.network_plane.NetworkRecord`), and `series_of` makes the
series of either.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from netvigil.signal import SignalEvent, SignalSample
from netvigil.store.signal_buckets import BucketQuery, EventCount, SignalBucket
from netvigil.store.signals import PREFIX_PEERS, SignalStore

__all__ = [
    "BLOCKS_UP",
    "BLOCK_CARRY_S",
    "LOOKBACK_S",
    "MAX_BUCKETS",
    "PEERS_SEEING",
    "PEERS_TOTAL",
    "VISIBILITY",
    "NetworkSeries",
    "bucket_count",
    "bucket_samples",
    "count_events",
    "read_network_series",
    "series_of",
]

VISIBILITY = "bgp_visibility"
BLOCKS_UP = "blocks_up"
PEERS_SEEING = "bgp_peers_seeing"
PEERS_TOTAL = "bgp_peers_total"

LOOKBACK_S = 86_400.0
"""How far before a range the value it starts with is looked for."""
BLOCK_CARRY_S = 900.0
"""How long a `blocks_up` value stands for the buckets after it without a round."""
MAX_BUCKETS = 5_000
"""At most this many buckets in one series."""


@dataclass(frozen=True, slots=True)
class NetworkSeries:
    """One network's signals in buckets of `step` seconds from `since` (`times` are the
    buckets' starts). A value is None where nothing is known; `prefixes` gives per
    prefix the peers routing it; the event counts are events per bucket (one event
    gathers every peer that withdrew a prefix within a second)."""

    network: str
    since: float
    until: float
    step: float
    times: list[float]
    visibility: list[float | None]
    peers_seeing: list[float | None]
    peers_total: list[float | None]
    blocks_up: list[float | None]
    withdrawals: list[int]
    announcements: list[int]
    blackholes: list[int]
    prefixes: dict[str, list[float | None]]
    events: list[SignalEvent]
    complete: bool = True
    """False when the range held too many rows: its oldest part is left empty."""

    @property
    def empty(self) -> bool:
        """Whether no signal says anything of the network in the range."""
        return (
            all(v is None for v in self.visibility)
            and all(v is None for v in self.blocks_up)
            and not self.events
        )


def bucket_count(since: float, until: float, step: float) -> int:
    """How many buckets of `step` cover [since, until) (at least one); ValueError past
    MAX_BUCKETS."""
    count = max(1, math.ceil((until - since) / step))
    if count > MAX_BUCKETS:
        raise ValueError(f"{count} buckets of {step:g} s: at most {MAX_BUCKETS}")
    return count


def _index(t: float, since: float, step: float, count: int) -> int:
    return min(count - 1, int((t - since) // step))


def bucket_samples(
    samples: Iterable[SignalSample], since: float, step: float, count: int
) -> list[SignalBucket]:
    """`samples` (oldest first, as the store reads them) grouped per signal and bucket,
    as `SignalStore.signal_buckets` groups them in SQL."""
    cells: dict[tuple[str, int], SignalBucket] = {}
    for s in samples:
        key = (s.signal, _index(s.t, since, step, count))
        seen = cells.get(key)
        low, high = (s.value, s.value) if seen is None else (seen.low, seen.high)
        cells[key] = SignalBucket(s.signal, key[1], min(low, s.value), max(high, s.value),
                                  s.t, s.value)  # fmt: skip
    return list(cells.values())


def count_events(
    events: Iterable[SignalEvent], since: float, step: float, count: int
) -> list[EventCount]:
    """How many events of each kind fell in each bucket."""
    counts: dict[tuple[str, int], int] = {}
    for e in events:
        key = (e.kind, _index(e.t, since, step, count))
        counts[key] = counts.get(key, 0) + 1
    return [EventCount(kind, i, n) for (kind, i), n in counts.items()]


def series_of(
    network: str,
    since: float,
    until: float,
    step: float,
    *,
    buckets: Iterable[SignalBucket] = (),
    before: Mapping[str, SignalSample] | None = None,
    counts: Iterable[EventCount] = (),
    events: Sequence[SignalEvent] = (),
    complete: bool = True,
) -> NetworkSeries:
    """The series of a network from its signals' `buckets`, the last sample of each
    signal before `since`, the event `counts` per bucket and the `events` listed
    (ValueError past MAX_BUCKETS); without any, every value is None."""
    count = bucket_count(since, until, step)
    before = before or {}
    by_signal: dict[str, dict[int, SignalBucket]] = {name: {} for name in before}
    for b in buckets:
        by_signal.setdefault(b.signal, {})[b.index] = b
    values = {
        name: _filled(name, cells, before.get(name), since, step, count)
        for name, cells in sorted(by_signal.items())
    }
    per_kind: dict[str, list[int]] = {}
    for c in counts:
        per_kind.setdefault(c.kind, [0] * count)[min(c.index, count - 1)] += c.count
    none: list[float | None] = [None] * count
    zero = [0] * count
    return NetworkSeries(
        network=network,
        since=since,
        until=until,
        step=step,
        times=[since + i * step for i in range(count)],
        visibility=values.get(VISIBILITY, none),
        peers_seeing=values.get(PEERS_SEEING, none),
        peers_total=values.get(PEERS_TOTAL, none),
        blocks_up=values.get(BLOCKS_UP, none),
        withdrawals=per_kind.get("withdrawal", zero),
        announcements=per_kind.get("announcement", zero),
        blackholes=per_kind.get("blackhole", zero),
        prefixes={
            n.removeprefix(PREFIX_PEERS): v for n, v in values.items() if n.startswith(PREFIX_PEERS)
        },
        events=list(events),
        complete=complete,
    )


def _filled(
    name: str,
    cells: Mapping[int, SignalBucket],
    before: SignalSample | None,
    since: float,
    step: float,
    count: int,
) -> list[float | None]:
    """One signal's value per bucket: the lowest of the bucket (of a total: the highest),
    else the last value carried on."""
    highest = name == PEERS_TOTAL
    carry_s = BLOCK_CARRY_S if name == BLOCKS_UP else math.inf
    last = None if before is None else (before.t, before.value)
    out: list[float | None] = []
    for i in range(count):
        cell = cells.get(i)
        if cell is not None:
            out.append(cell.high if highest else cell.low)
            last = (cell.last_t, cell.last_value)
        elif last is not None and since + i * step - last[0] <= carry_s:
            out.append(last[1])
        else:
            out.append(None)
    return out


async def read_network_series(
    store: SignalStore,
    network: str,
    since: float,
    until: float,
    step: float,
    *,
    events_limit: int = 500,
) -> NetworkSeries:
    """The stored signals of `network` over [since, until) in buckets of `step` seconds,
    grouped by the database, with the newest `events_limit` events of the range (oldest
    first). ValueError past MAX_BUCKETS; StoreError when the store fails."""
    bucket_count(since, until, step)
    query = BucketQuery(network, since, until, step, LOOKBACK_S, events_limit)
    found = await store.signal_buckets(query)
    return series_of(
        network,
        since,
        until,
        step,
        buckets=found.buckets,
        before={s.signal: s for s in found.before},
        counts=found.event_counts,
        events=found.events,
    )

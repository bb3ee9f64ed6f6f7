"""Rollup pages as pre-encoded JSON, with settled hours of history cached in memory.

    pages = RollupPages(store, state, now=time.time)
    page = await pages.read(["t-1"], None, since=..., until=None, limit=1440)
    page.body          # b'{"items":[...],"next_since":null,"step":60}' (the RollupPage shape)

Rows are read with the store's JSON read path where it has one (`rollups_json`: the
database writes each row's JSON text in the store's reader thread), so the event loop
never decodes or encodes a row; other stores' rollups are encoded with orjson in a
worker thread. A page is stitched from whole hours ("blocks") of encoded rows:

- a block is *settled* when it ended more than `SETTLE_S` ago. Settled blocks of
  queries naming a few targets are kept in an LRU bounded in bytes, keyed by
  (targets, vantages, hour);
- the cache is used only while a sink feeds the live state every measurement
  (`LiveState.fed_measurements`): then a late measurement (one that could rewrite a
  settled minute) is seen, bumps `LiveState.history_version`, and empties the cache.
  A state that pulls from the store cannot see writes, so nothing is cached;
- everything else (the hour a page starts in, unsettled minutes, cache misses) is read
  from the store, one query per run of missing hours.

Pages in coarser buckets (`step` over 60 s, what charts of a day or a week ask for)
are summed by the store and never cached: they are a few hundred rows.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import orjson

from netvigil.store.base import Rollup, RollupQuery, Store
from netvigil.web.state import SETTLE_S, LiveState

__all__ = ["BLOCK_S", "EncodedRow", "RollupPage", "RollupPages", "encode_rollup", "json_reader"]

BLOCK_S = 3600
"""The cache's unit: an hour of rollups, aligned to the epoch."""
MAX_CACHED_TARGETS = 8
"""Only queries naming at most this many targets are cached."""
DEFAULT_CACHE_BYTES = 64 * 1024 * 1024

EncodedRow = tuple[int, str]
"""(minute, the row as a JSON object)."""

_ROW_OVERHEAD = 100
"""Bytes a cached row costs beyond its JSON (tuple, bytes and int objects)."""


class _JSONReader(Protocol):
    async def rollups_json(self, query: RollupQuery) -> list[EncodedRow]: ...


def encode_rollup(r: Rollup) -> EncodedRow:
    """(minute, the rollup as RollupOut's JSON object)."""
    return r.minute, orjson.dumps(
        {
            "minute": r.minute,
            "target": r.target,
            "vantage": r.vantage,
            "count": r.count,
            "ok_count": r.ok_count,
            "success_ratio": r.success_ratio,
            "latency_p50_s": r.latency_p50_s,
            "latency_p95_s": r.latency_p95_s,
            "outcomes": r.outcomes,
        }
    ).decode()


def json_reader(store: object, method: str) -> Any | None:
    """`store`, or the store it wraps (through `.store`), if it has the JSON read path
    `method` (say `rollups_json`: rows the database encodes); else None."""
    for _ in range(8):
        if store is None:
            return None
        if callable(getattr(store, method, None)):
            return store
        store = getattr(store, "store", None)
    return None


@dataclass(frozen=True, slots=True)
class RollupPage:
    """One encoded page: `body` is the RollupPage JSON; `settled` when nothing in it can change."""

    body: bytes
    count: int
    next_since: int | None
    settled: bool

    async def etag(self) -> str:
        """A strong entity tag of the body (hashed in a worker thread when it is large)."""
        if len(self.body) < 65536:
            return _etag(self.body)
        return await asyncio.to_thread(_etag, self.body)


def _etag(body: bytes) -> str:
    return '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'


class RollupPages:
    """Reads rollup pages for the API; see the module docstring.

    `cache_bytes` bounds the cache (0: no cache). `now` is the wall clock, epoch s.
    """

    def __init__(
        self,
        store: Store,
        state: LiveState,
        *,
        now: Callable[[], float],
        cache_bytes: int = DEFAULT_CACHE_BYTES,
    ) -> None:
        self.store = store
        self.state = state
        self.now = now
        self.cache_bytes = cache_bytes
        self.hits = 0
        self.misses = 0
        self._reader: _JSONReader | None = json_reader(store, "rollups_json")
        self._blocks: OrderedDict[tuple[Any, ...], list[EncodedRow]] = OrderedDict()
        self._size = 0
        self._version = state.history_version

    @property
    def cached_bytes(self) -> int:
        """About how much memory the cached blocks take."""
        return self._size

    async def read(
        self,
        targets: Sequence[str] | None,
        vantages: Sequence[str] | None,
        since: float,
        until: float | None,
        limit: int,
        step: int = 60,
    ) -> RollupPage:
        """A page of at most `limit` rows of minutes overlapping [since, until), oldest first.

        With `step` over 60 a row is a bucket of `step` seconds (see `RollupQuery`).
        A page never ends inside a minute (bucket) unless that one alone fills it;
        `next_since` is where the next page starts (None on the last page).
        Raises StoreError.
        """
        if step == 60:
            rows = await self._rows(targets, vantages, since, until, limit)
        else:
            rows = await self._fetch(targets, vantages, since, until, limit, step)
        next_since: int | None = None
        if len(rows) == limit:
            last = rows[-1][0]
            cut = len(rows)
            while cut and rows[cut - 1][0] == last:
                cut -= 1
            if cut:  # leave the last bucket, maybe cut short, to the next page
                rows, next_since = rows[:cut], last
            else:
                next_since = last + step
        items = ",".join([r[1] for r in rows])
        tail = "null" if next_since is None else str(next_since)
        body = f'{{"items":[{items}],"next_since":{tail},"step":{step}}}'.encode()
        settled = until is not None and until <= self._settled_before()
        return RollupPage(body, len(rows), next_since, settled)

    def _settled_before(self) -> float:
        return self.now() - SETTLE_S

    def _cacheable(self, targets: Sequence[str] | None) -> bool:
        if self.cache_bytes <= 0 or targets is None or not self.state.fed_measurements:
            return False
        if self.state.history_version != self._version:
            self._blocks.clear()
            self._size = 0
            self._version = self.state.history_version
        return 0 < len(targets) <= MAX_CACHED_TARGETS

    async def _rows(
        self,
        targets: Sequence[str] | None,
        vantages: Sequence[str] | None,
        since: float,
        until: float | None,
        limit: int,
    ) -> list[EncodedRow]:
        start = int(since // 60 * 60)
        end = math.inf if until is None else until
        if not self._cacheable(targets):
            return await self._fetch(targets, vantages, start, until, limit)
        key = (tuple(targets or ()), None if vantages is None else tuple(vantages))
        settled = int(self._settled_before() // BLOCK_S * BLOCK_S)  # blocks ending by here
        out: list[EncodedRow] = []
        cursor = start
        while cursor < end and len(out) < limit:
            block = cursor - cursor % BLOCK_S
            cached = self._get((*key, block)) if block + BLOCK_S <= settled else None
            if cached is not None:
                self.hits += 1
                for row in cached:
                    if row[0] >= cursor and row[0] < end:
                        out.append(row)
                        if len(out) == limit:
                            break
                cursor = block + BLOCK_S
                continue
            read_until = self._read_until(key, block, end, settled)
            want = limit - len(out)
            version = self.state.history_version
            self.misses += 1
            until_arg = None if math.isinf(read_until) else read_until
            rows = await self._fetch(targets, vantages, cursor, until_arg, want)
            if version == self.state.history_version:  # no late write while reading
                complete = read_until if len(rows) < want else rows[-1][0] if rows else cursor
                self._keep(key, rows, cursor, min(settled, complete))
            out.extend(rows)
            if len(rows) == want or read_until == end:
                break
            cursor = int(read_until)
        return out

    def _read_until(self, key: tuple[Any, ...], block: int, end: float, settled: int) -> float:
        """Where one read from inside `block` (not cached) stops: at the next cached block,
        or at `end` when what follows is uncached or not settled."""
        stop = block + BLOCK_S
        if stop > settled:
            return end
        while stop < end and stop + BLOCK_S <= settled and (*key, stop) not in self._blocks:
            stop += BLOCK_S
        if stop >= end or stop + BLOCK_S > settled:
            return end
        return float(stop)

    async def _fetch(
        self,
        targets: Sequence[str] | None,
        vantages: Sequence[str] | None,
        since: float,
        until: float | None,
        limit: int,
        step: int = 60,
    ) -> list[EncodedRow]:
        query = RollupQuery(
            since=since,
            until=until,
            targets=None if targets is None else list(targets),
            vantages=None if vantages is None else list(vantages),
            limit=limit,
            step=step,
        )
        if self._reader is not None:
            return await self._reader.rollups_json(query)
        found = await self.store.rollups(query)
        return await asyncio.to_thread(lambda: [encode_rollup(r) for r in found])

    def _get(self, key: tuple[Any, ...]) -> list[EncodedRow] | None:
        block = self._blocks.get(key)
        if block is not None:
            self._blocks.move_to_end(key)
        return block

    def _keep(
        self, key: tuple[Any, ...], rows: list[EncodedRow], start: int, complete_until: float
    ) -> None:
        """Cache the whole blocks of `rows` (read from `start`) that end by `complete_until`."""
        by_block: dict[int, list[EncodedRow]] = {}
        for row in rows:
            by_block.setdefault(row[0] - row[0] % BLOCK_S, []).append(row)
        first = start if start % BLOCK_S == 0 else start - start % BLOCK_S + BLOCK_S
        block = first
        while block + BLOCK_S <= complete_until:
            found = by_block.get(block, [])
            self._blocks[(*key, block)] = found
            self._size += _block_size(found)
            block += BLOCK_S
        while self._size > self.cache_bytes and self._blocks:
            _, old = self._blocks.popitem(last=False)
            self._size -= _block_size(old)


def _block_size(rows: list[EncodedRow]) -> int:
    """About how many bytes a cached block takes."""
    return sum(map(len, [r[1] for r in rows])) + _ROW_OVERHEAD * (len(rows) + 1)

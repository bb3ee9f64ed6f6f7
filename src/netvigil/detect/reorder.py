"""The reorder buffer: measurements that arrive out of order by up to `lateness_s` come out
in (ts, id) order once the watermark has passed them.

Each vantage's stream is judged against itself: the watermark follows the slowest of the
vantages that keep up (the newest timestamp of each, minus `lateness_s`), where a vantage
keeps up when its newest timestamp is within `stall_s` of the median vantage's. So a
vantage whose clock runs ahead cannot make everybody else's measurements late, and one
that falls behind (a slow clock, a stalled agent) cannot hold detection back for the
others: its measurements behind the watermark are counted as late for it (`late_by`)
and dropped. A measurement whose id is already waiting is dropped as a duplicate.

One vantage may be followed exactly (`follow`): the one whose scheduler runs in this
process (`netvigil run`). Its point is then the oldest probe start still in flight as
its results come in (`local_watermark.LocalWatermark`), or the lateness rule's when
that is later, instead of its newest timestamp minus `lateness_s`; every other vantage
keeps the lateness rule, and the watermark is still the slowest point of the vantages
that keep up. A `release` asked for less than that (the timer's `advance`) releases up
to it, so a server probing alone acts on a result as soon as no older probe is in
flight. Follow a vantage only when no other may appear: the watermark then runs up to
the present, and a vantage that starts reporting (an agent connecting) would find its
first measurements behind it, hence late.
"""

from __future__ import annotations

import heapq
import statistics
from collections import Counter
from collections.abc import Collection
from typing import Protocol

from netvigil.model import Measurement

__all__ = ["ReorderBuffer"]

RECOMPUTE_EVERY = 8
"""The watermark is recomputed when the slowest vantage that keeps up advances, and on
every this-many-th advance of any other (which may change who keeps up)."""


class ExactWatermark(Protocol):
    """The exact watermark of one vantage (`local_watermark.LocalWatermark`)."""

    vantage: str

    def pushed(self, m: Measurement) -> float | None:
        """`m` (of `vantage`) enters the buffer: no measurement of `vantage` still to come
        is stamped before the returned mark (None: no mark for `m`)."""
        ...

    def idle(self) -> float | None:
        """The mark now, if no measurement of `vantage` is on its way; else None."""
        ...


class ReorderBuffer:
    """Holds measurements until the watermark passes them."""

    def __init__(self, lateness_s: float, *, stall_s: float | None = None) -> None:
        if lateness_s < 0:
            raise ValueError("lateness_s must be >= 0")
        self.lateness_s = lateness_s
        self.stall_s = max(2.0 * lateness_s, 10.0) if stall_s is None else stall_s
        self.late_by: Counter[str] = Counter()
        """Per vantage, measurements dropped because they arrived behind the watermark."""
        self._heap: list[tuple[float, str, Measurement]] = []
        self._ids: set[str] = set()
        self.max_ts = float("-inf")
        self.max_by: dict[str, float] = {}
        """Per vantage, the newest timestamp seen."""
        self.processed_to = float("-inf")
        self._release_at = float("-inf")
        self._holder: str | None = None
        """The vantage whose point is the watermark (the slowest that keeps up)."""
        self._slowest = float("-inf")
        """The oldest newest timestamp of the vantages that keep up."""
        self._advances = 0
        self._exact: ExactWatermark | None = None
        self.exact_at = float("-inf")
        """The followed vantage's exact mark, as far as it has come."""

    def follow(self, exact: ExactWatermark | None) -> None:
        """Take `exact.vantage`'s point from `exact` from now on (see the module docstring);
        None: back to the lateness rule for every vantage."""
        self._exact = exact
        self.exact_at = float("-inf")
        if self.max_by:
            self._recompute()

    def __len__(self) -> int:
        return len(self._heap)

    @property
    def late(self) -> int:
        """Measurements dropped because they arrived behind the watermark."""
        return sum(self.late_by.values())

    @property
    def watermark(self) -> float:
        """Measurements older than this have been released (or will be dropped as late)."""
        return max(self.processed_to, self._release_at)

    def push(self, m: Measurement) -> bool:
        """Hold `m`; False when it is late or already held."""
        exact = self._exact
        if exact is not None and m.vantage == exact.vantage:
            mark = exact.pushed(m)
            if mark is not None and mark > self.exact_at:
                self.exact_at = mark
                if self._holder in (None, m.vantage) and m.vantage in self.max_by:
                    self._recompute()
        if m.ts < self.processed_to:
            self.late_by[m.vantage] += 1
            return False
        if m.id in self._ids:
            return False
        self._ids.add(m.id)
        heapq.heappush(self._heap, (m.ts, m.id, m))
        if m.ts > self.max_ts:
            self.max_ts = m.ts
        newest = self.max_by.get(m.vantage)
        if newest is None or m.ts > newest:
            self.max_by[m.vantage] = m.ts
            self._advances += 1
            if (
                newest is None
                or newest <= self._slowest
                or m.vantage == self._holder
                or self._advances % RECOMPUTE_EVERY == 0
            ):
                self._recompute()
        return True

    def _recompute(self) -> None:
        newest = self.max_by
        # With one or two vantages there is no majority: the newest one is the reference.
        values = newest.values()
        middle = statistics.median_low(values) if len(newest) > 2 else max(values)
        keeps_up = middle - self.stall_s
        exact = self._exact.vantage if self._exact is not None else None
        lateness = self.lateness_s
        holder: str | None = None
        release = slowest = float("inf")
        for vantage, ts in newest.items():
            if ts < keeps_up:
                continue
            if ts < slowest:
                slowest = ts
            point = ts - lateness
            if vantage == exact and self.exact_at > point:
                point = self.exact_at
            if point < release:
                holder, release = vantage, point
        self._holder = holder
        self._slowest = slowest
        self._release_at = release

    def discard(self, targets: Collection[str]) -> int:
        """Drop the held measurements of `targets` (never processed); how many."""
        gone = set(targets)
        kept = [entry for entry in self._heap if entry[2].target not in gone]
        dropped = len(self._heap) - len(kept)
        if dropped:
            heapq.heapify(kept)
            self._heap = kept
            self._ids = {entry[1] for entry in kept}
        return dropped

    def release(self, watermark: float) -> list[Measurement]:
        """Every measurement older than `watermark`, oldest first, taken out.

        With a followed vantage (`follow`), up to the buffer's own watermark when that is
        further (its mark brought up to now first, if no measurement of it is on its way).
        """
        exact = self._exact
        if exact is not None:
            mark = exact.idle()
            if mark is not None and mark > self.exact_at:
                self.exact_at = mark
                if self._holder in (None, exact.vantage) and exact.vantage in self.max_by:
                    self._recompute()
            if self._release_at > watermark:
                watermark = self._release_at
        heap = self._heap
        ready: list[Measurement] = []
        while heap and heap[0][0] < watermark:
            m = heapq.heappop(heap)[2]
            self._ids.discard(m.id)
            ready.append(m)
        if watermark > self.processed_to:
            self.processed_to = watermark
        return ready

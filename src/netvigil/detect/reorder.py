"""The reorder buffer: measurements that arrive out of order by up to `lateness_s` come out
in (ts, id) order once the watermark has passed them.

Each vantage's stream is judged against itself: the watermark follows the slowest of the
vantages that keep up (the newest timestamp of each, minus `lateness_s`), where a vantage
keeps up when its newest timestamp is within `stall_s` of the median vantage's. So a
vantage whose clock runs ahead cannot make everybody else's measurements late, and one
that falls behind (a slow clock, a stalled agent) cannot hold detection back for the
others: its measurements behind the watermark are counted as late for it (`late_by`)
and dropped. A measurement whose id is already waiting is dropped as a duplicate.

A vantage's point may be exact instead of `lateness_s` behind its newest timestamp:

- the vantage whose scheduler runs in this process (`netvigil run`) may be followed
  (`follow`): its point is the oldest probe start still in flight as its results come
  in (`local_watermark.LocalWatermark`);
- a remote agent reports its own mark with its batches (`mark`): no measurement of it
  still to come is stamped before the mark (its oldest probe in flight, or its next
  result not yet shipped, `netvigil.agent.ship`).

A vantage's point is the later of the lateness rule's and its exact mark, so a vantage
that stops marking falls back to the lateness rule by itself; a vantage that only
marked so far (an agent announcing itself before its first results) counts from its
mark. The watermark is still the slowest point of the vantages that keep up (a
vantage's newest time being its newest timestamp or mark, whichever is later), and a
`release` asked for less than that (the timer's `advance`) releases up to it once any
vantage is exact, so a server acts on a result as soon as no vantage may still send an
older one.

Vantages that may appear but have not yet (the agents a config names: `expect`) hold
the watermark to the lateness rule, no further than the newest timestamp seen minus
`lateness_s`: a vantage's first results are not late merely because every vantage seen
so far marks exactly. A vantage that has not been seen since it was expected and never
comes keeps that rule for everyone; a vantage seen once and then gone falls behind and
no longer keeps up.
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
        self.marks: dict[str, float] = {}
        """Per vantage, its exact mark as far as it has come (followed or reported)."""
        self._unseen: frozenset[str] = frozenset()
        """Expected vantages neither seen nor marked yet (they hold the lateness rule)."""

    def follow(self, exact: ExactWatermark | None) -> None:
        """Take `exact.vantage`'s point from `exact` from now on (see the module docstring);
        None: back to the lateness rule for the followed vantage."""
        if self._exact is not None:
            self.marks.pop(self._exact.vantage, None)
        self._exact = exact
        if self.max_by:
            self._recompute()

    def expect(self, vantages: Collection[str]) -> None:
        """`vantages` may appear (the agents the config names): until each is seen, the
        watermark keeps to the lateness rule (see the module docstring)."""
        self._unseen = frozenset(vantages) - self.max_by.keys() - self.marks.keys()
        if self.max_by or self.marks:
            self._recompute()

    def mark(self, vantage: str, at: float) -> None:
        """`vantage` reports that none of its measurements still to come is stamped before
        `at` (given after every measurement of it sent before the mark was pushed)."""
        if at <= self.marks.get(vantage, float("-inf")):
            return
        self.marks[vantage] = at
        if vantage in self._unseen:
            self._unseen -= {vantage}
        self._recompute()

    def _exact_mark(self, vantage: str, mark: float | None) -> None:
        """The followed vantage's mark has come to `mark` (None: no news)."""
        if mark is not None and mark > self.marks.get(vantage, float("-inf")):
            self.marks[vantage] = mark
            if self._holder in (None, vantage) and vantage in self.max_by:
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
            self._exact_mark(m.vantage, exact.pushed(m))
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
            if newest is None and m.vantage in self._unseen:
                self._unseen -= {m.vantage}
            if (
                newest is None
                or newest <= self._slowest
                or m.vantage == self._holder
                or self._advances % RECOMPUTE_EVERY == 0
            ):
                self._recompute()
        return True

    def _recompute(self) -> None:
        newest, marks = self.max_by, self.marks
        if marks:
            newest = dict(newest)
            for vantage, at in marks.items():
                if at > newest.get(vantage, float("-inf")):
                    newest[vantage] = at  # its newest time: a mark past its last result
        if not newest:
            return
        # With one or two vantages there is no majority: the newest one is the reference.
        values = newest.values()
        middle = statistics.median_low(values) if len(newest) > 2 else max(values)
        keeps_up = middle - self.stall_s
        lateness = self.lateness_s
        holder: str | None = None
        release = slowest = float("inf")
        for vantage, ts in newest.items():
            if ts < keeps_up:
                continue
            if ts < slowest:
                slowest = ts
            point = self.max_by.get(vantage, float("-inf")) - lateness
            mark = marks.get(vantage)
            if mark is not None and mark > point:
                point = mark
            if point < release:
                holder, release = vantage, point
        if self._unseen and self.max_ts - lateness < release:
            holder, release = None, self.max_ts - lateness  # an expected vantage may come
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

        Once a vantage is exact (followed or marking), up to the buffer's own watermark
        when that is further (the followed vantage's mark brought up to now first, if no
        measurement of it is on its way).
        """
        exact = self._exact
        if exact is not None:
            self._exact_mark(exact.vantage, exact.idle())
        if (exact is not None or self.marks) and self._release_at > watermark:
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

"""The reorder buffer: measurements that arrive out of order by up to `lateness_s` come out
in (ts, id) order once the watermark has passed them.

Each vantage's stream is judged against itself: the watermark follows the slowest of the
vantages that keep up (the newest timestamp of each, minus `lateness_s`), where a vantage
keeps up when its newest timestamp is within `stall_s` of the median vantage's. So a
vantage whose clock runs ahead cannot make everybody else's measurements late, and one
that falls behind (a slow clock, a stalled agent) cannot hold detection back for the
others: its measurements behind the watermark are counted as late for it (`late_by`)
and dropped. A measurement whose id is already waiting is dropped as a duplicate.
"""

from __future__ import annotations

import heapq
import statistics
from collections import Counter
from collections.abc import Collection

from netvigil.model import Measurement

__all__ = ["ReorderBuffer"]

RECOMPUTE_EVERY = 8
"""The watermark is recomputed when the slowest vantage that keeps up advances, and on
every this-many-th advance of any other (which may change who keeps up)."""


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
        self._slowest = float("-inf")
        self._advances = 0

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
            if newest is None or newest <= self._slowest or self._advances % RECOMPUTE_EVERY == 0:
                self._recompute()
        return True

    def _recompute(self) -> None:
        newest = self.max_by.values()
        # With one or two vantages there is no majority: the newest one is the reference.
        middle = statistics.median_low(newest) if len(self.max_by) > 2 else max(newest)
        slowest = min(t for t in newest if t >= middle - self.stall_s)
        self._slowest = slowest
        self._release_at = slowest - self.lateness_s

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
        """Every measurement older than `watermark`, oldest first, taken out."""
        heap = self._heap
        ready: list[Measurement] = []
        while heap and heap[0][0] < watermark:
            m = heapq.heappop(heap)[2]
            self._ids.discard(m.id)
            ready.append(m)
        if watermark > self.processed_to:
            self.processed_to = watermark
        return ready

"""The reorder buffer: measurements that arrive out of order by up to `lateness_s` come out
in (ts, id) order once the watermark (the newest timestamp seen, minus `lateness_s`) has
passed them. A measurement already behind the watermark on arrival is counted as late and
dropped; one whose id is already waiting is dropped as a duplicate.
"""

from __future__ import annotations

import heapq

from netvigil.model import Measurement

__all__ = ["ReorderBuffer"]


class ReorderBuffer:
    """Holds measurements until the watermark passes them."""

    def __init__(self, lateness_s: float) -> None:
        if lateness_s < 0:
            raise ValueError("lateness_s must be >= 0")
        self.lateness_s = lateness_s
        self.late = 0
        """Measurements dropped because they arrived behind the watermark."""
        self._heap: list[tuple[float, str, Measurement]] = []
        self._ids: set[str] = set()
        self.max_ts = float("-inf")
        self.processed_to = float("-inf")

    def __len__(self) -> int:
        return len(self._heap)

    @property
    def watermark(self) -> float:
        """Measurements older than this have been released (or will be dropped as late)."""
        return max(self.processed_to, self.max_ts - self.lateness_s)

    def push(self, m: Measurement) -> bool:
        """Hold `m`; False when it is late or already held."""
        if m.ts < self.processed_to:
            self.late += 1
            return False
        if m.id in self._ids:
            return False
        self._ids.add(m.id)
        heapq.heappush(self._heap, (m.ts, m.id, m))
        if m.ts > self.max_ts:
            self.max_ts = m.ts
        return True

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

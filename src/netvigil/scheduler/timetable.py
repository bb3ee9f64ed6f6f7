"""The timetable: every scheduled target and a heap of when each runs next.

The heap holds `(due, key, entry)` items. Each entry remembers the key of its one live
item; an item whose key differs is stale (left behind by a removal or a new interval)
and is dropped when it reaches the top, or all at once when stale items outnumber the
live ones. Replacing the top item (`heapreplace`) costs O(log n) per run, and an idle
target costs one heap item and nothing else.

A target's runs sit on a grid `interval_s` apart whose offset is a hash of its name,
taken against the wall clock, so targets spread evenly over their interval and a
restart keeps each target's rhythm.

A quick re-probe (`schedule_retry`) takes the place of the target's live item for one
run; when it is dispatched the regular run goes back on the heap at its due time, so
the grid is kept.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Iterable
from heapq import heapify, heappop, heappush
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from netvigil.probes import TargetSpec

__all__ = ["Entry", "Timetable", "phase_of"]

COMPACT_AFTER = 1024
"""Stale heap items tolerated before a compaction is considered (it also needs a majority)."""


def phase_of(name: str) -> float:
    """Where in its interval a target runs: a fraction in [0, 1), a stable hash of `name`."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 18446744073709551616.0


class Entry:
    """One scheduled target: its spec and where it stands."""

    __slots__ = (
        "destination",
        "due",
        "failures",
        "in_flight",
        "interval",
        "key",
        "limit",
        "name",
        "nominal",
        "retry_at",
        "retry_in_flight",
        "retry_s",
        "spec",
    )

    def __init__(self, spec: TargetSpec, grace_s: float) -> None:
        self.name = spec.name
        self.in_flight = False
        self.key = -1
        """The key of this entry's live heap item; any other item for it is stale."""
        self.nominal = 0.0
        """The unjittered due time of the next run (its grid point)."""
        self.due = 0.0
        """The due time of the next run (on the scheduler's `now` clock)."""
        self.interval = spec.interval_s
        self.spec = spec
        self.destination = spec.destination
        self.limit = spec.timeout_s + grace_s
        self.retry_s = spec.retry_s
        """Seconds from a failed run to its quick re-probe (0.0: none)."""
        self.failures = 0
        """Failed runs in a row (the current failure episode)."""
        self.retry_at: float | None = None
        """When the live heap item is a quick re-probe: its due time."""
        self.retry_in_flight = False
        """Whether the run in flight (if any) is a quick re-probe."""

    def update(self, spec: TargetSpec, grace_s: float) -> None:
        """Take `spec` as the target's new spec (its interval is the caller's business)."""
        self.spec = spec
        self.destination = spec.destination
        self.limit = spec.timeout_s + grace_s
        self.retry_s = spec.retry_s


class Timetable:
    """The scheduled targets by name, and the heap of their next runs.

    `grace_s` is added to each spec's `timeout_s` to give its run's deadline (`limit`).
    The run loop reads and replaces `heap` items directly, taking keys from `keys` and
    counting each stale item it pops off `stale`.
    """

    def __init__(self, grace_s: float) -> None:
        self.grace_s = grace_s
        self.entries: dict[str, Entry] = {}
        self.heap: list[tuple[float, int, Entry]] = []
        self.stale = 0
        """Heap items whose key is no longer their entry's (skipped when popped)."""
        self.keys = itertools.count()

    def add(self, spec: TargetSpec, now: float, wall: float, *, push: bool = True) -> None:
        """Schedule `spec`, or replace the target of the same name.

        A replacement with the same interval keeps its place; one with a new interval
        moves to the phase of its name on the new grid. With `push=False` the new item
        is appended unordered, and the caller must `heapify` the heap.
        """
        entry = self.entries.get(spec.name)
        if entry is not None:
            entry.update(spec, self.grace_s)
            if entry.interval == spec.interval_s:
                return
            self.invalidate(entry)
            entry.interval = spec.interval_s
            entry.retry_at = None
        else:
            entry = Entry(spec, self.grace_s)
            self.entries[spec.name] = entry
        interval = entry.interval
        # The run grid is anchored on the wall clock, so a restart keeps the rhythm.
        first = now + (phase_of(entry.name) * interval - wall) % interval
        entry.nominal = entry.due = first
        entry.key = key = next(self.keys)
        if push:
            heappush(self.heap, (first, key, entry))
        else:
            self.heap.append((first, key, entry))

    def remove(self, name: str) -> bool:
        """Drop the target `name`; False if unknown."""
        entry = self.entries.pop(name, None)
        if entry is None:
            return False
        self.invalidate(entry)
        self.maybe_compact()
        return True

    def replace_all(self, specs: Iterable[TargetSpec], now: float, wall: float) -> None:
        """Make the scheduled set exactly `specs`: add new names, replace changed, drop gone."""
        wanted: dict[str, TargetSpec] = {}
        for spec in specs:
            wanted[spec.name] = spec
        for name in [n for n in self.entries if n not in wanted]:
            self.invalidate(self.entries.pop(name))
        bulk = len(wanted) > len(self.heap)
        for spec in wanted.values():
            current = self.entries.get(spec.name)
            if current is not None and current.spec == spec:
                continue
            self.add(spec, now, wall, push=not bulk)
        if bulk:
            heapify(self.heap)
        self.maybe_compact()

    def rebase(self, now: float, wall: float) -> None:
        """Anchor every target's first run on the clocks as they are now.

        Building a large schedule takes a while (about 16 µs a target), and the process
        may do more set-up before it runs; without this the earliest targets would count
        that set-up as schedule lag. Each target keeps its phase on the wall-clock grid.
        """
        heap: list[tuple[float, int, Entry]] = []
        for entry in self.entries.values():
            interval = entry.interval
            first = now + (phase_of(entry.name) * interval - wall) % interval
            entry.nominal = entry.due = first
            entry.retry_at = None
            entry.key = key = next(self.keys)
            heap.append((first, key, entry))
        heapify(heap)
        self.heap = heap

    def schedule_retry(self, entry: Entry, at: float) -> None:
        """Run `entry` once at `at`, before its next regular run (which keeps its due time
        and goes back on the heap when this one is dispatched)."""
        self.invalidate(entry)
        entry.retry_at = at
        entry.key = key = next(self.keys)
        heappush(self.heap, (at, key, entry))

    def invalidate(self, entry: Entry) -> None:
        """Make `entry`'s live heap item stale (it is skipped when it reaches the top)."""
        if entry.key >= 0:
            entry.key = -1
            self.stale += 1

    def maybe_compact(self) -> None:
        """Rebuild the heap without stale items once they are many and the majority."""
        heap = self.heap
        if self.stale > COMPACT_AFTER and self.stale * 2 > len(heap):
            heap[:] = [item for item in heap if item[1] == item[2].key]
            heapify(heap)
            self.stale = 0

    def due(self, name: str) -> float | None:
        """When the target `name` runs next (on the `now` clock); None if not scheduled."""
        entry = self.entries.get(name)
        if entry is None:
            return None
        return entry.retry_at if entry.retry_at is not None else entry.due

    def next_due(self) -> float | None:
        """The due time of the earliest scheduled run, if any (stale tops are dropped)."""
        heap = self.heap
        while heap and heap[0][1] != heap[0][2].key:
            heappop(heap)
            self.stale -= 1
        return heap[0][0] if heap else None

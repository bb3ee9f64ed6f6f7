"""The store seam: where measurements, rollups (and later incidents) live.

SQLiteStore is the embedded default; a PostgreSQL store implements the same protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from netvigil.model import Measurement

__all__ = ["MeasurementQuery", "Rollup", "RollupQuery", "Store"]


@dataclass(frozen=True, slots=True)
class MeasurementQuery:
    """Which raw measurements to read: all filters optional, newest last, at most `limit`."""

    since: float | None = None
    until: float | None = None
    targets: Sequence[str] | None = None
    vantages: Sequence[str] | None = None
    limit: int = 10_000
    after_id: str | None = None
    """Keyset paging: only measurements whose id sorts after this one."""


@dataclass(frozen=True, slots=True)
class RollupQuery:
    """Which per-minute rollups to read."""

    since: float | None = None
    until: float | None = None
    targets: Sequence[str] | None = None
    vantages: Sequence[str] | None = None
    limit: int = 100_000


@dataclass(slots=True)
class Rollup:
    """One minute of one target from one vantage.

    `minute` is the start of the minute, in epoch seconds. Latency quantiles are over
    the `total` timing of successful measurements (None when there were none).
    """

    minute: int
    target: str
    vantage: str
    count: int
    ok_count: int
    latency_p50_s: float | None
    latency_p95_s: float | None
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def success_ratio(self) -> float:
        return self.ok_count / self.count if self.count else 0.0


class Store(Protocol):
    """Persistent measurements and their per-minute rollups."""

    async def add(self, batch: Sequence[Measurement]) -> int:
        """Store a batch; ids already stored are skipped. Returns how many were new."""
        ...

    async def measurements(self, query: MeasurementQuery) -> list[Measurement]:
        """Raw measurements matching `query`, oldest first."""
        ...

    async def rollups(self, query: RollupQuery) -> list[Rollup]:
        """Per-minute rollups matching `query`, oldest first."""
        ...

    async def latest(self) -> list[Measurement]:
        """The newest measurement of every (target, vantage) pair."""
        ...

    async def prune(self, older_than: float) -> int:
        """Delete raw measurements older than `older_than` (epoch s); rollups stay."""
        ...

    def submit(self, m: Measurement) -> None:
        """Queue one measurement for writing without blocking (the monitor's hot path).

        Raises StoreError when the store is closed. Use `flush()` to wait for durability.
        """
        ...

    async def flush(self) -> None:
        """Wait until everything submitted or added before this call is stored."""
        ...

    async def close(self) -> None:
        """Flush pending writes and close."""
        ...

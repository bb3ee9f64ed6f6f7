"""What the PostgreSQL writer keeps up besides writing: day partitions, prunes, rollup folds.

    upkeep = Upkeep(options, now=time.time, monotonic=time.monotonic)
    await upkeep.opened(conn)                 # on every new write connection
    upkeep.written(new_rows)                  # after each measurement commit
    if upkeep.fold_due(): await upkeep.fold(conn)
    deleted = await upkeep.prune(conn, older_than)

The day partitions a write needs (`postgres_partitions`) are known and created ahead;
`pruned_before` (raw rows before it were pruned) is read from the database and kept, so
that a write merges rows of pruned minutes into their rollups. A fold
(`postgres_rollups`) is due `fold_every_s` after the last one once this writer's writes
marked rollups; a prune folds first, so that what it deletes was counted. Every method
taking a connection raises what asyncpg raises.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import Any

from netvigil.store.postgres_options import PostgresOptions
from netvigil.store.postgres_partitions import DayPartitions
from netvigil.store.postgres_rollups import fold_due_rollups
from netvigil.store.postgres_signals import prune_signals

__all__ = ["Upkeep"]


class Upkeep:
    """The partitions, prune and fold state of one writer (see the module docs)."""

    def __init__(
        self, options: PostgresOptions, *, now: Callable[[], float], monotonic: Callable[[], float]
    ) -> None:
        self.options = options
        self.partitions = DayPartitions(days_ahead=options.days_ahead)
        self.pruned_before = -math.inf
        self.last_prune = -math.inf
        """When the last prune started (wall clock)."""
        self.due = False
        """Whether this writer's writes marked rollups that are not folded in yet."""
        self._now = now
        self._monotonic = monotonic
        self._last_fold = monotonic()

    async def opened(self, conn: Any) -> None:
        """Learn the partitions and `pruned_before` on a new connection; create the
        partitions ahead."""
        await self.partitions.load(conn)
        await self.partitions.ensure_ahead(conn, self._now())
        found = await conn.fetchval("SELECT value FROM meta WHERE key = 'pruned_before'")
        if found is not None:
            self.pruned_before = max(self.pruned_before, float(found))

    def written(self, new_rows: int) -> None:
        """Note a committed write of `new_rows` new measurements (their rollups marked)."""
        self.due = self.due or new_rows > 0

    def fold_wait_s(self) -> float:
        """Seconds until a fold is due (at most 0: due now); inf when nothing is marked."""
        if not self.due:
            return math.inf
        return self._last_fold + self.options.fold_every_s - self._monotonic()

    async def fold(self, conn: Any) -> None:
        """Fold the marked rollups (all of them, `fold_limit` keys per transaction). The
        marks stay when another writer's fold is under way."""
        self._last_fold = self._monotonic()
        limit = self.options.fold_limit
        while True:
            folded = await fold_due_rollups(conn, limit=limit)
            if folded is None or folded < limit:
                break
        self.due = folded is None

    async def prune(self, conn: Any, older_than: float) -> int:
        """Fold, then drop and delete raw rows older than `older_than`
        (`DayPartitions.prune`), the marks of minutes left without raw rows and the network
        signals older than it (`prune_signals`), in one transaction; how many raw rows went."""
        self.last_prune = self._now()
        await self.fold(conn)  # from raw rows, before they go
        async with conn.transaction():
            await conn.execute(
                "INSERT INTO meta (key, value) VALUES ('pruned_before', $1) ON CONFLICT (key)"
                " DO UPDATE SET value = greatest(meta.value, excluded.value)",
                older_than,
            )
            deleted = await self.partitions.prune(conn, older_than)
            await prune_signals(conn, older_than)
            await conn.execute(
                "DELETE FROM rollups_due WHERE minute + 60 <= $1::double precision", older_than
            )
        self.partitions.forget(older_than)
        self.pruned_before = max(self.pruned_before, older_than)
        with contextlib.suppress(Exception):  # tried again at the next prune
            await self.partitions.ensure_ahead(conn, self._now())
        return deleted

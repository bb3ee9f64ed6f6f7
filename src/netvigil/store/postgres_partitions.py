"""The day partitions of the PostgreSQL store's `measurements` table, and prunes by them.

`measurements` is partitioned by range on `ts` (epoch seconds), one partition per UTC
day, named `measurements_YYYYMMDD`. `DayPartitions` knows which exist: it creates the
ones for the next days ahead of time (`ensure_ahead`) and any other day a row needs on
demand (`ensure`, for late or early rows), each in a statement of its own outside the
write transaction, so a rolled back write never leaves the cache believing in a
partition that is gone. `prune` drops whole partitions older than the cut and deletes
rows only inside the one partition that straddles it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import re
from collections.abc import Iterable
from typing import Any

import asyncpg

__all__ = ["DAY_S", "DayPartitions", "day_of", "partition_name"]

DAY_S = 86_400
"""The width of one partition, in seconds."""

_BOUNDS = re.compile(r"FROM \('?(-?[\d.e+]+)'?\) TO \('?(-?[\d.e+]+)'?\)")


def day_of(ts: float) -> int:
    """The start of the UTC day holding `ts`, in epoch seconds.

    Raises ValueError for a time that is not finite (no partition can hold it).
    """
    if not math.isfinite(ts):
        raise ValueError(f"measurement time {ts} is not a finite number")
    return int(ts // DAY_S) * DAY_S


def partition_name(day: int) -> str:
    """The name of the partition holding the day starting at `day` (epoch seconds)."""
    try:
        date = dt.datetime.fromtimestamp(day, dt.UTC).strftime("%Y%m%d")
    except (OverflowError, OSError, ValueError):
        return f"measurements_d{day // DAY_S}".replace("-", "m")
    return f"measurements_{date}"


class DayPartitions:
    """The day partitions of `measurements` that exist, as a cache of the catalog.

    `days_ahead`: how many days after today `ensure_ahead` creates. Every method takes
    the asyncpg connection to use, and raises what asyncpg raises.
    """

    def __init__(self, *, days_ahead: int = 3) -> None:
        self.days_ahead = days_ahead
        self.known: dict[int, tuple[str, float]] = {}
        """The partitions by the start of their range: (name, end of the range)."""

    async def load(self, conn: Any) -> None:
        """Read which partitions exist from the catalog."""
        rows = await conn.fetch(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits AS i"
            " JOIN pg_class AS c ON c.oid = i.inhrelid"
            " WHERE i.inhparent = 'measurements'::regclass"
        )
        self.known = {}
        for name, bound in rows:
            match = _BOUNDS.search(bound or "")
            if match:
                self.known[int(float(match.group(1)))] = (name, float(match.group(2)))

    async def ensure(self, conn: Any, days: Iterable[int]) -> int:
        """Create the partitions of `days` (day starts) that do not exist; how many were."""
        created = 0
        for day in sorted(set(days) - self.known.keys()):
            name = partition_name(day)
            # another store on the same database may make it at the same moment
            with contextlib.suppress(asyncpg.DuplicateTableError, asyncpg.UniqueViolationError):
                await conn.execute(
                    f'CREATE TABLE IF NOT EXISTS "{name}" PARTITION OF measurements'
                    f" FOR VALUES FROM ({day}) TO ({day + DAY_S})"
                )
            self.known[day] = (name, float(day + DAY_S))
            created += 1
        return created

    async def ensure_ahead(self, conn: Any, now: float) -> int:
        """Create the partitions of today and the next `days_ahead` days; how many were new."""
        today = day_of(now)
        return await self.ensure(conn, (today + k * DAY_S for k in range(self.days_ahead + 1)))

    async def prune(self, conn: Any, older_than: float) -> int:
        """Delete the rows stamped before `older_than`; how many there were.

        Partitions wholly before it are counted and dropped, with their ids in
        `measurement_ids`; only the partition that straddles the cut has rows deleted
        (their ids are kept until their day is dropped: a resend of one is not stored).
        Run it inside a transaction; `forget` the dropped partitions once it has committed.
        """
        deleted = 0
        dropped_until = -math.inf
        for _start, (name, end) in sorted(self.known.items()):
            if end <= older_than:
                deleted += int(await conn.fetchval(f'SELECT count(*) FROM "{name}"'))
                await conn.execute(f'DROP TABLE IF EXISTS "{name}"')
                dropped_until = max(dropped_until, end)
        if dropped_until > -math.inf:  # their ids go with them (one scan per dropped day)
            await conn.execute("DELETE FROM measurement_ids WHERE ts < $1", dropped_until)
        status = await conn.execute("DELETE FROM measurements WHERE ts < $1", older_than)
        return deleted + int(status.split()[-1])

    def forget(self, older_than: float) -> None:
        """Drop from the cache the partitions `prune(older_than)` dropped."""
        self.known = {s: (n, e) for s, (n, e) in self.known.items() if e > older_than}

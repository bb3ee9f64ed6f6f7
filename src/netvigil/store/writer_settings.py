"""The SQLite writer's timing and sizes (`WriterSettings`); the defaults are what
`netvigil run` uses."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_SETTINGS", "WriterSettings"]


@dataclass(frozen=True, slots=True)
class WriterSettings:
    """The writer's timing and sizes; the defaults are what `netvigil run` uses."""

    group_commit_s: float = 0.5
    """Submitted measurements wait up to this long to share a transaction (group commit).

    Each commit appends every page it changed to the WAL, so many small transactions
    cost far more CPU than fewer larger ones. `add()`, `flush()`, incident and admin
    writes, prunes and `close()` are written at once (with whatever queued before them).
    """
    max_transaction: int = 20_000
    """The most queued items the writer folds into one transaction."""
    prune_every_s: float = 60.0
    """With a retention set, the writer prunes at most this often."""
    prune_chunk: int = 50_000
    """Rows deleted per transaction while pruning, so writes are not held up long."""
    lateness_s: float = 60.0
    """A minute's rollups are written once a measurement this long past its end is written.

    Rows for a minute that has closed are still counted exactly (recomputed from raw
    rows), only at a higher cost per row.
    """
    rollup_refresh_s: float = 10.0
    """Open rollups that changed are written at least this often (how stale readers see them)."""
    max_ahead_s: float = 300.0
    """Measurements stamped further than this ahead of the writer's clock do not close minutes."""
    retry_every_s: float = 2.0
    """After a write failed on the database file (a full disk, an I/O error), the writer
    tries again this long later; what it could not write stays queued meanwhile."""
    retry_transaction: int = 1_000
    """While writes fail, each retry tries at most this many queued items (cheap to fail);
    once one commits, the rest is written `max_transaction` at a time."""
    max_backlog: int = 100_000
    """The most submitted items kept queued while writes fail; beyond it the oldest
    measurements are dropped (counted and logged)."""
    summary_every_s: float = 60.0
    """While writes keep failing, at most one line per this long tells how many more did."""
    close_timeout_s: float = 5.0
    """`close()` waits this long for the writer to write what is queued, then gives up
    (logging how many measurements were not written)."""


DEFAULT_SETTINGS = WriterSettings()
"""The settings `netvigil run` uses."""

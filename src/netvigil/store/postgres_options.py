"""What the PostgreSQL store needs beyond `WriterSettings` (`PostgresOptions`); the
defaults are what `netvigil run` uses."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_OPTIONS", "PostgresOptions"]


@dataclass(frozen=True, slots=True)
class PostgresOptions:
    """What the PostgreSQL store needs beyond `WriterSettings`; defaults are `netvigil run`'s."""

    days_ahead: int = 3
    """Day partitions are created this many days ahead of today."""
    max_retry_s: float = 30.0
    """While the server is away, the wait between tries doubles up to this long."""
    connect_timeout_s: float = 10.0
    """How long one connection attempt may take."""
    readers: int = 4
    """Connections of the read pool."""
    fold_every_s: float = 2.0
    """How often the writer folds the rollups its writes marked (`postgres_rollups`);
    reads are exact meanwhile (they recompute marked keys), so this trades write work
    (a key written by many batches is recomputed once per fold) against read work."""
    fold_limit: int = 100_000
    """At most this many rollup keys are folded in one transaction."""


DEFAULT_OPTIONS = PostgresOptions()

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


DEFAULT_OPTIONS = PostgresOptions()

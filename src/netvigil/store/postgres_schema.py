"""The PostgreSQL schema: the migrations shipped in `migrations/postgres/`, their runner,
and what the PostgreSQL store needs to talk about its server without leaking secrets.

A database records the migrations applied in the table `netvigil_schema` (one row per
version). `migrate` applies the missing ones in order, one transaction each, under an
advisory lock so that two stores opening at once do not race, and refuses a database
written by a newer netvigil. `redact_dsn` is how a DSN appears in errors and logs (never
with its password); `is_connection_error` tells a failure of the server or the link to
it (retrying later may work) from a failure of what was written.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import asyncpg

from netvigil.errors import StoreError
from netvigil.store.schema import migrations

__all__ = [
    "MIGRATION_LOCK",
    "SCHEMA_VERSION",
    "is_connection_error",
    "migrate",
    "migrations",
    "redact_dsn",
]

MIGRATION_LOCK = 0x4E564754
"""The advisory lock key held while migrating ("NVGT", as the SQLite application id)."""

_CONNECTION_SQLSTATE_CLASSES = frozenset({"08", "53", "57", "58", "40"})
"""SQLSTATE classes of failures that are not the rows' fault: connection exception (08),
insufficient resources such as a full disk (53), operator intervention such as a server
shutting down (57), system error such as an I/O error (58), transaction rollback such as
a deadlock or a serialization failure (40)."""


SCHEMA_VERSION = len(migrations("postgres"))
"""The schema version this code writes."""


async def migrate(conn: Any, *, to_version: int = SCHEMA_VERSION) -> int:
    """Bring the database of `conn` (an asyncpg connection) to `to_version`, one
    transaction per step; returns the version it had.

    Raises StoreError when the database was written by a newer netvigil or a step fails.
    """
    # The lock first: two `CREATE TABLE IF NOT EXISTS` at once can both try to create it
    # (a duplicate key in pg_type), so the version table too is made under the lock.
    await conn.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS netvigil_schema"
            " (version INTEGER PRIMARY KEY, applied TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        version = int(await conn.fetchval("SELECT coalesce(max(version), 0) FROM netvigil_schema"))
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"database schema version {version} is newer than this netvigil supports"
                f" ({SCHEMA_VERSION}); upgrade netvigil to open it"
            )
        for step, sql in migrations("postgres"):
            if not version < step <= to_version:
                continue
            try:
                async with conn.transaction():
                    await conn.execute(sql)
                    await conn.execute("INSERT INTO netvigil_schema (version) VALUES ($1)", step)
            except asyncpg.PostgresError as exc:
                raise StoreError(f"schema migration to version {step} failed: {exc}") from exc
        return version
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", MIGRATION_LOCK)


def redact_dsn(dsn: str) -> str:
    """`dsn` as it may appear in errors and logs: scheme, user, host, port and database,
    never a password (nor the query string, which may hold one)."""
    if "://" not in dsn:  # libpq's key=value form: nothing of it is safe to show whole
        return "postgresql://(key=value DSN)"
    try:
        parts = urlsplit(dsn)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "postgresql://(unparsable DSN)"
    user = f"{parts.username}@" if parts.username else ""
    if ":" in host:
        host = f"[{host}]"
    return f"{parts.scheme or 'postgresql'}://{user}{host}{port}{parts.path}"


def is_connection_error(exc: BaseException) -> bool:
    """Whether `exc` failed a write because of the server or the connection to it (gone,
    restarting, out of disk, a deadlock), not because of what was written."""
    if isinstance(exc, ValueError):  # asyncpg's client-side DataError: a value it cannot send
        return False
    if isinstance(exc, OSError | TimeoutError | asyncpg.InterfaceError):
        return True
    if isinstance(exc, asyncpg.PostgresError):
        state = str(getattr(exc, "sqlstate", "") or "")
        return state[:2] in _CONNECTION_SQLSTATE_CLASSES or state == "55P03"
    return False

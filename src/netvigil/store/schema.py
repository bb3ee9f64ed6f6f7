"""The SQLite schema: the migrations shipped in `migrations/sqlite/` and the runner.

A database records its schema version in `PRAGMA user_version` and that it is
netvigil's in `PRAGMA application_id`. `migrate` applies the missing steps in order,
one transaction each, and refuses a file of another application or one written by a
newer netvigil.
"""

from __future__ import annotations

import importlib.resources
import re
import sqlite3
from pathlib import Path

from netvigil.errors import StoreError

__all__ = ["APPLICATION_ID", "SCHEMA_VERSION", "connect_writer", "migrate", "migrations"]

APPLICATION_ID = 0x4E564754
"""`PRAGMA application_id` of a netvigil database ("NVGT")."""


def migrations(backend: str = "sqlite") -> list[tuple[int, str]]:
    """The schema migrations shipped with netvigil for `backend` ("sqlite" or "postgres":
    the folder under `migrations/`), as (version, SQL) in order.

    Raises RuntimeError when the files are not numbered 1..n.
    """
    folder = importlib.resources.files("netvigil.store") / "migrations" / backend
    found = []
    for entry in folder.iterdir():
        match = re.fullmatch(r"(\d+)_\w+\.sql", entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    found.sort()
    if [v for v, _ in found] != list(range(1, len(found) + 1)):
        raise RuntimeError(f"{backend} migrations are not numbered 1..n: {[v for v, _ in found]}")
    return found


SCHEMA_VERSION = len(migrations())
"""The schema version this code writes (`PRAGMA user_version`)."""


def migrate(conn: sqlite3.Connection, *, to_version: int = SCHEMA_VERSION) -> int:
    """Bring a database to `to_version`, one transaction per step; returns the old version.

    Raises StoreError when the file belongs to another application or was written by
    a newer netvigil. `conn` must be in autocommit mode (`isolation_level=None`).
    """
    version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    app_id: int = conn.execute("PRAGMA application_id").fetchone()[0]
    has_tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] > 0
    if app_id not in (0, APPLICATION_ID) or (version == 0 and has_tables):
        raise StoreError("not a netvigil database (it holds another application's data)")
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"database schema version {version} is newer than this netvigil supports"
            f" ({SCHEMA_VERSION}); upgrade netvigil to open it"
        )
    for step, sql in migrations():
        if version < step <= to_version:
            try:
                conn.executescript(
                    f"BEGIN IMMEDIATE;\n{sql}\nPRAGMA user_version = {step};\n"
                    f"PRAGMA application_id = {APPLICATION_ID};\nCOMMIT;"
                )
            except sqlite3.Error as exc:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise StoreError(f"schema migration to version {step} failed: {exc}") from exc
    return version


def connect_writer(path: Path) -> sqlite3.Connection:
    """The write connection of the database at `path`: created (with its folder) or
    migrated, in WAL mode, autocommit (transactions are begun explicitly).

    Raises StoreError when the file cannot be opened, is not a netvigil database, was
    written by a newer netvigil, or cannot be migrated.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, isolation_level=None)
    except (OSError, sqlite3.Error) as exc:
        raise StoreError(f"{path}: cannot open database: {exc}") from exc
    try:
        conn.execute("PRAGMA busy_timeout = 5000")
        migrate(conn)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA cache_size = -65536")  # KiB: index pages of big databases
        conn.execute("PRAGMA temp_store = MEMORY")
    except StoreError as exc:
        conn.close()
        raise StoreError(f"{path}: {exc}") from exc
    except sqlite3.Error as exc:
        conn.close()
        raise StoreError(f"{path}: not a usable netvigil database: {exc}") from exc
    return conn

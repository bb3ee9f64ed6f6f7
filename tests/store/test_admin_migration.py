"""The admin tables are part of the store's schema (migration 4), old files included."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

from netvigil.maintenance import Mute
from netvigil.store.sqlite import SCHEMA_VERSION, SQLiteStore, migrate

ADMIN_TABLES = {"admin_tokens", "admin_agents", "admin_mutes", "admin_notes"}

# What the admin API's own connection ran on a version-3 store before the tables were a migration.
OLD_SCHEMA = """
CREATE TABLE IF NOT EXISTS admin_tokens (
    name         TEXT NOT NULL PRIMARY KEY,
    token_sha256 TEXT NOT NULL UNIQUE,
    created      REAL NOT NULL,
    last_used    REAL
);
CREATE TABLE IF NOT EXISTS admin_agents (
    name         TEXT NOT NULL PRIMARY KEY,
    token_sha256 TEXT NOT NULL UNIQUE,
    country      TEXT,
    in_country   INTEGER NOT NULL,
    created      REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS admin_mutes (
    target  TEXT NOT NULL PRIMARY KEY,
    until   REAL NOT NULL,
    note    TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS admin_notes (
    seq      INTEGER PRIMARY KEY,
    incident TEXT NOT NULL,
    kind     TEXT NOT NULL,
    ts       REAL NOT NULL,
    author   TEXT NOT NULL,
    text     TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS admin_notes_incident ON admin_notes (incident, seq);
"""

T0 = 1_657_915_200.0


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def tables(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    finally:
        conn.close()
    return {r[0] for r in rows}


def user_version(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        version: int = conn.execute("PRAGMA user_version").fetchone()[0]
    finally:
        conn.close()
    return version


def old_version_3_file(path: Path) -> str:
    """A version-3 store whose admin tables the old code made, with rows; the admin token."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        assert migrate(conn, to_version=3) == 0
        conn.executescript(OLD_SCHEMA)
        token = "nva_old-token"
        conn.execute(
            "INSERT INTO admin_tokens (name, token_sha256, created) VALUES (?, ?, ?)",
            ("alice", hash_token(token), T0),
        )
        conn.execute(
            "INSERT INTO admin_agents (name, token_sha256, country, in_country, created)"
            " VALUES ('durres', ?, 'AL', 1, ?)",
            ("a" * 64, T0),
        )
        conn.execute(
            "INSERT INTO admin_mutes (target, until, note, created) VALUES (?, ?, ?, ?)",
            ("portal-tcp", T0 + 3600, "router swap", T0),
        )
        conn.execute(
            "INSERT INTO admin_notes (incident, kind, ts, author, text)"
            " VALUES ('inc-1', 'ack', ?, 'alice', 'on it')",
            (T0,),
        )
    finally:
        conn.close()
    assert user_version(path) == 3
    return token


def test_migration_4_creates_the_admin_tables(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        assert migrate(conn, to_version=3) == 0
        assert not tables(path) & ADMIN_TABLES
        assert migrate(conn, to_version=4) == 3
    finally:
        conn.close()
    assert user_version(path) == 4
    assert tables(path) >= ADMIN_TABLES


async def test_a_fresh_file_gets_the_admin_tables_through_the_migrations(
    tmp_path: Path,
) -> None:
    path = tmp_path / "fresh.db"
    async with await SQLiteStore.open(path, now=lambda: T0) as store:
        await store.set_mute("portal-tcp", T0 + 60, "works")
        assert await store.mutes() == [Mute("portal-tcp", T0 + 60, "works", T0)]
    assert SCHEMA_VERSION >= 4
    assert user_version(path) == SCHEMA_VERSION
    assert tables(path) >= ADMIN_TABLES | {"measurements", "incidents"}


async def test_old_admin_tables_migrate_with_their_rows(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    token = old_version_3_file(path)
    async with await SQLiteStore.open(path, now=lambda: T0 + 5) as store:
        assert await store.use_admin_token(hash_token(token)) == "alice"
        [record] = await store.admin_tokens()
        assert (record.name, record.created, record.last_used) == ("alice", T0, T0 + 5)
        assert [a.name for a in await store.agents()] == ["durres"]
        assert await store.mutes() == [Mute("portal-tcp", T0 + 3600, "router swap", T0)]
        [note] = await store.notes("inc-1")
        assert (note.kind, note.author, note.text) == ("ack", "alice", "on it")
    assert user_version(path) == SCHEMA_VERSION


async def test_the_store_migrates_old_admin_tables_too(tmp_path: Path) -> None:
    path = tmp_path / "v3.db"
    old_version_3_file(path)
    async with await SQLiteStore.open(path):
        pass
    assert user_version(path) == SCHEMA_VERSION
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("SELECT target, note FROM admin_mutes").fetchall() == [
            ("portal-tcp", "router swap")
        ]
    finally:
        conn.close()


async def test_a_store_has_the_admin_tables_from_its_first_open(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    async with await SQLiteStore.open(path):
        pass
    assert tables(path) >= ADMIN_TABLES
    assert user_version(path) == SCHEMA_VERSION

"""AdminDB: what the admin API writes, in tables of its own inside the store's SQLite file.

    admin_tokens   name, sha256 of an admin API token, created, last used
    admin_agents   remote vantages added through the API: name, sha256 of the agent token
    admin_mutes    targets muted for maintenance, until when, with a note
    admin_notes    acknowledgements and annotations of incidents, append-only

Tokens are never stored, only their sha256 digests. The tables sit beside the store's:
they are part of its schema (migration `0004_admin.sql`), so opening either one creates
them, one file holds everything and a backup of it is complete. Admin writes are rare; they
go through one connection of their own, serialised by a lock, in a worker thread.

    db = AdminDB.open("netvigil.db")
    token = db.create_token("alice")          # shown once; only its hash is kept
    db.token_name(token)                      # -> "alice"
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from netvigil.errors import StoreError
from netvigil.maintenance import Mute

__all__ = ["AdminDB", "AgentRecord", "IncidentNote", "TokenRecord", "hash_token", "new_token"]

TOKEN_BYTES = 32


def hash_token(token: str) -> str:
    """The sha256 hex digest of `token`."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def new_token(prefix: str = "nva_") -> tuple[str, str]:
    """A fresh random token (256 bits) and its sha256 hex digest."""
    token = prefix + secrets.token_urlsafe(TOKEN_BYTES)
    return token, hash_token(token)


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """An admin token as stored: its name and times, never the token."""

    name: str
    created: float
    last_used: float | None


@dataclass(frozen=True, slots=True)
class AgentRecord:
    """A remote vantage added through the admin API."""

    name: str
    token_sha256: str
    country: str | None
    in_country: bool
    created: float


@dataclass(frozen=True, slots=True)
class IncidentNote:
    """An acknowledgement or annotation of an incident."""

    seq: int
    incident: str
    kind: Literal["ack", "note"]
    ts: float
    author: str
    text: str


class AdminDB:
    """The admin tables in one SQLite file; see the module docstring.

    Every method raises StoreError when the file cannot be read or written.
    """

    def __init__(self, conn: sqlite3.Connection, path: Path, now: Callable[[], float]) -> None:
        self.path = path
        self._conn = conn
        self._lock = threading.Lock()
        self._now = now

    @classmethod
    def open(cls, path: str | Path, *, now: Callable[[], float] = time.time) -> AdminDB:
        """Open the netvigil database at `path` (creating and migrating it if need be).

        Raises StoreError when the file cannot be opened or migrated.
        """
        from netvigil.store.sqlite_writer import migrate

        path = Path(path)
        try:
            conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open: {exc}") from exc
        try:
            conn.execute("PRAGMA busy_timeout = 5000")
            migrate(conn)
            conn.execute("PRAGMA journal_mode = WAL")
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"{path}: cannot open the admin tables: {exc}") from exc
        except StoreError:
            conn.close()
            raise
        return cls(conn, path, now)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    def _run(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.IntegrityError:
                raise
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: admin table access failed: {exc}") from exc

    def _delete(self, sql: str, key: str) -> bool:
        with self._lock:
            try:
                return self._conn.execute(sql, (key,)).rowcount > 0
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: admin table access failed: {exc}") from exc

    # -- admin tokens -------------------------------------------------------------------

    def create_token(self, name: str) -> str:
        """A new admin token named `name`; only its hash is stored. Raises ValueError if taken."""
        token, digest = new_token("nva_")
        try:
            self._run(
                "INSERT INTO admin_tokens (name, token_sha256, created) VALUES (?, ?, ?)",
                (name, digest, self._now()),
            )
        except sqlite3.IntegrityError as exc:
            raise ValueError(f"an admin token named {name!r} exists already") from exc
        return token

    def tokens(self) -> list[TokenRecord]:
        """Every admin token, by name."""
        rows = self._run("SELECT name, created, last_used FROM admin_tokens ORDER BY name")
        return [TokenRecord(r[0], r[1], r[2]) for r in rows]

    def revoke_token(self, name: str) -> bool:
        """Delete the admin token `name`; whether there was one."""
        return self._delete("DELETE FROM admin_tokens WHERE name = ?", name)

    def token_name(self, token: str) -> str | None:
        """The name of the admin token `token`, or None; records its use."""
        digest = hash_token(token)
        rows = self._run("SELECT name, token_sha256 FROM admin_tokens")
        found: str | None = None
        for name, stored in rows:
            if hmac.compare_digest(digest, stored) and found is None:
                found = name
        if found is not None:
            self._run("UPDATE admin_tokens SET last_used = ? WHERE name = ?", (self._now(), found))
        return found

    # -- agent tokens -------------------------------------------------------------------

    def create_agent(self, name: str, *, country: str | None, in_country: bool) -> str:
        """A new agent token for vantage `name`. Raises ValueError if the name is taken."""
        token, digest = new_token("nv_")
        try:
            self._run(
                "INSERT INTO admin_agents (name, token_sha256, country, in_country, created)"
                " VALUES (?, ?, ?, ?, ?)",
                (name, digest, country, int(in_country), self._now()),
            )
        except sqlite3.IntegrityError as exc:
            raise ValueError(f"an agent named {name!r} exists already") from exc
        return token

    def agents(self) -> list[AgentRecord]:
        """Every agent added through the API, by name."""
        rows = self._run(
            "SELECT name, token_sha256, country, in_country, created FROM admin_agents"
            " ORDER BY name"
        )
        return [AgentRecord(r[0], r[1], r[2], bool(r[3]), r[4]) for r in rows]

    def revoke_agent(self, name: str) -> bool:
        """Delete the agent `name`; whether there was one."""
        return self._delete("DELETE FROM admin_agents WHERE name = ?", name)

    # -- mutes --------------------------------------------------------------------------

    def set_mute(self, target: str, until: float, note: str) -> Mute:
        """Mute `target` until `until` (replacing its mute)."""
        mute = Mute(target, until, note, self._now())
        self._run(
            "INSERT OR REPLACE INTO admin_mutes (target, until, note, created) VALUES (?, ?, ?, ?)",
            (target, until, note, mute.created),
        )
        return mute

    def delete_mute(self, target: str) -> bool:
        """Lift the mute on `target`; whether there was one."""
        return self._delete("DELETE FROM admin_mutes WHERE target = ?", target)

    def mutes(self) -> list[Mute]:
        """Every stored mute (expired ones too), by target."""
        rows = self._run("SELECT target, until, note, created FROM admin_mutes ORDER BY target")
        return [Mute(r[0], r[1], r[2], r[3]) for r in rows]

    # -- incident notes -----------------------------------------------------------------

    def add_note(
        self, incident: str, kind: Literal["ack", "note"], author: str, text: str
    ) -> IncidentNote:
        """Append an acknowledgement or annotation to `incident`."""
        ts = self._now()
        with self._lock:
            try:
                cur = self._conn.execute(
                    "INSERT INTO admin_notes (incident, kind, ts, author, text)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (incident, kind, ts, author, text),
                )
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: cannot add a note: {exc}") from exc
            seq = int(cur.lastrowid or 0)
        return IncidentNote(seq, incident, kind, ts, author, text)

    def notes(self, incident: str) -> list[IncidentNote]:
        """The notes of `incident`, oldest first."""
        rows = self._run(
            "SELECT seq, incident, kind, ts, author, text FROM admin_notes"
            " WHERE incident = ? ORDER BY seq",
            (incident,),
        )
        return [IncidentNote(r[0], r[1], r[2], r[3], r[4], r[5]) for r in rows]

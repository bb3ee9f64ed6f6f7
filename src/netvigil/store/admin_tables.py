"""The admin tables of the SQLite store (migration `0004_admin.sql`): SQL and rows.

    admin_tokens   name, sha256 of an admin API token, created, last used
    admin_agents   remote vantages added through the API: name, sha256 of the agent token
    admin_mutes    targets muted for maintenance, until when, with a note
    admin_notes    acknowledgements and annotations of incidents, append-only

Reads (`*_SQL` with their row converters) run on the store's read connections; the
changes (`insert_token`, ...) are functions of a connection that the writer thread
runs inside a transaction of its own (`writes.AdminWrite`).
"""

from __future__ import annotations

import hmac
import sqlite3
from collections.abc import Callable
from typing import Any

from netvigil.maintenance import Mute
from netvigil.store.base import AgentRecord, IncidentNote, NoteKind, TokenRecord

__all__ = [
    "AGENTS_SQL",
    "MUTES_SQL",
    "NOTES_SQL",
    "TOKENS_SQL",
    "agent_from_row",
    "delete_by_name",
    "insert_agent",
    "insert_note",
    "insert_token",
    "mute_from_row",
    "note_from_row",
    "replace_mute",
    "token_from_row",
    "use_token",
]

Row = tuple[Any, ...]

TOKENS_SQL = "SELECT name, created, last_used FROM admin_tokens ORDER BY name"
AGENTS_SQL = (
    "SELECT name, token_sha256, country, in_country, created FROM admin_agents ORDER BY name"
)
MUTES_SQL = "SELECT target, until, note, created FROM admin_mutes ORDER BY target"
NOTES_SQL = (
    "SELECT seq, incident, kind, ts, author, text FROM admin_notes WHERE incident = ? ORDER BY seq"
)
_DELETE = {
    "token": "DELETE FROM admin_tokens WHERE name = ?",
    "agent": "DELETE FROM admin_agents WHERE name = ?",
    "mute": "DELETE FROM admin_mutes WHERE target = ?",
}


def token_from_row(r: Row) -> TokenRecord:
    """A row of `TOKENS_SQL` as a TokenRecord."""
    return TokenRecord(r[0], r[1], r[2])


def agent_from_row(r: Row) -> AgentRecord:
    """A row of `AGENTS_SQL` as an AgentRecord."""
    return AgentRecord(r[0], r[1], r[2], bool(r[3]), r[4])


def mute_from_row(r: Row) -> Mute:
    """A row of `MUTES_SQL` as a Mute."""
    return Mute(r[0], r[1], r[2], r[3])


def note_from_row(r: Row) -> IncidentNote:
    """A row of `NOTES_SQL` as an IncidentNote."""
    return IncidentNote(r[0], r[1], r[2], r[3], r[4], r[5])


def insert_token(
    record: TokenRecord, token_sha256: str
) -> Callable[[sqlite3.Connection], TokenRecord]:
    """Store a new admin token; the change raises ValueError when name or token is taken."""

    def run(conn: sqlite3.Connection) -> TokenRecord:
        try:
            conn.execute(
                "INSERT INTO admin_tokens (name, token_sha256, created) VALUES (?, ?, ?)",
                (record.name, token_sha256, record.created),
            )
        except sqlite3.IntegrityError as exc:
            raise ValueError(f"an admin token named {record.name!r} exists already") from exc
        return record

    return run


def use_token(token_sha256: str, now: float) -> Callable[[sqlite3.Connection], str | None]:
    """Find the admin token with this digest and record its use at `now`; its name or None.

    Every stored digest is compared in constant time, so the time taken does not tell
    how much of a guessed token's digest matches a stored one.
    """

    def run(conn: sqlite3.Connection) -> str | None:
        found: str | None = None
        for name, stored in conn.execute("SELECT name, token_sha256 FROM admin_tokens"):
            if hmac.compare_digest(token_sha256, stored) and found is None:
                found = name
        if found is not None:
            conn.execute("UPDATE admin_tokens SET last_used = ? WHERE name = ?", (now, found))
        return found

    return run


def insert_agent(record: AgentRecord) -> Callable[[sqlite3.Connection], AgentRecord]:
    """Store a new agent; the change raises ValueError when name or token is taken."""

    def run(conn: sqlite3.Connection) -> AgentRecord:
        try:
            conn.execute(
                "INSERT INTO admin_agents (name, token_sha256, country, in_country, created)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    record.name,
                    record.token_sha256,
                    record.country,
                    int(record.in_country),
                    record.created,
                ),
            )
        except sqlite3.IntegrityError as exc:
            raise ValueError(f"an agent named {record.name!r} exists already") from exc
        return record

    return run


def replace_mute(mute: Mute) -> Callable[[sqlite3.Connection], Mute]:
    """Store `mute`, replacing the one of its target."""

    def run(conn: sqlite3.Connection) -> Mute:
        conn.execute(
            "INSERT OR REPLACE INTO admin_mutes (target, until, note, created) VALUES (?, ?, ?, ?)",
            (mute.target, mute.until, mute.note, mute.created),
        )
        return mute

    return run


def delete_by_name(table: str, key: str) -> Callable[[sqlite3.Connection], bool]:
    """Delete the token, agent or mute (`table`) named `key`; the change says whether it was."""
    sql = _DELETE[table]

    def run(conn: sqlite3.Connection) -> bool:
        return conn.execute(sql, (key,)).rowcount > 0

    return run


def insert_note(
    incident: str, kind: NoteKind, ts: float, author: str, text: str
) -> Callable[[sqlite3.Connection], IncidentNote]:
    """Append a note to `incident`; the change returns it with its sequence number."""

    def run(conn: sqlite3.Connection) -> IncidentNote:
        cur = conn.execute(
            "INSERT INTO admin_notes (incident, kind, ts, author, text) VALUES (?, ?, ?, ?, ?)",
            (incident, kind, ts, author, text),
        )
        return IncidentNote(int(cur.lastrowid or 0), incident, kind, ts, author, text)

    return run

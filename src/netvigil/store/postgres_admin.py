"""The admin tables of the PostgreSQL store: admin tokens, agents, mutes, incident notes.

Each function takes an asyncpg connection from the store's pool and runs in a
transaction of its own; the rows are those of the SQLite store's `admin_tables`, and a
taken name or token is refused with ValueError the same way.
"""

from __future__ import annotations

import hmac
from typing import Any

import asyncpg

from netvigil.maintenance import Mute
from netvigil.store.admin_tables import (
    AGENTS_SQL,
    MUTES_SQL,
    TOKENS_SQL,
    agent_from_row,
    mute_from_row,
    note_from_row,
    token_from_row,
)
from netvigil.store.base import AgentRecord, IncidentNote, NoteKind, TokenRecord

__all__ = [
    "add_agent",
    "add_note",
    "add_token",
    "agents",
    "delete_by_name",
    "mutes",
    "notes",
    "replace_mute",
    "tokens",
    "use_token",
]

_DELETE = {
    "token": "DELETE FROM admin_tokens WHERE name = $1",
    "agent": "DELETE FROM admin_agents WHERE name = $1",
    "mute": "DELETE FROM admin_mutes WHERE target = $1",
}


async def tokens(conn: Any) -> list[TokenRecord]:
    """Every admin token, by name."""
    return [token_from_row(tuple(r)) for r in await conn.fetch(TOKENS_SQL)]


async def agents(conn: Any) -> list[AgentRecord]:
    """Every agent, by name."""
    return [agent_from_row(tuple(r)) for r in await conn.fetch(AGENTS_SQL)]


async def mutes(conn: Any) -> list[Mute]:
    """Every stored mute, by target."""
    return [mute_from_row(tuple(r)) for r in await conn.fetch(MUTES_SQL)]


async def notes(conn: Any, incident_id: str) -> list[IncidentNote]:
    """The notes of an incident, oldest first."""
    rows = await conn.fetch(
        "SELECT seq, incident, kind, ts, author, text FROM admin_notes WHERE incident = $1"
        " ORDER BY seq",
        incident_id,
    )
    return [note_from_row(tuple(r)) for r in rows]


async def add_token(conn: Any, record: TokenRecord, token_sha256: str) -> TokenRecord:
    """Store a new admin token; ValueError when its name or token is taken."""
    try:
        await conn.execute(
            "INSERT INTO admin_tokens (name, token_sha256, created) VALUES ($1, $2, $3)",
            record.name,
            token_sha256,
            record.created,
        )
    except asyncpg.UniqueViolationError as exc:
        raise ValueError(f"an admin token named {record.name!r} exists already") from exc
    return record


async def use_token(conn: Any, token_sha256: str, now: float) -> str | None:
    """The name of the admin token with this digest (its use recorded at `now`), or None.

    Every stored digest is compared in constant time, as the SQLite store does.
    """
    async with conn.transaction():
        found: str | None = None
        for name, stored in await conn.fetch("SELECT name, token_sha256 FROM admin_tokens"):
            if hmac.compare_digest(token_sha256, stored) and found is None:
                found = name
        if found is not None:
            await conn.execute("UPDATE admin_tokens SET last_used = $1 WHERE name = $2", now, found)
        return found


async def add_agent(conn: Any, record: AgentRecord) -> AgentRecord:
    """Store a new agent; ValueError when its name or token is taken."""
    try:
        await conn.execute(
            "INSERT INTO admin_agents (name, token_sha256, country, in_country, created)"
            " VALUES ($1, $2, $3, $4, $5)",
            record.name,
            record.token_sha256,
            record.country,
            int(record.in_country),
            record.created,
        )
    except asyncpg.UniqueViolationError as exc:
        raise ValueError(f"an agent named {record.name!r} exists already") from exc
    return record


async def replace_mute(conn: Any, mute: Mute) -> Mute:
    """Store `mute`, replacing the one of its target."""
    await conn.execute(
        "INSERT INTO admin_mutes (target, until, note, created) VALUES ($1, $2, $3, $4)"
        " ON CONFLICT (target) DO UPDATE SET until = excluded.until, note = excluded.note,"
        " created = excluded.created",
        mute.target,
        mute.until,
        mute.note,
        mute.created,
    )
    return mute


async def delete_by_name(conn: Any, table: str, key: str) -> bool:
    """Delete the token, agent or mute (`table`) named `key`; whether there was one."""
    status: str = await conn.execute(_DELETE[table], key)
    return int(status.split()[-1]) > 0


async def add_note(
    conn: Any, incident: str, kind: NoteKind, ts: float, author: str, text: str
) -> IncidentNote:
    """Append a note to `incident`; it is returned with its sequence number."""
    seq = await conn.fetchval(
        "INSERT INTO admin_notes (incident, kind, ts, author, text) VALUES ($1, $2, $3, $4, $5)"
        " RETURNING seq",
        incident,
        kind,
        ts,
        author,
        text,
    )
    return IncidentNote(int(seq), incident, kind, ts, author, text)

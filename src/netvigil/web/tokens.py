"""API tokens: admin tokens (bearer tokens for the admin API) and agents added at run time.

    token = create_admin_token(store, "alice")    # print it once; only its sha256 is kept
    curl -H "Authorization: Bearer $token" -X POST .../api/v1/admin/incidents/ID/ack

`create_admin_token` needs no CLI and no running server: it takes the store (or the
path of its SQLite file) and writes the token's hash into the admin tables there
(`netvigil.web.admin_db`). `AgentRegistry` is the set of remote vantages allowed to
ingest: the config's `[[agents]]` plus those added through the admin API.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from netvigil.config.model import AgentConfig
from netvigil.web.admin_db import AdminDB, AgentRecord

__all__ = ["AgentRegistry", "admin_db_path", "create_admin_token"]


def admin_db_path(store: Any) -> Path:
    """The SQLite file behind `store` (an SQLiteStore, a store wrapping one, or a path).

    Raises TypeError for a store that is not backed by one SQLite file.
    """
    if isinstance(store, str | Path):
        return Path(store)
    if isinstance(store, AdminDB):
        return store.path
    path = getattr(store, "path", None)
    if isinstance(path, str | Path):
        return Path(path)
    inner = getattr(store, "store", None)
    if inner is not None and inner is not store:
        return admin_db_path(inner)
    raise TypeError(f"{type(store).__name__} is not backed by an SQLite file")


def create_admin_token(store: Any, name: str) -> str:
    """A new admin API token named `name`, stored hashed in `store`'s database; returns it.

    `store` is an SQLiteStore (open or not), a store wrapping one, an AdminDB or the
    database path. Raises ValueError when `name` is empty or taken, StoreError when the
    database cannot be written.
    """
    if not name or len(name) > 64 or not name.isprintable():
        raise ValueError("a token name must be 1-64 printable characters")
    if isinstance(store, AdminDB):
        return store.create_token(name)
    db = AdminDB.open(admin_db_path(store))
    try:
        return db.create_token(name)
    finally:
        db.close()


class AgentRegistry:
    """The remote vantages allowed to ingest: configured ones plus API-added ones.

    Calling the registry returns the current list (the ingest route calls it per
    request); `reload()` re-reads the API-added agents after a change.
    """

    def __init__(self, configured: list[AgentConfig], db: AdminDB | None) -> None:
        self.configured = list(configured)
        self.db = db
        self._added: list[AgentConfig] = []
        self.reload()

    def reload(self) -> None:
        """Re-read the agents added through the API. Raises StoreError."""
        if self.db is None:
            return
        self._added = [_agent(r) for r in self.db.agents()]

    def __call__(self) -> list[AgentConfig]:
        return [*self.configured, *self._added]

    def is_configured(self, name: str) -> bool:
        """Whether `name` is an agent of the config file (not manageable through the API)."""
        return any(a.name == name for a in self.configured)


def _agent(record: AgentRecord) -> AgentConfig:
    return AgentConfig(
        name=record.name,
        token_sha256=record.token_sha256,
        country=record.country,
        in_country=record.in_country,
    )

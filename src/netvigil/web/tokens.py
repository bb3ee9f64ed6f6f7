"""API tokens: admin tokens (bearer tokens for the admin API) and agents added at run time.

    token = create_admin_token(store, "alice")    # print it once; only its sha256 is kept
    curl -H "Authorization: Bearer $token" -X POST .../api/v1/admin/incidents/ID/ack

Tokens are never stored, only their sha256 digests, in the store's admin tables
(`AdminStore`). `create_admin_token` needs no CLI and no running server: it takes the
store (or the path of its SQLite file). `AgentRegistry` is the set of remote vantages
allowed to ingest: the config's `[[agents]]` plus those added through the admin API.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import hashlib
import secrets
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import TypeVar

from netvigil.config.model import AgentConfig
from netvigil.store.base import AdminStore, AgentRecord
from netvigil.store.sqlite import SQLiteStore

__all__ = [
    "AgentRegistry",
    "add_admin_token",
    "admin_store_of",
    "call_blocking",
    "create_admin_token",
    "hash_token",
    "new_token",
]

T = TypeVar("T")

TOKEN_BYTES = 32
"""Random bytes in a token (256 bits), URL-safe base64 encoded."""


def hash_token(token: str) -> str:
    """The sha256 hex digest of `token`."""
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def new_token(prefix: str = "nva_") -> tuple[str, str]:
    """A fresh random token (256 bits) and its sha256 hex digest."""
    token = prefix + secrets.token_urlsafe(TOKEN_BYTES)
    return token, hash_token(token)


def admin_store_of(store: object) -> AdminStore | None:
    """The store holding the admin tables: `store` itself, or the store it wraps
    (its `store` attribute, as `TeeStore` has); None for a store without them."""
    for _depth in range(8):  # a bound, should a wrapper ever wrap itself
        if isinstance(store, AdminStore):
            return store
        store = getattr(store, "store", None)
        if store is None:
            break
    return None


def call_blocking(call: Callable[[], Awaitable[T]]) -> T:
    """The result of an async store call, awaited from synchronous code.

    The call runs in a thread of its own with its own event loop, so this works whether
    or not the calling thread runs a loop (that loop is blocked until it is done: keep
    it to rare calls, such as setting up an app or making a token).
    """

    async def run() -> T:
        return await call()

    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="netvigil-call") as pool:
        return pool.submit(asyncio.run, run()).result()


def _check_name(name: str) -> None:
    if not name or len(name) > 64 or not name.isprintable():
        raise ValueError("a token name must be 1-64 printable characters")


async def add_admin_token(store: AdminStore, name: str) -> str:
    """A new admin API token named `name`, stored hashed in `store`; returns the token.

    Raises ValueError when `name` is not 1-64 printable characters or is taken,
    StoreError when the store cannot be written.
    """
    _check_name(name)
    token, digest = new_token("nva_")
    await store.add_admin_token(name, digest)
    return token


def create_admin_token(store: AdminStore | object | str | Path, name: str) -> str:
    """A new admin API token named `name`, stored hashed; returns it (synchronously).

    `store` is an open store with the admin tables (or a store wrapping one), or the
    path of an SQLite database, which is opened (created if need be) for the call.
    Raises ValueError when `name` is not 1-64 printable characters or is taken,
    StoreError when the database cannot be written, TypeError for a store without
    admin tables.
    """
    _check_name(name)
    if isinstance(store, str | Path):
        path = Path(store)

        async def in_file() -> str:
            async with await SQLiteStore.open(path) as opened:
                return await add_admin_token(opened, name)

        return call_blocking(in_file)
    admin = admin_store_of(store)
    if admin is None:
        raise TypeError(f"{type(store).__name__} keeps no admin tables")
    return call_blocking(lambda: add_admin_token(admin, name))


class AgentRegistry:
    """The remote vantages allowed to ingest: configured ones plus API-added ones.

    Calling the registry returns the current list (the ingest route calls it per
    request); `reload()` re-reads the API-added agents after a change.
    """

    def __init__(
        self,
        configured: list[AgentConfig],
        store: AdminStore | None,
        added: Iterable[AgentRecord] = (),
    ) -> None:
        self.configured = list(configured)
        self.store = store
        self._added = [_agent(r) for r in added]

    async def reload(self) -> None:
        """Re-read the agents added through the API. Raises StoreError."""
        if self.store is None:
            return
        self._added = [_agent(r) for r in await self.store.agents()]

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

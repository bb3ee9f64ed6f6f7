"""Opening the store a config names: the embedded SQLite file or a PostgreSQL database.

    store = await open_store(config.store, path=resolved_path)
    async with store: ...

`[store] kind` picks the backend (`"sqlite"` by default, `"postgres"`); both implement
`Store` and `AdminStore` and report the same figures. The PostgreSQL DSN is only ever
shown without its password (`store_name`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from netvigil.config.model import StoreConfig
from netvigil.errors import StoreError
from netvigil.store.postgres import PostgresStore
from netvigil.store.sqlite import SQLiteStore
from netvigil.store.writer_settings import WriterSettings

__all__ = ["OpenedStore", "open_store", "store_name"]

OpenedStore = SQLiteStore | PostgresStore
"""A store `open_store` opens: each is a `Store` and an `AdminStore` with `figures()`."""


async def open_store(
    config: StoreConfig,
    *,
    path: Path | str | None = None,
    now: Callable[[], float] = time.time,
    prune: bool = True,
) -> OpenedStore:
    """Open (creating or migrating) the store `config` names and start its writer.

    `path` is where the SQLite file is (default `config.path`, as given); it is not used
    for PostgreSQL. With `prune`, raw measurements older than `config.retention_days` are
    pruned while it is open (what `netvigil run` wants; a command that only reads passes
    False). Raises StoreError when the store cannot be opened.
    """
    settings = WriterSettings(close_timeout_s=config.close_timeout_s)
    retention_days = config.retention_days if prune else None
    if config.kind == "postgres":
        if config.dsn is None:
            raise StoreError('store.dsn is required when store.kind is "postgres"')
        return await PostgresStore.open(
            config.dsn.get_secret_value(),
            retention_days=retention_days,
            now=now,
            settings=settings,
        )
    return await SQLiteStore.open(
        config.path if path is None else path,
        retention_days=retention_days,
        now=now,
        settings=settings,
    )


def store_name(store: OpenedStore) -> str:
    """How logs name `store`: its file, or its server and database (never a password)."""
    if isinstance(store, PostgresStore):
        return store.label
    return str(store.path)

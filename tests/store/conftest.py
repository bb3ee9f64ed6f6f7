"""Store fixtures: every backend in `STORE_BACKENDS` runs the same contract suite."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from netvigil.store import SQLiteStore, Store
from netvigil.store.base import AdminStore
from netvigil.store.postgres import PostgresStore
from servers.postgres import PostgresServer

from .helpers import StoreFactory


def sqlite_backend(request: pytest.FixtureRequest) -> StoreFactory:
    async def open_sqlite(location: Path, **options: Any) -> Store:
        return await SQLiteStore.open(location / "netvigil.db", **options)

    return open_sqlite


def postgres_backend(request: pytest.FixtureRequest) -> StoreFactory:
    server: PostgresServer = request.getfixturevalue("postgres_server")

    async def open_postgres(location: Path, **options: Any) -> Store:
        return await PostgresStore.open(await server.database_for(location), **options)

    return open_postgres


STORE_BACKENDS: dict[str, Callable[[pytest.FixtureRequest], StoreFactory]] = {
    "sqlite": sqlite_backend,
    "postgres": postgres_backend,
}
"""How each backend opens a store: given the test's request (for the fixtures it needs,
such as the session's PostgreSQL server), the factory of its stores."""


@pytest.fixture(params=sorted(STORE_BACKENDS))
def store_factory(request: pytest.FixtureRequest) -> StoreFactory:
    return STORE_BACKENDS[request.param](request)


@pytest.fixture
async def store(store_factory: StoreFactory, tmp_path: Path) -> AsyncIterator[Store]:
    s = await store_factory(tmp_path)
    try:
        yield s
    finally:
        await s.close()


class Clock:
    """A settable clock for the times the admin tables record."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def admin_clock() -> Clock:
    return Clock(1_700_000_000.0)


@pytest.fixture
async def admin_store(
    store_factory: StoreFactory, tmp_path: Path, admin_clock: Clock
) -> AsyncIterator[AdminStore]:
    """A backend's store, opened with `admin_clock`, seen as the AdminStore it must be."""
    s = await store_factory(tmp_path, now=admin_clock)
    try:
        assert isinstance(s, AdminStore)
        yield s
    finally:
        await s.close()

"""Store fixtures: every backend in `STORE_BACKENDS` runs the same contract suite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from netvigil.store import SQLiteStore, Store

from .helpers import StoreFactory


async def open_sqlite(location: Path, **options: Any) -> Store:
    return await SQLiteStore.open(location / "netvigil.db", **options)


STORE_BACKENDS: dict[str, StoreFactory] = {"sqlite": open_sqlite}


@pytest.fixture(params=sorted(STORE_BACKENDS))
def store_factory(request: pytest.FixtureRequest) -> StoreFactory:
    return STORE_BACKENDS[request.param]


@pytest.fixture
async def store(store_factory: StoreFactory, tmp_path: Path) -> AsyncIterator[Store]:
    s = await store_factory(tmp_path)
    try:
        yield s
    finally:
        await s.close()

"""`create_admin_token`: through an open store, a store wrapping one, or a database path."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from netvigil.model import Measurement
from netvigil.pipeline.tee import TeeStore
from netvigil.store.sqlite import SQLiteStore
from netvigil.web.tokens import admin_store_of, create_admin_token, hash_token


class Counter:
    """A measurement sink that counts."""

    def __init__(self) -> None:
        self.seen = 0

    def submit(self, m: Measurement) -> None:
        self.seen += 1


async def test_a_token_made_from_a_path_is_stored_hashed(tmp_path: Path) -> None:
    path = tmp_path / "nv.db"
    token = create_admin_token(path, "alice")  # no store open: the file is created
    assert token.startswith("nva_")
    async with await SQLiteStore.open(path) as store:
        assert await store.use_admin_token(hash_token(token)) == "alice"
        assert await store.use_admin_token(token) is None  # the token itself is not kept
        second = create_admin_token(str(path), "bob")  # the store is open meanwhile
        assert await store.use_admin_token(hash_token(second)) == "bob"


async def test_a_token_made_through_a_wrapping_store(tmp_path: Path) -> None:
    async with await SQLiteStore.open(tmp_path / "nv.db") as store:
        tee = TeeStore(store, [Counter()])
        assert admin_store_of(tee) is store
        token = create_admin_token(tee, "carol")
        assert [t.name for t in await store.admin_tokens()] == ["carol"]
        assert await store.use_admin_token(hash_token(token)) == "carol"


@pytest.mark.parametrize("name", ["", "x" * 65, "tab\there"])
async def test_a_bad_token_name_is_refused(tmp_path: Path, name: str) -> None:
    async with await SQLiteStore.open(tmp_path / "nv.db") as store:
        with pytest.raises(ValueError, match="1-64 printable"):
            create_admin_token(store, name)
        assert await store.admin_tokens() == []


def test_a_store_without_admin_tables_is_refused() -> None:
    class MeasurementsOnly:
        async def add(self, batch: Sequence[Measurement]) -> int:
            return len(batch)

    assert admin_store_of(MeasurementsOnly()) is None
    with pytest.raises(TypeError, match="no admin tables"):
        create_admin_token(MeasurementsOnly(), "alice")

"""The agent spool: ordered, durable across restarts, bounded, and nothing lost silently."""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from netvigil.agent.spool import Spool
from netvigil.errors import StoreError
from netvigil.model import Measurement

Make = Callable[..., list[Measurement]]


async def test_peek_is_oldest_first_and_ack_deletes(make: Make, tmp_path: Path) -> None:
    batch = make(10)
    async with await Spool.open(tmp_path / "spool.db") as spool:
        for m in batch:
            spool.submit(m)
        # No flush needed: a peek sees everything submitted before it.
        first = await spool.peek(4)
        assert first == batch[:4]
        assert await spool.ack([m.id for m in first]) == 4
        assert spool.depth == 6
        assert await spool.peek(100) == batch[4:]
        assert await spool.ack([batch[4].id, "not-there"]) == 1
        assert spool.stats.acked == 5
        assert spool.stats.submitted == 10


async def test_survives_restart(make: Make, tmp_path: Path) -> None:
    batch = make(7)
    spool = await Spool.open(tmp_path / "spool.db")
    for m in batch:
        spool.submit(m)
    await spool.ack([batch[0].id])
    await spool.close()

    again = await Spool.open(tmp_path / "spool.db")
    try:
        assert again.depth == 6
        assert await again.peek(10) == batch[1:]
    finally:
        await again.close()


async def test_same_id_is_spooled_once(make: Make, tmp_path: Path) -> None:
    m = make(1)[0]
    async with await Spool.open(tmp_path / "spool.db") as spool:
        spool.submit(m)
        spool.submit(m)
        await spool.flush()
        assert spool.depth == 1
        assert await spool.peek(10) == [m]


async def test_full_spool_drops_oldest_counted_and_logged(
    make: Make, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    batch = make(12)
    caplog.set_level(logging.WARNING, logger="netvigil.agent.spool")
    async with await Spool.open(tmp_path / "spool.db", max_rows=5, write_batch=4) as spool:
        for m in batch:
            spool.submit(m)
        await spool.flush()
        assert spool.depth == 5
        assert spool.stats.dropped == 7
        assert await spool.peek(100) == batch[-5:]
    assert any(
        "dropped" in r.getMessage() and "max_rows=5" in r.getMessage() for r in caplog.records
    )


async def test_reject_sets_batch_aside_with_reason(make: Make, tmp_path: Path) -> None:
    batch = make(5)
    path = tmp_path / "spool.db"
    async with await Spool.open(path) as spool:
        for m in batch:
            spool.submit(m)
        moved = await spool.reject([batch[1].id, batch[3].id], "HTTP 422: bad outcome")
        assert moved == 2
        assert await spool.peek(10) == [batch[0], batch[2], batch[4]]
        kept = await spool.rejected()
        assert [e.measurement for e in kept] == [batch[1], batch[3]]
        assert {e.reason for e in kept} == {"HTTP 422: bad outcome"}
        assert spool.stats.rejected == 2
    async with await Spool.open(path) as spool:
        assert await spool.count_rejected() == 2
        assert spool.depth == 3


async def test_rejected_table_is_bounded(make: Make, tmp_path: Path) -> None:
    batch = make(6)
    async with await Spool.open(tmp_path / "spool.db", max_rejected_rows=2) as spool:
        for m in batch:
            spool.submit(m)
        await spool.reject([m.id for m in batch[:4]], "refused")
        assert [e.id for e in await spool.rejected()] == [batch[2].id, batch[3].id]


async def test_unreadable_rows_are_set_aside_not_lost(make: Make, tmp_path: Path) -> None:
    path = tmp_path / "spool.db"
    good = make(2)
    async with await Spool.open(path) as spool:
        for m in good:
            spool.submit(m)
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO spool (id, body) VALUES ('garbled', '{not json')")
    async with await Spool.open(path) as spool:
        assert await spool.peek(10) == good
        kept = await spool.rejected()
        assert [(e.id, e.measurement) for e in kept] == [("garbled", None)]


async def test_closed_spool_refuses(make: Make, tmp_path: Path) -> None:
    spool = await Spool.open(tmp_path / "spool.db")
    await spool.close()
    with pytest.raises(StoreError, match="closed"):
        spool.submit(make(1)[0])
    with pytest.raises(StoreError, match="closed"):
        await spool.peek(1)


async def test_unopenable_path_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(StoreError, match="cannot open spool"):
        await Spool.open(tmp_path / "dir.db")


async def test_odd_detail_values_are_kept_as_text(make: Make, tmp_path: Path) -> None:
    m = make(1)[0]
    m.detail = {"raw": b"\x00\x01", "n": 3}
    async with await Spool.open(tmp_path / "spool.db") as spool:
        spool.submit(m)
        [back] = await spool.peek(1)
    assert back.id == m.id
    assert back.detail == {"raw": "b'\\x00\\x01'", "n": 3}
    assert spool.stats.write_errors == 0

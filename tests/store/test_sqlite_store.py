"""SQLiteStore specifics: schema migrations, files that are not ours, bad writes."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest

from netvigil.errors import StoreError
from netvigil.model import Measurement
from netvigil.store import MeasurementQuery, RollupQuery, SQLiteStore
from netvigil.store.sqlite import APPLICATION_ID, SCHEMA_VERSION, migrate

from .helpers import T0, make_measurement


def raw_connect(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


async def test_opens_in_wal_mode_with_current_schema(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "dir" / "nv.db"
    async with await SQLiteStore.open(path) as store:
        await store.add([make_measurement(T0)])
        conn = raw_connect(path)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        conn.close()


async def test_migrates_version_1_database_and_backfills_latest(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = raw_connect(path)
    assert migrate(conn, to_version=1) == 0
    rows = [make_measurement(T0 + i, target=f"t{i % 2}") for i in range(6)]
    conn.executemany(
        "INSERT INTO measurements (id, ts, vantage, target, kind, ok, outcome, phase, total_s,"
        " timings, detail, address) VALUES (?, ?, ?, ?, 'http', 1, 'ok', NULL, 0.1,"
        " '{\"total\":0.1}', '{}', NULL)",
        [(m.id, m.ts, m.vantage, m.target) for m in rows],
    )
    conn.close()

    async with await SQLiteStore.open(path) as store:
        latest = await store.latest()
        assert [(m.target, m.id) for m in latest] == [("t0", rows[4].id), ("t1", rows[5].id)]
        assert len(await store.measurements(MeasurementQuery())) == 6
        assert await store.add([make_measurement(T0 + 100, target="t0")]) == 1
        assert len(await store.latest()) == 2
    conn = raw_connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()


async def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    async with await SQLiteStore.open(path):
        pass
    conn = raw_connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match=r"new\.db: .*version \d+ is newer .*upgrade netvigil"):
        await SQLiteStore.open(path)


async def test_corrupt_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.db"
    path.write_bytes(b"this is not an SQLite database\n" * 200)
    with pytest.raises(StoreError, match=r"junk\.db: .*not a database"):
        await SQLiteStore.open(path)
    assert path.read_bytes().startswith(b"this is not")  # left as it was


async def test_another_applications_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = raw_connect(path)
    conn.execute("CREATE TABLE invoices (n INTEGER)")
    conn.close()
    with pytest.raises(StoreError, match=r"other\.db: not a netvigil database"):
        await SQLiteStore.open(path)
    conn = raw_connect(path)
    assert conn.execute("SELECT name FROM sqlite_master").fetchall() == [("invoices",)]
    conn.execute("PRAGMA application_id = 42")
    conn.close()
    with pytest.raises(StoreError, match="not a netvigil database"):
        await SQLiteStore.open(path)


async def test_unopenable_path_is_refused(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(StoreError, match="cannot open"):
        await SQLiteStore.open(tmp_path / "file" / "nv.db")


async def test_failed_write_is_reported_and_the_store_goes_on(tmp_path: Path) -> None:
    good = make_measurement(T0)
    bad = make_measurement(T0 + 1)
    bad.ts = None  # type: ignore[assignment]  # violates NOT NULL
    async with await SQLiteStore.open(tmp_path / "nv.db") as store:
        with pytest.raises(StoreError, match="could not write 2 measurements"):
            await store.add([good, bad])
        store.submit(bad)
        await store.flush()
        assert store.dropped == 1
        assert await store.measurements(MeasurementQuery()) == []
        assert await store.rollups(RollupQuery()) == []
        assert await store.add([good]) == 1
        assert await store.latest() == [good]


async def test_reads_run_while_the_writer_is_busy(tmp_path: Path) -> None:
    async with await SQLiteStore.open(tmp_path / "nv.db") as store:
        batches = [
            [make_measurement(T0 + b * 60 + i * 0.01, target=f"t{i % 50}") for i in range(500)]
            for b in range(10)
        ]
        for batch in batches:
            for m in batch:
                store.submit(m)
        counts = []
        while store.pending:
            counts.append(len(await store.measurements(MeasurementQuery(limit=100_000))))
        await store.flush()
        assert counts == sorted(counts)  # reads see whole committed transactions, growing
        stored: list[Measurement] = await store.measurements(MeasurementQuery(limit=100_000))
        assert len(stored) == 5000
        assert sum(r.count for r in await store.rollups(RollupQuery())) == 5000


async def test_close_waits_for_queued_writes(tmp_path: Path) -> None:
    path = tmp_path / "nv.db"
    store = await SQLiteStore.open(path)
    ms = [make_measurement(T0 + i * 0.1) for i in range(2000)]
    for m in ms:
        store.submit(m)
    await asyncio.wait_for(store.close(), timeout=30)
    conn = raw_connect(path)
    assert conn.execute("SELECT count(*) FROM measurements").fetchone()[0] == 2000
    conn.close()

"""Failed store writes are told calmly, and `close()` waits a bounded time for the writer."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from pathlib import Path

import pytest

from netvigil.errors import StoreError
from netvigil.store import MeasurementQuery, SQLiteStore
from netvigil.store.sqlite import WriterSettings
from netvigil.store.write_failures import WriteFailures, is_storage_error

from .helpers import T0, make_measurement


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def full_disk_error(tmp_path: Path) -> sqlite3.Error:
    """A real SQLITE_FULL: a database that may not grow past its pages."""
    conn = sqlite3.connect(tmp_path / "tiny.db", isolation_level=None)
    try:
        conn.execute("CREATE TABLE t (x BLOB)")
        conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")
        with pytest.raises(sqlite3.Error) as caught:
            conn.execute("INSERT INTO t VALUES (zeroblob(100000))")
        return caught.value
    finally:
        conn.close()


def test_full_disk_is_a_storage_error_and_a_bad_row_is_not(tmp_path: Path) -> None:
    full = full_disk_error(tmp_path)
    assert "full" in str(full)
    assert is_storage_error(full)
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (x NOT NULL)")
    with pytest.raises(sqlite3.IntegrityError) as caught:
        conn.execute("INSERT INTO t VALUES (NULL)")
    assert not is_storage_error(caught.value)
    assert not is_storage_error(ValueError("nan"))


def lines(caplog: pytest.LogCaptureFixture) -> list[tuple[int, str]]:
    return [(r.levelno, r.getMessage()) for r in caplog.records]


def test_an_outage_is_one_line_then_a_summary_a_minute_then_one_line_when_it_ends(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="netvigil.store.sqlite_writer")
    clock = Clock()
    failures = WriteFailures("db", meanwhile="kept queued", summary_every_s=60.0, monotonic=clock)
    full = full_disk_error(tmp_path)
    for _ in range(100):  # 100 failures over 50 s: only the first is told
        failures.failed("10 measurements", full, queued=5, dropped=0)
        clock.now += 0.5
    assert lines(caplog) == [
        (
            logging.ERROR,
            "db: could not write 10 measurements: database or disk is full; kept queued",
        )
    ]
    clock.now += 10.5  # 61 s after the first line
    failures.failed("10 measurements", full, queued=7, dropped=3)
    assert lines(caplog)[1] == (
        logging.WARNING,
        "db: 100 more batches could not be written: database or disk is full"
        " (7 items queued, 3 measurements dropped so far)",
    )
    failures.failed("10 measurements", full, queued=7, dropped=3)
    clock.now += 1.0
    failures.succeeded(dropped=4)
    assert len(caplog.records) == 3
    level, text = lines(caplog)[2]
    assert level == logging.INFO
    assert text.startswith("db: writes succeed again after 62 s (1 more batches failed")
    assert "4 measurements dropped meanwhile" in text
    assert failures.total == 102
    assert not failures.failing


def test_a_store_flipping_between_failing_and_working_stays_quiet(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="netvigil.store.sqlite_writer")
    clock = Clock()
    failures = WriteFailures("db", meanwhile="kept", summary_every_s=60.0, monotonic=clock)
    full = full_disk_error(tmp_path)
    for _ in range(50):  # fails, works, fails... every second for 100 s
        failures.failed("1 measurements", full, queued=1, dropped=0)
        clock.now += 1.0
        failures.succeeded(dropped=0)
        clock.now += 1.0
    # first failure, its end, then one summary a minute later (and the end of that one)
    assert [level for level, _ in lines(caplog)] == [
        logging.ERROR,
        logging.INFO,
        logging.WARNING,
        logging.INFO,
    ]
    assert failures.total == 50


def test_a_full_retry_queue_is_told_once_per_outage(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="netvigil.store.sqlite_writer")
    failures = WriteFailures("db", meanwhile="kept", monotonic=Clock())
    failures.failed("1 measurements", full_disk_error(tmp_path), queued=1, dropped=0)
    for _ in range(10):
        failures.queue_full(100)
    assert len(caplog.records) == 2
    assert "100 items wait to be written" in caplog.records[1].getMessage()


async def test_close_gives_up_after_its_timeout_with_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "nv.db"
    settings = WriterSettings(close_timeout_s=0.5)
    store = await SQLiteStore.open(path, settings=settings)
    assert await store.add([make_measurement(T0)]) == 1
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")  # another process holding the database
        for i in range(10):
            store.submit(make_measurement(T0 + 1 + i))
        await asyncio.sleep(0.1)  # the writer is now waiting on the lock
        started = time.monotonic()
        await store.close()
        took = time.monotonic() - started
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert 0.4 < took < 2.0
    gave_up = [r.getMessage() for r in caplog.records if "gave up waiting" in r.getMessage()]
    assert gave_up == [
        f"{path}: gave up waiting for the store writer after 0.5 s:"
        " about 10 measurements not written"
    ]
    with pytest.raises(StoreError, match="closed"):
        await store.measurements(MeasurementQuery())

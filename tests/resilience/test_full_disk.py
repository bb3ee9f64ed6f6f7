"""The store on a full disk: a few calm lines, nothing stored lost, writes again once
space is freed, and a stop within seconds. The disk is a real tiny tmpfs (needs root)."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import itertools
import logging
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from resilience_kit import LoopbackListener, free_port, http_get

from netvigil.errors import StoreError
from netvigil.model import Measurement, new_measurement_id
from netvigil.outcome import Outcome
from netvigil.store import MeasurementQuery, SQLiteStore
from netvigil.store.sqlite import WriterSettings

STORE_LOGGER = "netvigil.store"
_seq = itertools.count()


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 16 MiB tmpfs mounted for this test (unmounted afterwards)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    reason = "mounting a tmpfs needs root" if os.geteuid() != 0 else ""
    if not reason:
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)],
            capture_output=True,
            text=True,
            check=False,
        )
        reason = "" if done.returncode == 0 else f"cannot mount a tmpfs: {done.stderr.strip()}"
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (under CI this test must run)")
        pytest.skip(reason)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Write a file until the disk is full; the file (delete it to free the space)."""
    filler = disk / "filler"
    try:
        opened = filler.open("wb")
    except OSError as exc:  # the store's own growth filled it first
        assert exc.errno == errno.ENOSPC
        return filler
    with opened as out:
        try:
            for _ in range(10_000):  # 640 MiB at most: far beyond the tmpfs
                out.write(b"\0" * 65_536)
                out.flush()
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
            return filler
    raise AssertionError("the disk never filled")


def measurement(ts: float) -> Measurement:
    return Measurement(
        id=new_measurement_id(ts) + f"{next(_seq):06d}",
        ts=ts,
        vantage="v1",
        target="loopback",
        kind="tcp",
        ok=True,
        outcome=Outcome.OK,
        phase=None,
        timings={"connect": 0.001},
        detail={},
        address="127.0.0.1",
    )


async def wait_until(check: Callable[[], bool], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def integrity(db: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        result: str = conn.execute("PRAGMA integrity_check").fetchone()[0]
        return result
    finally:
        conn.close()


def store_lines(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name.startswith(STORE_LOGGER) and r.levelno >= level
    ]


async def test_a_full_disk_keeps_measurements_queued_until_space_is_freed(
    tiny_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=STORE_LOGGER)
    settings = WriterSettings(retry_every_s=0.2, summary_every_s=2.0, close_timeout_s=2.0)
    db = tiny_disk / "nv.db"
    now = time.time()
    store = await SQLiteStore.open(db, settings=settings)
    try:
        before = [measurement(now - 60 + i * 0.1) for i in range(200)]
        assert await store.add(before) == 200
        filler = fill(tiny_disk)
        later: list[Measurement] = []
        started = time.monotonic()
        while time.monotonic() - started < 3.0:  # 3 s of failing writes
            batch = [measurement(time.time()) for _ in range(20)]
            for m in batch:
                store.submit(m)
            later += batch
            await asyncio.sleep(0.05)
        assert store.failing
        assert store.write_failures >= 5  # retried every 0.2 s
        assert store.dropped == 0
        assert store.pending > 0  # what is kept is shown below: all of it is stored
        with pytest.raises(StoreError, match="full"):
            await store.flush()
        with pytest.raises(StoreError, match="full"):
            await store.add([measurement(time.time())])
        problems = store_lines(caplog, logging.WARNING)
        assert 1 <= len(problems) <= 3, problems  # the first, then a summary every 2 s
        assert "database or disk is full" in problems[0]

        filler.unlink()
        await wait_until(lambda: not store.failing and store.pending == 0, 10.0)
        await store.flush()
        stored = {m.id for m in await store.measurements(MeasurementQuery())}
        assert stored == {m.id for m in before + later}
        assert any("writes succeed again" in line for line in store_lines(caplog, logging.INFO))
    finally:
        await store.close()
    assert integrity(db) == "ok"


async def test_a_full_queue_drops_the_oldest_and_close_gives_up_quickly(
    tiny_disk: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=STORE_LOGGER)
    settings = WriterSettings(retry_every_s=0.2, max_backlog=50, close_timeout_s=5.0)
    db = tiny_disk / "nv.db"
    now = time.time()
    store = await SQLiteStore.open(db, settings=settings)
    before = [measurement(now - 60 + i * 0.1) for i in range(100)]
    assert await store.add(before) == 100
    filler = fill(tiny_disk)
    for _ in range(200):
        store.submit(measurement(time.time()))
    await wait_until(lambda: store.dropped == 150, 5.0)
    assert store.pending == 50
    full = [line for line in store_lines(caplog, logging.WARNING) if "items wait" in line]
    assert len(full) == 1
    started = time.monotonic()
    await store.close()
    assert time.monotonic() - started < 2.0
    assert any(
        "stopping with 50 measurements and 0 incident events not written" in line
        for line in store_lines(caplog, logging.ERROR)
    )
    filler.unlink()
    assert integrity(db) == "ok"
    async with await SQLiteStore.open(db) as again:
        stored = {m.id for m in await again.measurements(MeasurementQuery())}
        assert {m.id for m in before} <= stored


def run_config(tmp_path: Path, port: int, target_port: int) -> Path:
    config = tmp_path / "netvigil.toml"
    config.write_text(
        f"""
[vantage]
name = "server"

[scheduler]
per_address_rate = 1000.0

[server]
listen = "127.0.0.1:{port}"

[[services]]
name = "local"
"""
        + "".join(
            f"""
[[targets]]
name = "loopback-{i}"
kind = "tcp"
service = "local"
host = "127.0.0.1"
port = {target_port}
interval_s = 0.1
timeout_s = 1.0
"""
            for i in range(10)
        )
    )
    return config


def scrape(url: str, name: str) -> float:
    for line in http_get(f"{url}/metrics")[1].decode().splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def row_ids(db: Path) -> set[str]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        return {r[0] for r in conn.execute("SELECT id FROM measurements")}
    finally:
        conn.close()


def wait_for(check: Callable[[], bool], timeout_s: float, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert proc.poll() is None, "netvigil run exited"
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def test_netvigil_run_on_a_full_disk_logs_calmly_recovers_and_stops_quickly(
    tiny_disk: Path, tmp_path: Path, listener: LoopbackListener
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    config = run_config(tmp_path, port, listener.port)
    db = tiny_disk / "server.db"
    log = tmp_path / "server.log"
    cmd = [sys.executable, "-m", "netvigil", "run", "-c", str(config), "--db", str(db), "--plain"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    filler: Path | None = None
    try:
        wait_for(lambda: db.exists() and len(row_ids(db)) >= 100, 30, proc)
        kept = row_ids(db)
        filler = fill(tiny_disk)
        wait_for(lambda: scrape(url, "netvigil_store_write_failing") == 1.0, 10, proc)
        time.sleep(10)  # 10 s of failing writes (about 100 measurements a second)
        assert scrape(url, "netvigil_store_write_failures_total") >= 4
        assert scrape(url, "netvigil_store_queue_depth") > 0
        problems = [
            ln for ln in log.read_text().splitlines() if " ERROR " in ln or " WARNING " in ln
        ]
        assert 1 <= len(problems) <= 5, problems
        assert "database or disk is full" in problems[0]

        filler.unlink()  # space again: the queued measurements are written
        filled_count = len(row_ids(db))
        wait_for(lambda: scrape(url, "netvigil_store_write_failing") == 0.0, 15, proc)
        wait_for(lambda: len(row_ids(db)) > filled_count + 500, 15, proc)
        assert "writes succeed again" in log.read_text()
        assert scrape(url, "netvigil_store_dropped_total") == 0.0

        filler = fill(tiny_disk)  # full again, then asked to stop
        wait_for(lambda: scrape(url, "netvigil_store_write_failing") == 1.0, 10, proc)
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
        took = time.monotonic() - started
        assert took < 5.0, took
        assert proc.returncode == 0, log.read_text()[-3000:]
        assert "measurements and 0 incident events not written" in log.read_text()
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n{log.read_text()[-5000:]}") from exc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
        if filler is not None:
            with contextlib.suppress(FileNotFoundError):
                filler.unlink()
    assert integrity(db) == "ok"
    assert kept <= row_ids(db)

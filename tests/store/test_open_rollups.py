"""SQLiteStore's incremental rollups: open minutes in memory, late rows, restarts, crashes."""

from __future__ import annotations

import asyncio
import random
import sqlite3
from pathlib import Path

from netvigil.model import Measurement
from netvigil.store import MeasurementQuery, RollupQuery, SQLiteStore
from netvigil.store.sqlite_writer import DEFAULT_SETTINGS, WriterSettings

from .helpers import T0, make_measurement
from .test_contract import assert_rollups_equal, expected_rollups

ALL = MeasurementQuery(limit=1_000_000)
ALL_ROLLUPS = RollupQuery(limit=1_000_000)
LATENESS_S = DEFAULT_SETTINGS.lateness_s
MAX_AHEAD_S = DEFAULT_SETTINGS.max_ahead_s


async def written(store: SQLiteStore, count: int) -> None:
    """Wait (bounded) until `count` raw rows are readable: their transaction committed."""
    for _ in range(500):
        if len(await store.measurements(ALL)) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{count} measurements were not written within 5 s")


async def test_a_minute_is_written_once_measurements_have_moved_past_it(tmp_path: Path) -> None:
    async with await SQLiteStore.open(tmp_path / "nv.db") as store:
        first = [make_measurement(T0 + i * 10, total=0.1 * (i + 1)) for i in range(6)]
        later = make_measurement(T0 + 60 + LATENESS_S + 1)
        for m in [*first, later]:
            store.submit(m)
        await written(store, 7)
        # Minute 0 closed (a row LATENESS_S past its end came); the newest is still open.
        assert_rollups_equal(await store.rollups(ALL_ROLLUPS), expected_rollups(first))
        await store.flush()
        assert_rollups_equal(await store.rollups(ALL_ROLLUPS), expected_rollups([*first, later]))


async def test_rows_for_a_closed_minute_are_counted_exactly(tmp_path: Path) -> None:
    async with await SQLiteStore.open(tmp_path / "nv.db") as store:
        rows = [make_measurement(T0 + i, total=0.01 * i) for i in range(5)]
        rows.append(make_measurement(T0 + 600))
        for m in rows:
            store.submit(m)
        late = [make_measurement(T0 + 30, ok=False), make_measurement(T0 + 31, total=9.0)]
        for m in late:
            store.submit(m)
        store.submit(rows[0])  # a resend of a stored row
        await store.flush()
        assert_rollups_equal(await store.rollups(ALL_ROLLUPS), expected_rollups(rows + late))


async def test_reopening_mid_minute_keeps_rollups_exact(tmp_path: Path) -> None:
    before = [make_measurement(T0 + i, total=0.1 + i) for i in range(3)]
    after = [make_measurement(T0 + 20 + i, ok=i != 1, total=0.5 * i) for i in range(3)]
    async with await SQLiteStore.open(tmp_path / "nv.db") as store:
        for m in before:
            store.submit(m)
    async with await SQLiteStore.open(tmp_path / "nv.db") as store:
        assert_rollups_equal(await store.rollups(ALL_ROLLUPS), expected_rollups(before))
        for m in after:
            store.submit(m)
        await store.flush()
        assert_rollups_equal(await store.rollups(ALL_ROLLUPS), expected_rollups(before + after))


async def test_rollups_left_stale_by_a_crash_are_rebuilt_on_open(tmp_path: Path) -> None:
    path = tmp_path / "nv.db"
    ms = [make_measurement(T0 + i * 7, target=f"t{i % 3}", total=0.1 * i) for i in range(40)]
    async with await SQLiteStore.open(path) as store:
        await store.add(ms)
    # As a crash would leave it: minutes from T0 + 120 on were never written.
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DELETE FROM rollups WHERE minute >= ?", (T0 + 120,))
    conn.execute("UPDATE rollups SET count = 99 WHERE minute = ?", (T0 + 60,))  # stale
    conn.execute("INSERT OR REPLACE INTO meta VALUES ('rollups_before', ?)", (T0 + 60,))
    conn.close()
    async with await SQLiteStore.open(path) as store:
        assert_rollups_equal(await store.rollups(ALL_ROLLUPS), expected_rollups(ms))


async def test_prune_writes_open_minutes_before_deleting_their_rows(tmp_path: Path) -> None:
    async with await SQLiteStore.open(tmp_path / "nv.db") as store:
        for i in range(4):
            store.submit(make_measurement(T0 + i))
        assert await store.prune(T0 + 3600) == 4
        assert await store.add([make_measurement(T0 + 10, ok=False)]) == 1
        [r] = await store.rollups(ALL_ROLLUPS)
        assert (r.count, r.ok_count, r.outcomes) == (5, 4, {"ok": 4, "tcp_timeout": 1})


async def test_rows_stamped_far_ahead_do_not_close_minutes(tmp_path: Path) -> None:
    now = T0 + 30
    ahead = make_measurement(now + MAX_AHEAD_S + 3600)
    current = [make_measurement(T0 + i) for i in range(3)]
    path = tmp_path / "nv.db"
    async with await SQLiteStore.open(path, now=lambda: now) as store:
        for m in [ahead, *current]:
            store.submit(m)
        await written(store, 4)
        assert await store.rollups(ALL_ROLLUPS) == []  # minute 0 is still open
        await store.flush()
        assert_rollups_equal(await store.rollups(ALL_ROLLUPS), expected_rollups([ahead, *current]))
    # Reopened, the far minute keeps being recomputed from its raw rows.
    more = [make_measurement(ahead.ts + 1, ok=False), make_measurement(T0 + 5)]
    async with await SQLiteStore.open(path, now=lambda: now) as store:
        for m in more:
            store.submit(m)
        await store.flush()
        assert_rollups_equal(
            await store.rollups(ALL_ROLLUPS), expected_rollups([ahead, *current, *more])
        )


async def test_mixed_writes_restarts_and_late_rows_give_exact_rollups(tmp_path: Path) -> None:
    rng = random.Random(11)
    path = tmp_path / "nv.db"
    ms = [
        make_measurement(
            T0 + i * 2.5 + rng.uniform(-200, 0) * (rng.random() < 0.1),
            target=rng.choice("ab"),
            vantage=rng.choice(["v1", "v2"]),
            ok=rng.random() > 0.2,
            total=rng.uniform(0.001, 1.0),
        )
        for i in range(600)
    ]
    sent: list[Measurement] = []
    store = await SQLiteStore.open(path)
    try:
        for i in range(0, len(ms), 50):
            chunk = ms[i : i + 50] + rng.sample(sent, min(len(sent), 3))  # with resends
            if rng.random() < 0.5:
                for m in chunk:
                    store.submit(m)
            else:
                await store.add(chunk)
            sent += chunk
            if rng.random() < 0.3:
                await store.close()
                store = await SQLiteStore.open(path)
        await store.flush()
        assert_rollups_equal(await store.rollups(ALL_ROLLUPS), expected_rollups(sent))
        assert len(await store.measurements(ALL)) == len(ms)
    finally:
        await store.close()


async def test_open_rollups_are_refreshed_without_a_flush(tmp_path: Path) -> None:
    settings = WriterSettings(rollup_refresh_s=0.2)
    async with await SQLiteStore.open(tmp_path / "nv.db", settings=settings) as store:
        rows = [make_measurement(T0 + i, total=0.1 * (i + 1)) for i in range(3)]
        for m in rows:
            store.submit(m)
        for _ in range(500):  # the writer is idle now: its refresh timer writes them
            if await store.rollups(ALL_ROLLUPS):
                break
            await asyncio.sleep(0.01)
        assert_rollups_equal(await store.rollups(ALL_ROLLUPS), expected_rollups(rows))
        more = make_measurement(T0 + 5, ok=False)
        store.submit(more)
        for _ in range(500):
            if (await store.rollups(ALL_ROLLUPS))[0].count == 4:
                break
            await asyncio.sleep(0.01)
        assert_rollups_equal(await store.rollups(ALL_ROLLUPS), expected_rollups([*rows, more]))

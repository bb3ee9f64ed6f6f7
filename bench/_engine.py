"""netvigil's probing engine under load, in a process of its own.

Run as `python bench/_engine.py '<job JSON>'`; prints one line `RESULT <JSON>`.
Everything the engine does happens in this process (event loop, probes, scheduler,
metrics, the SQLite writer thread), so its CPU-seconds (getrusage, all threads) are
the engine's cost; the target servers and the parent run elsewhere.

Jobs (`mode`):
  throughput  `Monitor.run_once` over `targets` specs, round after round, until
              `max_checks` or `duration_s`; every measurement goes to a real
              SQLiteStore (flushed inside the measured window).
  sustained   `Monitor.run(stop)` on the real schedule (`interval_s`) for `duration_s`
              with store writes on; samples lag, RSS and queue depth every few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import cProfile
import gc
import json
import sqlite3
import sys
import threading
import time
from array import array
from collections import Counter
from pathlib import Path
from typing import Any

from _proc import peak_rss_mb, rss_mb, self_cpu, thread_cpu
from _servers import DNS_PORT, HTTP_PORT, HTTPS_PORT, address

from netvigil.config.model import SchedulerConfig
from netvigil.metrics import Metrics
from netvigil.model import Measurement
from netvigil.monitor import Monitor
from netvigil.store.sqlite import SQLiteStore

QNAME = "bench.netvigil.test"


class LagRecorder(Metrics):
    """netvigil's metrics, also keeping every schedule lag for exact quantiles."""

    def __init__(self) -> None:
        super().__init__()
        self.lags = array("d")
        self.at = array("d")
        """When each lag was recorded (time.monotonic())."""

    def observe_lag(self, lag_s: float) -> None:
        super().observe_lag(lag_s)
        self.lags.append(lag_s)
        self.at.append(time.monotonic())

    def lag_windows(self, t0: float, width_s: float) -> list[dict[str, float]]:
        """Lag quantiles per `width_s` window from `t0`."""
        windows: dict[int, array[float]] = {}
        for at, lag in zip(self.at, self.lags, strict=True):
            windows.setdefault(int((at - t0) // width_s), array("d")).append(lag)
        return [{"from_s": k * width_s, **quantiles(v)} for k, v in sorted(windows.items())]

    def lags_after(self, t: float) -> array[float]:
        """The lags recorded after time `t`."""
        return array("d", (lag for at, lag in zip(self.at, self.lags, strict=True) if at >= t))


class CountingSink:
    """A sink that counts what it is given, by outcome."""

    def __init__(self) -> None:
        self.count = 0
        self.outcomes: Counter[str] = Counter()
        self.totals = array("d")

    def submit(self, m: Measurement) -> None:
        self.count += 1
        self.outcomes[m.outcome.value] += 1
        total = m.timings.get("total")
        if total is not None and len(self.totals) < 1_000_000:
            self.totals.append(total)


def make_specs(job: dict[str, Any]) -> list[Any]:
    """The job's targets: `targets` specs of one kind over the lab's addresses."""
    from netvigil.probes import DNSSpec, HTTPSpec, ICMPSpec, TCPSpec

    kind, n = job["kind"], int(job["targets"])
    n_addr = int(job["addresses"])
    common = {"interval_s": float(job.get("interval_s", 60.0)), "timeout_s": 5.0}
    specs: list[Any] = []
    for i in range(n):
        a = address(i % n_addr)
        name = f"{kind}-{i}"
        if kind == "http":
            specs.append(HTTPSpec(name=name, url=f"http://{a}:{HTTP_PORT}/t/{i}", **common))
        elif kind == "https":
            url = f"https://{a}:{HTTPS_PORT}/t/{i}"
            specs.append(HTTPSpec(name=name, url=url, ca_file=job["ca_file"], **common))
        elif kind == "tcp":
            specs.append(TCPSpec(name=name, host=a, port=HTTP_PORT, **common))
        elif kind == "dns":
            specs.append(DNSSpec(name=name, resolver=a, port=DNS_PORT, qname=QNAME, **common))
        elif kind == "icmp":
            specs.append(ICMPSpec(name=name, host=a, count=1, **common))
        else:
            raise ValueError(f"unknown kind {kind!r}")
    return specs


class _KindDispatch:
    """Measures a spec with the probe class registered for its kind (before ProbeSet exists)."""

    def __init__(self, probes: dict[str, Any]) -> None:
        self.probes = probes

    async def measure(self, spec: Any) -> Any:
        return await self.probes[spec.kind].measure(spec)

    async def close(self) -> None:
        for probe in self.probes.values():
            await probe.close()


def make_probes() -> tuple[Any, str]:
    """netvigil's ProbeSet (what `netvigil run` uses); returns it and how it was built.

    Until ProbeSet exists, the probe classes found in netvigil.probes.<kind> are used
    one per kind.
    """
    import importlib

    import netvigil.probes as probes_pkg

    probe_set = getattr(probes_pkg, "ProbeSet", None)
    if probe_set is not None:
        return probe_set(), "netvigil.probes.ProbeSet()"
    found: dict[str, Any] = {}
    for kind in ("http", "tcp", "dns", "icmp", "tls"):
        module = importlib.import_module(f"netvigil.probes.{kind}")
        for value in vars(module).values():
            is_probe = isinstance(value, type) and value.__name__.endswith("Probe")
            if is_probe and getattr(value, "kind", None) == kind:
                found[kind] = value()
    return _KindDispatch(found), "per-kind probe classes: " + ", ".join(
        type(p).__name__ for p in found.values()
    )


async def open_probes() -> tuple[Any, str]:
    """make_probes(), entered when it is an async context manager."""
    probes, how = make_probes()
    enter = getattr(probes, "__aenter__", None)
    if enter is not None:
        entered = await enter()
        probes = entered if entered is not None else probes
    return probes, how


async def close_probes(probes: Any) -> None:
    """Close what open_probes() opened."""
    exit_ = getattr(probes, "__aexit__", None)
    if exit_ is not None:
        await exit_(None, None, None)
        return
    close = getattr(probes, "close", None)
    if close is not None:
        await close()


def stored_rows(db: Path) -> int:
    """How many raw measurements the SQLite file holds."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        (n,) = conn.execute("SELECT count(*) FROM measurements").fetchone()
        return int(n)


def python_threads() -> dict[int, str]:
    """Native thread id -> Python thread name, for the threads alive now."""
    return {t.native_id: t.name for t in threading.enumerate() if t.native_id is not None}


def thread_delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU-seconds per thread name between two `thread_cpu(names=python_threads())` readings."""
    return {k: round(v - before.get(k, 0.0), 3) for k, v in after.items() if v - before.get(k, 0.0)}


def quantiles(values: array[float]) -> dict[str, float]:
    """count, p50, p99, max (seconds) of `values`."""
    if not values:
        return {"count": 0, "p50_s": 0.0, "p99_s": 0.0, "max_s": 0.0}
    s = sorted(values)
    n = len(s)
    return {
        "count": n,
        "p50_s": s[(n - 1) // 2],
        "p99_s": s[min(n - 1, (n * 99) // 100)],
        "max_s": s[-1],
    }


async def throughput(job: dict[str, Any]) -> dict[str, Any]:
    """Max-rate checks through `Monitor.run_once`, with every measurement stored."""
    specs = make_specs(job)
    probes, probes_how = await open_probes()
    db = Path(job["db"])
    store = await SQLiteStore.open(db)
    counter = CountingSink()
    cfg = SchedulerConfig(
        concurrency=int(job["concurrency"]), per_address_rate=float(job["per_address_rate"])
    )
    monitor = Monitor(specs, probes, [store, counter], "bench", cfg, LagRecorder())
    # Warm-up round: first TLS contexts, first connections, code paths.
    await monitor.run_once(specs[: min(len(specs), 200)])
    await store.flush()
    warm = counter.count
    counter.outcomes.clear()
    gc.collect()
    max_checks, duration = int(job["max_checks"]), float(job["duration_s"])
    c0, t0, th0 = self_cpu(), time.monotonic(), thread_cpu(names=python_threads())
    done = 0
    while done < max_checks and time.monotonic() - t0 < duration:
        batch = specs[: max_checks - done]
        await monitor.run_once(batch)
        done += len(batch)
    await store.flush()
    wall, cpu = time.monotonic() - t0, self_cpu() - c0
    threads = thread_delta(th0, thread_cpu(names=python_threads()))
    await store.close()
    await close_probes(probes)
    checks = counter.count - warm
    return {
        "probe_duration": quantiles(counter.totals[warm:]),
        "mode": "throughput",
        "kind": job["kind"],
        "probes": probes_how,
        "targets": len(specs),
        "checks": checks,
        "ok": counter.outcomes.get("ok", 0),
        "outcomes": dict(counter.outcomes),
        "stored": stored_rows(db),
        "submitted": counter.count,
        "wall_s": wall,
        "cpu_s": cpu.total_s,
        "cpu_user_s": cpu.user_s,
        "cpu_system_s": cpu.system_s,
        "checks_per_s": checks / wall if wall else 0.0,
        "cpu_s_per_1000": 1000 * cpu.total_s / checks if checks else 0.0,
        "checks_per_cpu_s": checks / cpu.total_s if cpu.total_s else 0.0,
        "cpu_s_by_thread": threads,
        "peak_rss_mb": peak_rss_mb(),
    }


async def sustained(job: dict[str, Any]) -> dict[str, Any]:
    """The real schedule at `interval_s` for `duration_s`, store writes on."""
    t_setup = time.monotonic()
    specs = make_specs(job)
    probes, probes_how = await open_probes()
    db = Path(job["db"])
    store = await SQLiteStore.open(db)
    counter = CountingSink()
    metrics = LagRecorder()
    cfg = SchedulerConfig(
        concurrency=int(job["concurrency"]), per_address_rate=float(job["per_address_rate"])
    )
    gc.collect()
    # The schedule's clock starts here: nothing slow may run between this and run().
    monitor = Monitor(specs, probes, [store, counter], "bench", cfg, metrics)
    metrics.track_store_queue(lambda: store.pending)
    del specs
    setup_s = time.monotonic() - t_setup
    rss_after_setup = rss_mb()
    print(f"setup {setup_s:.1f} s, RSS {rss_after_setup:.0f} MiB", file=sys.stderr, flush=True)
    stop = asyncio.Event()
    duration = float(job["duration_s"])
    samples: list[dict[str, float]] = []
    c0, t0, th0 = self_cpu(), time.monotonic(), thread_cpu(names=python_threads())

    async def sample() -> None:
        every = float(job.get("sample_s", 5.0))
        while not stop.is_set():
            await asyncio.sleep(every)
            lag = monitor.lag_summary()
            samples.append(
                {
                    "t_s": round(time.monotonic() - t0, 2),
                    "dispatched": monitor.scheduler.dispatched,
                    "completed": monitor.scheduler.completed,
                    "skipped": monitor.scheduler.skipped,
                    "in_flight": monitor.scheduler.in_flight,
                    "store_pending": store.pending,
                    "lag_p99_s": round(lag.p99_s, 4),
                    "lag_max_s": round(lag.max_s, 4),
                    "rss_mb": round(rss_mb(), 1),
                    "cpu_s": round((self_cpu() - c0).total_s, 2),
                }
            )
            print("sample", json.dumps(samples[-1]), file=sys.stderr, flush=True)

    async def stopper() -> None:
        await asyncio.sleep(duration)
        stop.set()

    sampler = asyncio.create_task(sample())
    stopping = asyncio.create_task(stopper())
    running = asyncio.create_task(monitor.run(stop))
    # Bounded: a monitor that does not stop within `stop_grace_s` of the stop is cancelled.
    done, _ = await asyncio.wait({running}, timeout=duration + float(job.get("stop_grace_s", 60)))
    stop_overrun = not done
    if stop_overrun:
        print("monitor did not stop in time; cancelling it", file=sys.stderr, flush=True)
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    else:
        running.result()
    await stopping
    run_wall = time.monotonic() - t0
    t_flush = time.monotonic()
    print(f"stopped; flushing {store.pending} queued writes", file=sys.stderr, flush=True)
    await store.flush()
    flush_s = time.monotonic() - t_flush
    wall, cpu = time.monotonic() - t0, self_cpu() - c0
    threads = thread_delta(th0, thread_cpu(names=python_threads()))
    sampler.cancel()
    await store.close()
    await close_probes(probes)
    produced = counter.count
    stored = stored_rows(db)
    n_targets, interval = int(job["targets"]), float(job["interval_s"])
    return {
        "mode": "sustained",
        "kind": job["kind"],
        "probes": probes_how,
        "targets": n_targets,
        "interval_s": interval,
        "duration_s": run_wall,
        "setup_s": setup_s,
        "target_rate_per_s": n_targets / interval,
        "dispatched": monitor.scheduler.dispatched,
        "completed": monitor.scheduler.completed,
        "skipped": monitor.scheduler.skipped,
        "produced": produced,
        "stored": stored,
        "lost": produced - stored,
        "store_dropped": store.dropped,
        "ok": counter.outcomes.get("ok", 0),
        "outcomes": dict(counter.outcomes),
        "checks_per_s": produced / run_wall if run_wall else 0.0,
        "lag": quantiles(metrics.lags),
        "lag_after_first_interval": quantiles(metrics.lags_after(t0 + interval)),
        "lag_after_warmup": quantiles(metrics.lags_after(t0 + float(job.get("warmup_s", 30.0)))),
        "warmup_s": float(job.get("warmup_s", 30.0)),
        "lag_by_minute": metrics.lag_windows(t0, 60.0),
        "final_flush_s": flush_s,
        "stop_overrun": stop_overrun,
        "cpu_s": cpu.total_s,
        "cpu_s_per_1000": 1000 * cpu.total_s / produced if produced else 0.0,
        "cpu_util": cpu.total_s / wall if wall else 0.0,
        "cpu_s_by_thread": threads,
        "rss_after_setup_mb": rss_after_setup,
        "peak_rss_mb": peak_rss_mb(),
        "samples": samples,
    }


def main() -> None:
    job = json.loads(sys.argv[1])
    try:
        import uvloop

        runner = uvloop.run if job.get("uvloop", True) else asyncio.run
    except ImportError:
        runner = asyncio.run
    coro = throughput(job) if job["mode"] == "throughput" else sustained(job)
    if job.get("profile"):
        # CPU time of the main thread, so time spent waiting for a busy CPU is not counted.
        profiler = cProfile.Profile(time.thread_time)
        result = profiler.runcall(runner, coro)
        profiler.dump_stats(job["profile"])
    else:
        result = runner(coro)
    result["event_loop"] = "uvloop" if runner is not asyncio.run else "asyncio"
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()

"""Detector throughput: measurements per second through `Detector.feed` on one core.

A synthetic observatory: `--targets` HTTP targets (default 200) on 20 networks, one
control, `--vantages` vantages (default 3), every path probed every 10 s for
`--minutes` of stream time (default 20). About 1% of probes fail at random, latency
jitters, and `--down-networks` networks (default 1, of 20; 20 takes every target down)
go silent for the middle quarter of the run, so the figure includes grouping,
classification and resolution. Arrivals are shuffled within the lateness bound. Prints a
table (with the longest single `feed` call, in wall time and with `--call-cpu` in CPU
time, which a loaded machine's preemption does not inflate, and the longest garbage
collection) and writes `bench/results/detector_throughput.json`. As `netvigil run` does
once started, the collector is settled (`settle_collector`) after the stream and
detector are built; `--default-gc` keeps CPython's defaults instead.

    .venv/bin/python bench/detector_throughput.py
    .venv/bin/python bench/detector_throughput.py --targets 1000 --minutes 10
    .venv/bin/python bench/detector_throughput.py --vantages 5 --down-networks 20  # large outage
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import time
from pathlib import Path

from netvigil.config.model import Config
from netvigil.detect.detector import Detector
from netvigil.model import Measurement
from netvigil.outcome import Outcome, Phase
from netvigil.pipeline.worker import settle_collector

INTERVAL = 10.0
T0 = 1_657_915_200.0


def build_config(targets: int, vantages: int) -> Config:
    """20 networks, one organization each, one service and HTTP target per target."""
    networks = [{"name": f"net{i}"} for i in range(20)]
    organizations = [{"name": f"org{i}"} for i in range(20)]
    services = [
        {"name": f"svc{i}", "network": f"net{i % 20}", "organization": f"org{i % 20}"}
        for i in range(targets)
    ]
    specs = [
        {
            "kind": "http",
            "name": f"t{i}",
            "service": f"svc{i}",
            "url": f"https://svc{i}.example/",
            "interval_s": INTERVAL,
        }
        for i in range(targets)
    ]
    specs.append(
        {
            "kind": "tcp",
            "name": "control",
            "control": True,
            "host": "192.0.2.1",
            "port": 443,
            "interval_s": INTERVAL,
        }
    )
    agents = [
        {"name": f"v{i}", "token_sha256": "0" * 64, "in_country": False} for i in range(1, vantages)
    ]
    return Config.model_validate(
        {
            "vantage": {"name": "v0"},
            "networks": networks,
            "organizations": organizations,
            "services": services,
            "targets": specs,
            "agents": agents,
        }
    )


def build_stream(
    targets: int, vantages: int, minutes: float, seed: int, down_networks: int = 1
) -> list[Measurement]:
    """Every path every INTERVAL; the first `down_networks` networks silent from 40% to 65%
    of the run."""
    rng = random.Random(seed)
    end = T0 + minutes * 60.0
    cut = (T0 + 0.4 * (end - T0), T0 + 0.65 * (end - T0))
    names = [f"t{i}" for i in range(targets)] + ["control"]
    out: list[Measurement] = []
    n = 0
    for idx, target in enumerate(names):
        down_net = target != "control" and int(target[1:]) % 20 < down_networks
        for v in range(vantages):
            ts = T0 + ((idx * vantages + v) * 0.013) % INTERVAL
            while ts < end:
                n += 1
                if (down_net and cut[0] <= ts < cut[1]) or rng.random() < 0.01:
                    ok, outcome, timings = False, Outcome.TCP_TIMEOUT, {}
                else:
                    rtt = 0.02 + rng.uniform(-0.003, 0.003) + (0.05 if rng.random() < 0.02 else 0)
                    ok, outcome, timings = True, Outcome.OK, {"connect": rtt, "total": rtt + 0.03}
                out.append(
                    Measurement(
                        id=f"{n:012d}",
                        ts=ts,
                        vantage=f"v{v}",
                        target=target,
                        kind="http",
                        ok=ok,
                        outcome=outcome,
                        phase=None if ok else Phase.CONNECT,
                        timings=timings,
                    )
                )
                ts += INTERVAL
    # Arrival order: shuffled within 5 s (the detector runs with lateness_s=10).
    out.sort(key=lambda m: m.ts + rng.uniform(0.0, 5.0))
    return out


class CollectorPauses:
    """Garbage collections seen through `gc.callbacks`: how many, the longest, the total
    (CPU time of this thread, so that a loaded machine's preemption does not count)."""

    def __init__(self) -> None:
        self.count = 0
        self.longest_s = 0.0
        self.total_s = 0.0
        self._started = 0.0

    def callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.thread_time()
            return
        spent = time.thread_time() - self._started
        self.count += 1
        self.total_s += spent
        self.longest_s = max(self.longest_s, spent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--vantages", type=int, default=3)
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--down-networks", type=int, default=1)
    parser.add_argument("--default-gc", action="store_true", help="do not settle the collector")
    parser.add_argument(
        "--call-cpu",
        action="store_true",
        help="also time each feed call in CPU time (costs about a microsecond per call)",
    )
    args = parser.parse_args()
    if not (1 <= args.targets <= 20_000 and 1 <= args.vantages <= 20 and args.minutes <= 240):
        parser.error("bounded run: targets 1..20000, vantages 1..20, minutes <= 240")
    config = build_config(args.targets, args.vantages)
    stream = build_stream(args.targets, args.vantages, args.minutes, args.seed, args.down_networks)
    detector = Detector(config, lateness_s=10.0)
    if not args.default_gc:
        settle_collector()
    pauses = CollectorPauses()
    gc.callbacks.append(pauses.callback)
    events = 0
    cpu0 = time.process_time()
    wall0 = time.perf_counter()
    calls: list[float] = []
    call_cpu: list[float] = []
    if args.call_cpu:
        for m in stream:
            c0, t0 = time.perf_counter(), time.thread_time()
            events += len(detector.feed(m))
            call_cpu.append(time.thread_time() - t0)
            calls.append(time.perf_counter() - c0)
    else:
        for m in stream:
            c0 = time.perf_counter()
            events += len(detector.feed(m))
            calls.append(time.perf_counter() - c0)
    events += len(detector.flush())
    gc.callbacks.remove(pauses.callback)
    calls.sort()
    wall = time.perf_counter() - wall0
    cpu = time.process_time() - cpu0
    incidents = detector.incidents()
    result = {
        "targets": args.targets,
        "vantages": args.vantages,
        "stream_minutes": args.minutes,
        "measurements": len(stream),
        "wall_s": round(wall, 3),
        "cpu_s": round(cpu, 3),
        "per_second": round(len(stream) / wall),
        "per_cpu_second": round(len(stream) / cpu),
        "speedup_vs_real_time": round(args.minutes * 60.0 / wall, 1),
        "down_networks": args.down_networks,
        "feed_p99_ms": round(calls[int(0.99 * (len(calls) - 1))] * 1000, 3),
        "feed_max_ms": round(calls[-1] * 1000, 3),
        "feed_max_cpu_ms": round(max(call_cpu) * 1000, 3) if call_cpu else None,
        "feed_cpu_over_10ms": sum(1 for c in call_cpu if c > 0.010) if call_cpu else None,
        "gc": "default" if args.default_gc else "settled",
        "gc_collections": pauses.count,
        "gc_max_ms": round(pauses.longest_s * 1000, 3),
        "gc_total_ms": round(pauses.total_s * 1000, 1),
        "events": events,
        "incidents": [
            {"services": len(i.services), "cause": i.cause.value, "state": i.state.value}
            for i in incidents
        ],
        "late": detector.late,
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    out = Path(__file__).parent / "results" / "detector_throughput.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

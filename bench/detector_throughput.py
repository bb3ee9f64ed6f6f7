"""Detector throughput: measurements per second through `Detector.feed` on one core.

A synthetic observatory: `--targets` HTTP targets (default 200) on 20 networks, one
control, `--vantages` vantages (default 3), every path probed every 10 s for
`--minutes` of stream time (default 20). About 1% of probes fail at random, latency
jitters, and `--down-networks` networks (default 1, of 20; 20 takes every target down)
go silent for the middle quarter of the run, so the figure includes grouping,
classification and resolution. Arrivals are shuffled within the lateness bound. Prints a
table (with the longest single `feed` call, in wall time and with `--call-cpu` in CPU
time, which a loaded machine's preemption does not inflate, also less the garbage
collections that fell into it, and the longest collection) and writes
`bench/results/detector_throughput.json`. As `netvigil run` does once started, the
collector is settled (`settle_collector`) after the stream and detector are built;
`--default-gc` keeps CPython's defaults instead, `--gen0-threshold` sets another young
threshold. `--repeat N` feeds the stream N times through fresh detectors: throughput is
the fastest pass's, each call's CPU time its least over the passes (what other
processes on a shared machine add to a call, through its caches, varies from pass to
pass). `events_sha256` is a digest of every event's JSON form, in order: two versions of
the detector that agree on it emitted the same events. `--profile-calls N` replays the
stream through a fresh detector afterwards and profiles only the N longest `feed` calls
(cProfile in CPU time, the collector off; the replay is deterministic), printing where
their time went.

    .venv/bin/python bench/detector_throughput.py
    .venv/bin/python bench/detector_throughput.py --targets 1000 --minutes 10
    .venv/bin/python bench/detector_throughput.py --vantages 5 --down-networks 20  # large outage
    .venv/bin/python bench/detector_throughput.py --vantages 5 --down-networks 20 \
        --minutes 10 --call-cpu --repeat 5 --profile-calls 3       # the longest calls
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import gc
import hashlib
import io
import json
import pstats
import random
import resource
import time
from collections.abc import Callable
from dataclasses import astuple, dataclass
from pathlib import Path

from netvigil.config.model import Config
from netvigil.detect.detector import CallBudget, Detector
from netvigil.incident import Incident, IncidentEvent
from netvigil.model import Measurement
from netvigil.outcome import Outcome, Phase
from netvigil.pipeline.collector import COLLECT_AT, YoungCollector
from netvigil.pipeline.worker import BUDGET, GEN0_THRESHOLD, settle_collector

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
    """Garbage collections seen through `gc.callbacks`: how many, the longest, the total,
    and per generation how many and the longest (CPU time of the thread that collected,
    so that a loaded machine's preemption does not count)."""

    def __init__(self) -> None:
        self.count = 0
        self.longest_s = 0.0
        self.total_s = 0.0
        self.by_generation: dict[int, tuple[int, float]] = {}
        """Generation -> (collections, the longest in CPU seconds)."""
        self._started = 0.0

    def callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.thread_time()
            return
        spent = time.thread_time() - self._started
        self.count += 1
        self.total_s += spent
        self.longest_s = max(self.longest_s, spent)
        count, longest = self.by_generation.get(info["generation"], (0, 0.0))
        self.by_generation[info["generation"]] = (count + 1, max(longest, spent))

    def summary(self) -> dict[int, str]:
        """Per generation: "collections (longest CPU ms)"."""
        return {
            g: f"{n} ({longest * 1000:.2f})"
            for g, (n, longest) in sorted(self.by_generation.items())
        }


def events_digest(events: list[IncidentEvent]) -> str:
    """A SHA-256 digest of `events` (their JSON forms, in order)."""
    digest = hashlib.sha256()
    for event in events:
        digest.update(json.dumps(event.to_json(), sort_keys=True).encode())
    return digest.hexdigest()


class Driver:
    """Calls the detector as the detection worker (`pipeline.worker`) does: each call
    given `budget` judgements (None: unbounded), what it carries resumed in calls of its
    own, and garbage collected after each call by a `YoungCollector` at `collect_at` net
    allocations (None: by CPython alone). Each call's wall time is kept, and with
    `call_cpu` its CPU time and that of the collections inside it; `busy_s` is the CPU
    time of the calls and of the collections after them. With `profile`, the calls at
    those indices (in call order) are profiled with the collector off (cProfile in CPU
    time: a collection would be charged to whatever allocated last)."""

    def __init__(
        self,
        detector: Detector,
        *,
        budget: CallBudget | None,
        collect_at: int | None,
        call_cpu: bool,
        profile: set[int] | None = None,
    ) -> None:
        self.detector = detector
        self.budget = budget
        self.collector = None if collect_at is None else YoungCollector(collect_at)
        self.call_cpu = call_cpu
        self.pauses = CollectorPauses()
        self.calls: list[float] = []
        """Wall time of each call, in call order."""
        self.cpu: list[float] = []
        """CPU time of each call (empty without `call_cpu`)."""
        self.gc: list[float] = []
        """Of that, the CPU time of garbage collections during the call."""
        self.what: list[str] = []
        """What each call was (with `call_cpu`)."""
        self.busy_s = 0.0
        self.profile = profile
        self.profiler = cProfile.Profile(time.thread_time)

    def __enter__(self) -> Driver:
        gc.callbacks.append(self.pauses.callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self.pauses.callback)

    def feed(self, m: Measurement, what: str = "feed") -> list[IncidentEvent]:
        """Feed `m` and finish what that call carries."""
        return self._through(functools.partial(self.detector.feed, m, budget=self.budget), what)

    def mark(self, vantage: str, at: float, what: str = "mark") -> list[IncidentEvent]:
        """An agent's mark (`Detector.mark`), as the detection worker passes it on."""
        call = functools.partial(self.detector.mark, vantage, at, budget=self.budget)
        return self._through(call, what)

    def advance(self, ts: float, what: str = "advance") -> list[IncidentEvent]:
        """Advance to `ts` and finish what that call carries."""
        return self._through(functools.partial(self.detector.advance, ts, budget=self.budget), what)

    def _through(self, call: Callable[[], list[IncidentEvent]], what: str) -> list[IncidentEvent]:
        events = self._call(call, what)
        while self.detector.carrying:
            events.extend(
                self._call(functools.partial(self.detector.resume, budget=self.budget), what)
            )
        return events

    def _call(self, call: Callable[[], list[IncidentEvent]], what: str) -> list[IncidentEvent]:
        if self.profile is not None and len(self.calls) in self.profile:
            gc.collect()
            gc.disable()
            self.profiler.enable()
            events = call()
            self.profiler.disable()
            gc.enable()
            self.calls.append(0.0)
            return events
        t0 = time.thread_time()
        if self.call_cpu:
            gc0 = self.pauses.total_s
            c0 = time.perf_counter()
            events = call()
            self.cpu.append(time.thread_time() - t0)
            self.gc.append(self.pauses.total_s - gc0)
            self.what.append(what)
        else:
            c0 = time.perf_counter()
            events = call()
        self.calls.append(time.perf_counter() - c0)
        if self.collector is not None:
            self.collector.collect(self.detector.processed)
        self.busy_s += time.thread_time() - t0
        return events


def profile_calls(
    config: Config,
    stream: list[Measurement],
    calls: set[int],
    *,
    budget: CallBudget | None,
    collect_at: int | None,
) -> str:
    """Replay `stream` through a fresh detector driven as in the timed runs, profiling
    only the calls at the indices `calls`; the profile's top entries by cumulative and by
    own time."""
    detector = Detector(config, lateness_s=10.0)
    with Driver(
        detector, budget=budget, collect_at=collect_at, call_cpu=False, profile=calls
    ) as drive:
        for m in stream:
            drive.feed(m)
    out = io.StringIO()
    stats = pstats.Stats(drive.profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(30)
    stats.sort_stats("tottime").print_stats(25)
    return out.getvalue()


@dataclass
class TimedRun:
    """One pass of the stream through a fresh detector."""

    wall_s: float
    cpu_s: float
    drive: Driver
    events: list[IncidentEvent]
    incidents: list[Incident]
    late: int


def timed_run(
    config: Config,
    stream: list[Measurement],
    gen0: int | None,
    *,
    call_cpu: bool,
    budget: CallBudget | None,
    collect_at: int | None,
) -> TimedRun:
    """Feed `stream` to a fresh detector (driven by a `Driver`), timing every call; the
    collector is settled with `gen0` as its young-generation threshold (None: CPython's
    defaults, as found)."""
    detector = Detector(config, lateness_s=10.0)
    if gen0 is not None:
        settle_collector(gen0)
    events: list[IncidentEvent] = []
    with Driver(detector, budget=budget, collect_at=collect_at, call_cpu=call_cpu) as drive:
        cpu0 = time.process_time()
        wall0 = time.perf_counter()
        for m in stream:
            events.extend(drive.feed(m))
        events.extend(detector.flush())
        wall = time.perf_counter() - wall0
        cpu = time.process_time() - cpu0
    return TimedRun(wall, cpu, drive, events, detector.incidents(), detector.late)


def budget_arg(text: str) -> CallBudget | None:
    """`--budget J,M`: a CallBudget; `0`: None (unbounded calls)."""
    if text.strip() == "0":
        return None
    judgements, measurements = (int(part) for part in text.split(","))
    return CallBudget(judgements=judgements, measurements=measurements)


def add_call_options(parser: argparse.ArgumentParser) -> None:
    """`--budget` and `--collect-at`: how each call is bounded and when the young
    generation is collected, as the detection worker does (this bench and outage_replay)."""
    parser.add_argument(
        "--budget",
        type=budget_arg,
        default=BUDGET,
        metavar="J,M",
        help=f"bound each call to J judgements and M measurements, as the detection worker "
        f"bounds its holds (default {BUDGET.judgements},{BUDGET.measurements}; 0: unbounded)",
    )
    parser.add_argument(
        "--collect-at",
        type=int,
        default=COLLECT_AT,
        help=f"collect the young generation after a call from this many net allocations, as "
        f"the detection worker does (default {COLLECT_AT}; 0: CPython alone collects)",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--vantages", type=int, default=3)
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--down-networks", type=int, default=1)
    parser.add_argument("--default-gc", action="store_true", help="do not settle the collector")
    parser.add_argument(
        "--gen0-threshold",
        type=int,
        default=GEN0_THRESHOLD,
        help=f"young-generation threshold of the settled collector (default {GEN0_THRESHOLD})",
    )
    add_call_options(parser)
    parser.add_argument(
        "--call-cpu",
        action="store_true",
        help="also time each call in CPU time (costs about a microsecond per call)",
    )
    parser.add_argument(
        "--profile-calls",
        type=int,
        default=0,
        metavar="N",
        help="afterwards, profile the N longest calls in a replay (needs --call-cpu)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="feed the stream this many times, each through a fresh detector: throughput of "
        "the fastest pass, each call's CPU time the least over the passes",
    )
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "detector_throughput.json"
    )
    args = parser.parse_args()
    if not (1 <= args.targets <= 20_000 and 1 <= args.vantages <= 20 and args.minutes <= 240):
        parser.error("bounded run: targets 1..20000, vantages 1..20, minutes <= 240")
    if not 1 <= args.repeat <= 10:
        parser.error("bounded run: --repeat 1..10")
    if args.profile_calls and not args.call_cpu:
        parser.error("--profile-calls needs --call-cpu")
    config = build_config(args.targets, args.vantages)
    stream = build_stream(args.targets, args.vantages, args.minutes, args.seed, args.down_networks)
    gen0 = None if args.default_gc else args.gen0_threshold
    drive = {"budget": args.budget, "collect_at": args.collect_at or None}
    runs = [
        timed_run(config, stream, gen0, call_cpu=args.call_cpu, **drive) for _ in range(args.repeat)
    ]
    result = report(args, stream, runs)
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key:<{width}}  {value}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    if args.profile_calls:
        call_cpu = [min(c) for c in zip(*(r.drive.cpu for r in runs), strict=True)]
        by_cpu = sorted(range(len(call_cpu)), key=call_cpu.__getitem__)
        longest = by_cpu[len(by_cpu) - args.profile_calls :]
        print(f"\nthe {len(longest)} longest calls (CPU ms):", end="")
        print("", ", ".join(f"#{i} {call_cpu[i] * 1000:.1f}" for i in sorted(longest)))
        print(profile_calls(config, stream, set(longest), **drive))


def report(
    args: argparse.Namespace, stream: list[Measurement], runs: list[TimedRun]
) -> dict[str, object]:
    """The figures of `runs` (see the module docstring)."""
    best = min(runs, key=lambda r: r.cpu_s)
    digests = {events_digest(r.events) for r in runs}
    per_call = list(zip(*(r.drive.cpu for r in runs), strict=True))
    per_call_gc = list(zip(*(r.drive.gc for r in runs), strict=True))
    call_cpu = [min(c) for c in per_call]
    less_gc = [
        min(c - g for c, g in zip(cs, gs, strict=True))
        for cs, gs in zip(per_call, per_call_gc, strict=True)
    ]
    by_cpu = sorted(range(len(call_cpu)), key=call_cpu.__getitem__)
    calls = sorted(best.drive.calls)
    pauses = best.drive.pauses
    return {
        "targets": args.targets,
        "vantages": args.vantages,
        "stream_minutes": args.minutes,
        "measurements": len(stream),
        "repeat": args.repeat,
        "budget": None if args.budget is None else list(astuple(args.budget)),
        "collect_at": args.collect_at or None,
        "wall_s": round(best.wall_s, 3),
        "cpu_s": round(best.cpu_s, 3),
        "per_second": round(len(stream) / best.wall_s),
        "per_cpu_second": round(len(stream) / best.cpu_s),
        "per_cpu_second_all": [round(len(stream) / r.cpu_s) for r in runs],
        "speedup_vs_real_time": round(args.minutes * 60.0 / best.wall_s, 1),
        "down_networks": args.down_networks,
        "calls": len(calls),
        "call_p99_ms": round(calls[int(0.99 * (len(calls) - 1))] * 1000, 3),
        "call_max_ms": round(calls[-1] * 1000, 3),
        "call_max_cpu_ms": round(max(call_cpu) * 1000, 3) if call_cpu else None,
        "call_cpu_over_10ms": sum(1 for c in call_cpu if c > 0.010) if call_cpu else None,
        "call_longest_cpu_ms": {i: round(call_cpu[i] * 1000, 2) for i in by_cpu[-5:]},
        "call_max_cpu_ms_less_gc": round(max(less_gc) * 1000, 3) if less_gc else None,
        "call_cpu_over_10ms_less_gc": sum(1 for c in less_gc if c > 0.010) if less_gc else None,
        "gc": "default" if args.default_gc else f"settled, gen0 {args.gen0_threshold}",
        "gc_collections": pauses.count,
        "gc_max_ms": round(pauses.longest_s * 1000, 3),
        "gc_total_ms": round(pauses.total_s * 1000, 1),
        "gc_by_generation": [r.drive.pauses.summary() for r in runs],
        "gc_in_calls_max_ms": round(max(max(r.drive.gc, default=0.0) for r in runs) * 1000, 3),
        "events": len(best.events),
        "events_sha256": digests.pop() if len(digests) == 1 else sorted(digests),
        "incidents": [
            {"services": len(i.services), "cause": i.cause.value, "state": i.state.value}
            for i in best.incidents
        ],
        "late": best.late,
        "max_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


if __name__ == "__main__":
    main()

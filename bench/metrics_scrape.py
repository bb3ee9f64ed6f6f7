"""How long a /metrics scrape of the per-target series takes, and how big it is.

    .venv/bin/python bench/metrics_scrape.py                     # 10,000 targets x 3 vantages
    .venv/bin/python bench/metrics_scrape.py --targets 1000 --rounds 20 --gauge-rounds 3

Fills a `ProbeMetrics` table with `--targets` x `--vantages` newest results (a mix of
http 50%, tls 20%, dns 15%, tcp 15%; 5% failing), then times:

1. `ProbeMetrics.render()` in process, `--rounds` times each: with no row changed since
   the last scrape, with 1 row in 4 changed (a 15 s scrape of targets probed every 60 s),
   and with every row changed (each changed row is formatted again);
2. `GET /metrics` over HTTP against the real app (`create_app` served by `WebServer` on
   127.0.0.1, the table tracked by its `Metrics` as in `netvigil run`), `--rounds` times,
   plain and gzipped (`Accept-Encoding: gzip`, as Prometheus asks; the size is the bytes
   that travelled);
3. the same series kept as prometheus_client `Gauge`s, one child per label set, rendered
   by `generate_latest`, `--gauge-rounds` times (it is slow; this is the comparison).

Prints p50/p99 in ms (and, in process, the CPU time of the rendering thread, which a
busy machine inflates less), the scrape size in bytes and the ratio of the renderers' p50,
and writes the figures as JSON under bench/results/. Each loop is bounded in count and in
time (`--max-seconds` per part).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from prometheus_client import CollectorRegistry, Gauge, generate_latest

from netvigil.config import Config
from netvigil.metrics import Metrics
from netvigil.model import Measurement, new_measurement_id
from netvigil.outcome import Outcome, Phase
from netvigil.probe_metrics import LABELS, ProbeMetrics
from netvigil.store.sqlite import SQLiteStore
from netvigil.web.app import create_app
from netvigil.web.server import WebServer

KINDS = ("http",) * 10 + ("tls",) * 4 + ("dns",) * 3 + ("tcp",) * 3
PHASES_BY_KIND = {
    "http": ("resolve", "connect", "ttfb", "total"),
    "tls": ("resolve", "connect", "tls", "total"),
    "dns": ("resolve", "total"),
    "tcp": ("connect", "total"),
}


def make_results(targets: int, vantages: int, now: float) -> list[Measurement]:
    """The newest result of every (target, vantage) pair."""
    rng = random.Random(1)
    out = []
    for t in range(targets):
        kind = KINDS[t % len(KINDS)]
        for v in range(vantages):
            ok = rng.random() > 0.05
            timings = {p: rng.uniform(0.001, 0.2) for p in PHASES_BY_KIND[kind]}
            detail: dict[str, Any] = {}
            if kind == "http":
                detail["status"] = 200 if ok else 503
            elif kind == "tls":
                detail["not_after"] = "2027-03-01T12:00:00+00:00"
            elif kind == "dns":
                detail["answers"] = ["192.0.2.1", "192.0.2.2"]
            ts = now - rng.uniform(0, 60)
            out.append(
                Measurement(
                    id=new_measurement_id(ts),
                    ts=ts,
                    vantage=f"vantage-{v}",
                    target=f"{kind}-target-{t:05d}",
                    kind=kind,
                    ok=ok,
                    outcome=Outcome.OK if ok else Outcome.HTTP_5XX,
                    phase=None if ok else Phase.RESPONSE,
                    timings=timings,
                    detail=detail,
                )
            )
    return out


def time_rounds(
    fn: Callable[[], int],
    rounds: int,
    max_seconds: float,
    prepare: Callable[[], object] | None = None,
) -> tuple[list[float], int, list[float]]:
    """Milliseconds per call of `fn` (at most `rounds` calls, `max_seconds` in all), size,
    and the CPU milliseconds of this thread per call (what a busy machine does not inflate).

    `prepare` runs before each call, untimed.
    """
    times: list[float] = []
    cpu: list[float] = []
    size = 0
    stop_at = time.perf_counter() + max_seconds
    for _ in range(rounds):
        if prepare is not None:
            prepare()
        c0, t0 = time.thread_time(), time.perf_counter()
        size = fn()
        times.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
        if time.perf_counter() > stop_at:
            break
    return times, size, cpu


def summary(times: list[float], size: int, cpu: list[float] | None = None) -> dict[str, float]:
    q = statistics.quantiles(times, n=100, method="inclusive") if len(times) > 1 else times * 99
    figures = {
        "rounds": len(times),
        "p50_ms": statistics.median(times),
        "p99_ms": q[98],
        "bytes": size,
    }
    if cpu:
        figures["cpu_p50_ms"] = statistics.median(cpu)
    return figures


def gauges_for(results: list[Measurement], table: ProbeMetrics) -> CollectorRegistry:
    """The same series as prometheus_client Gauges, one child per label set."""
    registry = CollectorRegistry()
    labels = list(LABELS)
    success = Gauge("netvigil_probe_success", "s", labels, registry=registry)
    duration = Gauge("netvigil_probe_duration_seconds", "d", [*labels, "phase"], registry=registry)
    status = Gauge("netvigil_probe_http_status_code", "h", labels, registry=registry)
    expiry = Gauge("netvigil_probe_ssl_earliest_cert_expiry", "c", labels, registry=registry)
    rrs = Gauge("netvigil_probe_dns_answer_rrs", "r", labels, registry=registry)
    last = Gauge("netvigil_probe_last_timestamp_seconds", "t", labels, registry=registry)
    for m in results:
        values = (m.target, "", "", m.vantage, m.kind)
        success.labels(*values).set(1 if m.ok else 0)
        last.labels(*values).set(m.ts)
        for phase, s in m.timings.items():
            duration.labels(*values, phase).set(s)
        if m.kind == "http":
            status.labels(*values).set(m.detail.get("status", 0))
        elif m.kind == "tls":
            expiry.labels(*values).set(1_803_988_800.0)
        elif m.kind == "dns":
            rrs.labels(*values).set(len(m.detail["answers"]))
    return registry


async def over_http(
    table: ProbeMetrics, rounds: int, max_seconds: float, encoding: str = "identity"
) -> dict[str, float]:
    """GET /metrics against the real app, the table tracked as in `netvigil run`, asking
    for `encoding` ('identity' or 'gzip'); the size is what travelled."""
    metrics = Metrics()
    metrics.track_exposition(table.render)
    with tempfile.TemporaryDirectory() as tmp:
        async with await SQLiteStore.open(Path(tmp) / "bench.db") as store:
            app = create_app(store, Config(), metrics)
            server = await WebServer.start(app, host="127.0.0.1", port=0)
            try:
                async with httpx.AsyncClient(timeout=30) as client:
                    times: list[float] = []
                    size = 0
                    stop_at = time.perf_counter() + max_seconds
                    for _ in range(rounds):
                        t0 = time.perf_counter()
                        r = await client.get(
                            f"{server.url}/metrics", headers={"Accept-Encoding": encoding}
                        )
                        times.append((time.perf_counter() - t0) * 1000)
                        size = r.num_bytes_downloaded
                        assert r.status_code == 200
                        if time.perf_counter() > stop_at:
                            break
            finally:
                await server.stop()
    return summary(times, size)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", type=int, default=10_000)
    parser.add_argument("--vantages", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=50)
    parser.add_argument("--gauge-rounds", type=int, default=5)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP part")
    args = parser.parse_args()

    now = time.time()
    results = make_results(args.targets, args.vantages, now)
    table = ProbeMetrics(max_series=max(50_000, len(results)))
    t0 = time.perf_counter()
    for m in results:
        table.submit(m)
    submit_us = (time.perf_counter() - t0) / len(results) * 1e6
    report: dict[str, Any] = {
        "targets": args.targets,
        "vantages": args.vantages,
        "series_rows": len(table),
        "submit_us_per_result": submit_us,
    }
    timed = time_rounds(lambda: len(table.render()), args.rounds, args.max_seconds)
    report["render"] = summary(*timed)  # the first round formats every row; then reused

    def newer(step: int) -> Callable[[], None]:
        def submit_newer() -> None:  # every `step`-th pair has a newer result
            for m in results[::step]:
                m.ts += 1.0
                table.submit(m)

        return submit_newer

    # A 15 s scrape of targets probed every 60 s finds about 1 row in 4 changed.
    for part, step in (("render_quarter_changed", 4), ("render_all_changed", 1)):
        timed = time_rounds(lambda: len(table.render()), args.rounds, args.max_seconds, newer(step))
        report[part] = summary(*timed)
    if not args.no_http:
        report["http"] = asyncio.run(over_http(table, args.rounds, args.max_seconds))
        report["http_gzip"] = asyncio.run(
            over_http(table, args.rounds, args.max_seconds, encoding="gzip")
        )
    t0 = time.perf_counter()
    registry = gauges_for(results, table)
    report["gauges_fill_s"] = time.perf_counter() - t0
    report["gauges"] = summary(
        *time_rounds(lambda: len(generate_latest(registry)), args.gauge_rounds, args.max_seconds)
    )
    gauges_p50 = report["gauges"]["p50_ms"]
    report["ratio_p50"] = gauges_p50 / report["render"]["p50_ms"]
    report["ratio_p50_all_changed"] = gauges_p50 / report["render_all_changed"]["p50_ms"]

    print(f"{args.targets} targets x {args.vantages} vantages = {len(table)} rows")
    print(f"submit: {submit_us:.2f} us per result")
    print(f"{'part':<32}{'rounds':>7}{'p50 ms':>10}{'p99 ms':>10}{'bytes':>12}{'CPU p50':>10}")
    for part, name in (
        ("render", "render, unchanged rows"),
        ("render_quarter_changed", "render, 1 row in 4 changed"),
        ("render_all_changed", "render, every row changed"),
        ("http", "GET /metrics, unchanged rows"),
        ("http_gzip", "GET /metrics gzip, unchanged"),
        ("gauges", "prometheus_client Gauges"),
    ):
        if part in report:
            r = report[part]
            figures = f"{r['rounds']:>7}{r['p50_ms']:>10.1f}{r['p99_ms']:>10.1f}{r['bytes']:>12,}"
            if "cpu_p50_ms" in r:
                figures += f"{r['cpu_p50_ms']:>10.1f}"
            print(f"{name:<32}{figures}")
    print(
        f"Gauges / render (p50): {report['ratio_p50']:.1f}x unchanged,"
        f" {report['ratio_p50_all_changed']:.1f}x every row changed;"
        f" Gauges filled in {report['gauges_fill_s']:.1f} s"
    )
    out = Path("bench/results")
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"metrics_scrape-{time.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(report, indent=2))
    print(f"written: {path}")


if __name__ == "__main__":
    main()

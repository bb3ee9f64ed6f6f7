"""Probe throughput: netvigil's engine against Prometheus blackbox_exporter, side by side.

Modes (see bench/README.md and docs/performance.md, "Probe throughput"):

    python bench/probe_throughput.py compare [--quick] [--duration 10] [--targets 1000]
        HTTP, HTTPS, TCP, DNS and ICMP checks per second and CPU-seconds per 1,000 checks,
        netvigil vs blackbox_exporter on the same loopback targets, plus a minimal C
        client (new connection per GET) as the HTTP floor.
    python bench/probe_throughput.py sustained --targets 100000 --interval 60 --duration 300
        The real schedule with store writes on: schedule lag, lost measurements, RSS.
    python bench/probe_throughput.py search --interval 300 --duration 120
        The largest target count sustained at a 5-minute interval, within the bounds.
    python bench/probe_throughput.py all [--quick]
        compare, then sustained, then search.

Every mode prints a table and writes bench/results/probe_throughput-<timestamp>.json.
All traffic stays on 127.0.0.0/8; every loop stops by itself (count and time limits).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _blackbox import BLACKBOX, Blackbox
from _servers import DNS_PORT, HTTP_PORT, HTTPS_PORT, Lab, build

BENCH_DIR = Path(__file__).resolve().parent

RESULTS_DIR = BENCH_DIR / "results"
KINDS = ("http", "https", "tcp", "dns", "icmp")
MODULE = {"http": "http_2xx", "https": "https", "tcp": "tcp_connect", "dns": "dns", "icmp": "icmp"}
RSS_LIMIT_MB = 1024.0
LAG_LIMIT_S = 1.0
GOAL_VS_BLACKBOX = 3.0
GOAL_VS_C = 4.0


# -- running the engine ----------------------------------------------------------------


LOOP = {"uvloop": True}


def run_engine(job: dict[str, Any], *, timeout_s: float) -> dict[str, Any]:
    """Run bench/_engine.py on `job` in a fresh process and return its result.

    Raises RuntimeError when it fails or prints no result within `timeout_s`.
    """
    job.setdefault("uvloop", LOOP["uvloop"])
    cmd = [sys.executable, str(BENCH_DIR / "_engine.py"), json.dumps(job)]
    log = Path(job["db"]).with_suffix(".log")
    if job["mode"] == "sustained":
        print(f"  engine log: {log}", flush=True)
    with log.open("w") as err:
        try:
            out = subprocess.run(
                cmd, stdout=subprocess.PIPE, stderr=err, text=True, timeout=timeout_s, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise RuntimeError(
                f"engine job {job['mode']}/{job['kind']} ran past {timeout_s} s"
            ) from exc
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line[7:])
            return result
    raise RuntimeError(
        f"engine job {job['mode']}/{job['kind']} failed (exit {out.returncode}):\n"
        + log.read_text()[-3000:]
    )


def target_list(kind: str, lab: Lab, n: int) -> list[str]:
    """The blackbox_exporter `target` parameters matching the engine's first `n` specs."""
    addrs = {"https": lab.https_addresses, "dns": lab.dns_addresses}.get(kind, lab.http_addresses)
    out = []
    for i in range(n):
        a = addrs[i % len(addrs)]
        out.append(
            {
                "http": f"http://{a}:{HTTP_PORT}/t/{i}",
                "https": f"https://{a}:{HTTPS_PORT}/t/{i}",
                "tcp": f"{a}:{HTTP_PORT}",
                "dns": f"{a}:{DNS_PORT}",
                "icmp": a,
            }[kind]
        )
    return out


def n_addresses(kind: str, lab: Lab) -> int:
    return {"https": lab.n_https, "dns": lab.n_dns}.get(kind, lab.n_http)


# -- modes -----------------------------------------------------------------------------


def c_baseline(
    lab: Lab, exes: dict[str, Path], work: Path, args: argparse.Namespace
) -> dict[str, Any]:
    """The minimal C client: a new connection per GET, over the same HTTP targets."""
    lines = work / "c_targets.txt"
    with lines.open("w") as f:
        for i in range(args.targets):
            a = lab.http_addresses[i % lab.n_http]
            f.write(f"{a} {HTTP_PORT} /t/{i}\n")
    cmd = [str(exes["c_client"]), "-f", str(lines), "-c", str(args.concurrency)]
    cmd += ["-n", str(args.max_checks), "-d", str(args.duration)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    r: dict[str, Any] = json.loads(out.stdout)
    r["checks_per_s"] = r["requests"] / r["wall_s"] if r["wall_s"] else 0.0
    r["cpu_s_per_1000"] = 1000 * r["cpu_s"] / r["requests"] if r["requests"] else 0.0
    r["checks_per_cpu_s"] = r["requests"] / r["cpu_s"] if r["cpu_s"] else 0.0
    r["command"] = " ".join(cmd)
    return r


def compare(
    lab: Lab, exes: dict[str, Path], work: Path, args: argparse.Namespace
) -> dict[str, Any]:
    """Each kind in turn: blackbox_exporter, then netvigil; then the C client on HTTP."""
    out: dict[str, Any] = {"kinds": {}, "settings": {}}
    out["settings"] = {
        "targets": args.targets,
        "duration_s": args.duration,
        "max_checks": args.max_checks,
        "repeat": args.repeat,
        "concurrency": args.concurrency,
        "netvigil_per_address_rate": 1e9,
        "http_addresses": lab.n_http,
        "https_addresses": lab.n_https,
        "dns_addresses": lab.n_dns,
    }
    with Blackbox(work, exes["c_client"], lab.ca_file) as bb:
        for kind in args.kinds:
            row: dict[str, Any] = {"runs": {"blackbox": [], "netvigil": []}}
            targets = target_list(kind, lab, args.targets)
            bb.drive(MODULE[kind], targets, duration_s=1.0, max_probes=500)  # warm-up
            for rep in range(args.repeat):
                bb_run = bb.drive(
                    MODULE[kind],
                    targets,
                    duration_s=args.duration,
                    max_probes=args.max_checks,
                    concurrency=args.concurrency,
                )
                row["runs"]["blackbox"].append(bb_run.as_dict())
                job = {
                    "mode": "throughput",
                    "kind": kind,
                    "targets": args.targets,
                    "addresses": n_addresses(kind, lab),
                    "ca_file": str(lab.ca_file),
                    "db": str(work / f"throughput-{kind}-{rep}.db"),
                    "duration_s": args.duration,
                    "max_checks": args.max_checks,
                    "concurrency": args.concurrency,
                    "per_address_rate": 1e9,
                }
                if rep == 0 and kind in args.profile:
                    job["profile"] = str(work / f"profile-{kind}.pstats")
                    row["profile_top"] = []
                    prof = run_engine(job, timeout_s=args.duration + 120)
                    row["profile_top"] = profile_top(Path(job["profile"]))
                    row["profiled_run"] = prof
                    del job["profile"]
                row["runs"]["netvigil"].append(run_engine(job, timeout_s=args.duration + 120))
            # The median run of each side (by CPU per check) stands for it.
            row["blackbox"] = median_run(row["runs"]["blackbox"])
            row["netvigil"] = median_run(row["runs"]["netvigil"])
            nv, bbr = row["netvigil"], row["blackbox"]
            if nv["cpu_s_per_1000"] and bbr["cpu_s_per_1000"]:
                row["ratio_checks_per_cpu_s"] = bbr["cpu_s_per_1000"] / nv["cpu_s_per_1000"]
            # A ratio only means something when both sides' checks actually succeeded.
            row["valid"] = all(
                r["ok"] >= 0.99 * n and n > 0 for r, n in ((nv, nv["checks"]), (bbr, bbr["probes"]))
            )
            out["kinds"][kind] = row
            print_compare_row(kind, row)
    if "http" in args.kinds:
        c_runs = [c_baseline(lab, exes, work, args) for _ in range(args.repeat)]
        out["c_client"] = c = median_run(c_runs)
        out["c_client_runs"] = c_runs
        nv = out["kinds"]["http"]["netvigil"]
        out["c_client"]["ratio_c_over_netvigil"] = (
            c["checks_per_cpu_s"] / nv["checks_per_cpu_s"] if nv["checks_per_cpu_s"] else None
        )
        print(
            f"{'c_client':8} http  {c['checks_per_s']:9.0f}/s"
            f"  {c['cpu_s_per_1000']:7.4f} CPU-s/1000"
            f"  {c['checks_per_cpu_s']:8.0f} GETs/CPU-s  ok {c['ok']}/{c['requests']}"
        )
        goals = out["goals"] = {}
        ratio = out["kinds"]["http"].get("ratio_checks_per_cpu_s")
        goals["http_vs_blackbox"] = {"goal": GOAL_VS_BLACKBOX, "measured": ratio}
        goals["http_vs_blackbox"]["met"] = (
            ratio is not None and ratio >= GOAL_VS_BLACKBOX and out["kinds"]["http"]["valid"]
        )
        c_ratio = out["c_client"]["ratio_c_over_netvigil"]
        goals["http_within_c"] = {"goal": GOAL_VS_C, "measured": c_ratio}
        goals["http_within_c"]["met"] = c_ratio is not None and c_ratio <= GOAL_VS_C
    return out


def median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The run with the median CPU-seconds per 1,000 checks (the lower middle one)."""
    ordered = sorted(runs, key=lambda r: float(r["cpu_s_per_1000"]))
    return ordered[(len(ordered) - 1) // 2]


def print_compare_row(kind: str, row: dict[str, Any]) -> None:
    for side in ("blackbox", "netvigil"):
        r = row[side]
        n = r.get("probes") if side == "blackbox" else r.get("checks")
        if isinstance(n, str):
            n = r.get("checks")
        cpu_per_s = 1000 / r["cpu_s_per_1000"] if r["cpu_s_per_1000"] else 0.0
        print(
            f"{side:8} {kind:5} {r['checks_per_s']:9.0f}/s  {r['cpu_s_per_1000']:7.4f} CPU-s/1000"
            f"  {cpu_per_s:8.0f} checks/CPU-s  ok {r['ok']}/{n}"
        )
    if "ratio_checks_per_cpu_s" in row:
        note = "" if row["valid"] else "  (NOT VALID: under 99% of checks ok on one side)"
        print(
            f"{'':8} {kind:5} netvigil/blackbox checks per CPU-s:"
            f" {row['ratio_checks_per_cpu_s']:.2f}x{note}"
        )


def profile_top(path: Path, n: int = 30) -> list[str]:
    """The `n` functions with the most own time in a cProfile dump, as text lines."""
    if not path.exists():
        return []
    stats = pstats.Stats(str(path))
    rows = []
    for func, (_cc, nc, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append((tt, ct, nc, f"{Path(func[0]).name}:{func[1]}({func[2]})"))
    rows.sort(reverse=True)
    return [f"{tt:8.3f} {ct:8.3f} {nc:9d}  {name}" for tt, ct, nc, name in rows[:n]]


def sustained_job(
    lab: Lab, work: Path, targets: int, interval: float, duration: float, kind: str = "http"
) -> dict[str, Any]:
    return {
        "mode": "sustained",
        "kind": kind,
        "targets": targets,
        "addresses": n_addresses(kind, lab),
        "ca_file": str(lab.ca_file),
        "db": str(work / f"sustained-{targets}.db"),
        "interval_s": interval,
        "duration_s": duration,
        "concurrency": 512,
        "per_address_rate": 10.0,
        "sample_s": 5.0,
    }


def judge(r: dict[str, Any], *, after_warmup: bool = False) -> dict[str, Any]:
    """Whether one sustained run stayed within the bounds, and why not.

    With `after_warmup` (search mode), lag is judged on the dispatches after the first
    `warmup_s` seconds, leaving out the start-up backlog.
    """
    problems = []
    lag = r["lag_after_warmup"] if after_warmup else r["lag"]
    which = f"after the first {r['warmup_s']:g} s " if after_warmup else ""
    if lag["p99_s"] >= LAG_LIMIT_S:
        problems.append(f"p99 schedule lag {which}{lag['p99_s']:.3f} s >= {LAG_LIMIT_S} s")
    if r["lost"] != 0 or r["store_dropped"]:
        problems.append(f"{r['lost']} measurements lost, {r['store_dropped']} dropped by the store")
    if r["peak_rss_mb"] >= RSS_LIMIT_MB:
        problems.append(f"peak RSS {r['peak_rss_mb']:.0f} MiB >= {RSS_LIMIT_MB:.0f} MiB")
    expected = r["targets"] * r["duration_s"] / r["interval_s"]
    r["expected_checks"] = expected
    r["achieved_fraction"] = r["produced"] / expected if expected else 0.0
    if r["skipped"]:
        problems.append(f"{r['skipped']} scheduled runs skipped")
    return {"ok": not problems, "problems": problems}


def print_sustained(r: dict[str, Any]) -> None:
    lag = r["lag"]
    print(
        f"sustained {r['targets']:>8} targets @ {r['interval_s']:g} s for {r['duration_s']:.0f} s:"
        f" {r['checks_per_s']:.0f} checks/s (want {r['target_rate_per_s']:.0f}),"
        f" lag p50 {lag['p50_s'] * 1000:.1f} ms p99 {lag['p99_s'] * 1000:.1f} ms"
        f" max {lag['max_s'] * 1000:.0f} ms, produced {r['produced']} stored {r['stored']}"
        f" skipped {r['skipped']}, peak RSS {r['peak_rss_mb']:.0f} MiB,"
        f" {r['cpu_s_per_1000']:.3f} CPU-s/1000, CPU {100 * r['cpu_util']:.0f}%,"
        f" ok {r['ok']}/{r['produced']} -> {'PASS' if r['verdict']['ok'] else 'FAIL'}"
        + ("" if r["verdict"]["ok"] else f" ({'; '.join(r['verdict']['problems'])})")
    )


def sustained(lab: Lab, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    job = sustained_job(lab, work, args.targets, args.interval, args.duration, args.kind)
    r = run_engine(job, timeout_s=args.duration + 600)
    r["verdict"] = judge(r)
    print_sustained(r)
    return r


def search(lab: Lab, work: Path, args: argparse.Namespace) -> dict[str, Any]:
    """Step up the target count at `interval` until a run leaves the bounds."""
    steps = [int(s) for s in args.steps.split(",")]
    runs = []
    best = 0
    started = time.monotonic()
    for n in steps:
        if time.monotonic() - started > args.budget:
            print(f"search: time budget of {args.budget:.0f} s spent; stopping before {n}")
            break
        job = sustained_job(lab, work, n, args.interval, args.duration, args.kind)
        try:
            r = run_engine(job, timeout_s=args.duration + 900)
        except RuntimeError as exc:
            runs.append({"targets": n, "error": str(exc)[-2000:]})
            print(f"search: {n} targets failed: {str(exc)[-500:]}")
            break
        r["verdict"] = judge(r, after_warmup=True)
        if not args.keep_samples:
            r.pop("samples", None)
        runs.append(r)
        print_sustained(r)
        (work / f"sustained-{n}.db").unlink(missing_ok=True)
        if not r["verdict"]["ok"]:
            break
        best = n
    return {
        "interval_s": args.interval,
        "duration_s": args.duration,
        "largest_ok": best,
        "runs": runs,
    }


# -- markdown summary ------------------------------------------------------------------


def markdown(report: dict[str, Any]) -> str:
    """The report's figures as Markdown tables (for docs/performance.md)."""
    lines = [
        f"Run {report['started']}, `{report['command']}`, load average at start"
        f" {report['machine']['loadavg'][0]:.1f}.",
        "",
    ]
    cmp_ = report.get("compare")
    if cmp_:
        st = cmp_["settings"]
        lines += [
            f"Compare: {st['targets']} targets per kind, {st['duration_s']:g} s per run,"
            f" {st['concurrency']} in flight, median of {st['repeat']} runs per side.",
            "",
            "| kind | blackbox checks/s | blackbox CPU-s/1000 | netvigil checks/s"
            " | netvigil CPU-s/1000 | netvigil store thread | netvigil ÷ blackbox checks/CPU-s |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for kind, row in cmp_["kinds"].items():
            bb, nv = row["blackbox"], row["netvigil"]
            store = nv.get("cpu_s_by_thread", {}).get("netvigil-store-write", 0.0)
            share = f"{100 * store / nv['cpu_s']:.0f}%" if nv["cpu_s"] else "-"
            ratio = row.get("ratio_checks_per_cpu_s")
            rtxt = f"{ratio:.2f}x" if ratio else "-"
            if not row.get("valid", True):
                rtxt += " (not valid)"
            lines.append(
                f"| {kind} | {bb['checks_per_s']:.0f} | {bb['cpu_s_per_1000']:.3f}"
                f" | {nv['checks_per_s']:.0f} | {nv['cpu_s_per_1000']:.3f} | {share} | {rtxt} |"
            )
        c = cmp_.get("c_client")
        if c:
            lines += [
                "",
                f"C client (new connection per GET): {c['checks_per_s']:.0f} GETs/s,"
                f" {c['cpu_s_per_1000']:.4f} CPU-s/1000 ({c['checks_per_cpu_s']:.0f} GETs per"
                f" CPU-second); C ÷ netvigil HTTP = {c['ratio_c_over_netvigil']:.2f}x.",
            ]
        for name, g in cmp_.get("goals", {}).items():
            m = g["measured"]
            lines.append(
                f"- goal {name}: {g['goal']}x, measured {m:.2f}x: {'met' if g['met'] else 'missed'}"
                if m is not None
                else f"- goal {name}: not measured"
            )
    runs = []
    if "sustained" in report:
        runs.append(report["sustained"])
    runs += [r for r in report.get("search", {}).get("runs", []) if "lag" in r]
    if runs:
        lines += [
            "",
            "| targets | interval | ran | checks/s (wanted) | lag p50/p99/max"
            " | p99 after warm-up | produced / stored | skipped | peak RSS | CPU-s/1000"
            " | verdict |",
            "|---:|---:|---:|---:|---|---:|---|---:|---:|---:|---|",
        ]
        for r in runs:
            lag = r["lag"]
            after = r.get("lag_after_warmup", {}).get("p99_s")
            ms = "/".join(f"{lag[k] * 1000:.0f}" for k in ("p50_s", "p99_s", "max_s"))
            verdict = r["verdict"]
            vtxt = "pass" if verdict["ok"] else "FAIL: " + "; ".join(verdict["problems"])
            lines.append(
                f"| {r['targets']} | {r['interval_s']:g} s | {r['duration_s']:.0f} s"
                f" | {r['checks_per_s']:.0f} ({r['target_rate_per_s']:.0f}) | {ms} ms"
                f" | {'-' if after is None else f'{after * 1000:.0f} ms'}"
                f" | {r['produced']} / {r['stored']} | {r['skipped']}"
                f" | {r['peak_rss_mb']:.0f} MiB | {r['cpu_s_per_1000']:.3f} | {vtxt} |"
            )
    if "search" in report:
        sr = report["search"]
        lines += [
            "",
            f"Largest target count within bounds at {sr['interval_s']:g} s: {sr['largest_ok']}.",
        ]
    return "\n".join(lines) + "\n"


# -- main ------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    bb = subprocess.run([BLACKBOX, "--version"], capture_output=True, text=True, check=False)
    return {
        "cpus": os.cpu_count(),
        "loadavg": os.getloadavg(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "blackbox_exporter": (bb.stdout or bb.stderr).splitlines()[0]
        if (bb.stdout or bb.stderr)
        else None,
    }


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "mode", nargs="?", default="compare", choices=["compare", "sustained", "search", "all"]
    )
    p.add_argument("--quick", action="store_true", help="small counts, under a minute (compare)")
    p.add_argument(
        "--targets",
        type=int,
        default=None,
        help="compare: distinct targets (1000); sustained: targets (100000)",
    )
    p.add_argument(
        "--duration",
        type=float,
        default=None,
        help="seconds per side and kind (compare 10, sustained 300, search 120)",
    )
    p.add_argument(
        "--max-checks", type=int, default=200_000, help="compare: most checks per side and kind"
    )
    p.add_argument(
        "--concurrency", type=int, default=64, help="compare: checks in flight, both sides"
    )
    p.add_argument("--kinds", default=",".join(KINDS), help="compare: kinds to run")
    p.add_argument("--repeat", type=int, default=3, help="compare: runs per side; medians reported")
    p.add_argument("--kind", default="http", choices=KINDS, help="sustained/search: target kind")
    p.add_argument(
        "--interval", type=float, default=None, help="sustained 60, search 300 (seconds)"
    )
    p.add_argument(
        "--steps",
        default="100000,200000,300000,500000,750000,1000000",
        help="search: target counts",
    )
    p.add_argument(
        "--budget",
        type=float,
        default=3600,
        help="search: stop starting steps after this many seconds",
    )
    p.add_argument(
        "--addresses",
        type=int,
        default=None,
        help="HTTP listen addresses (compare 256, sustained 4096)",
    )
    p.add_argument("--profile", default="", help="compare: kinds to run under cProfile (e.g. http)")
    p.add_argument(
        "--keep-samples", action="store_true", help="search: keep per-5 s samples in the JSON"
    )
    p.add_argument(
        "--loop",
        choices=["uvloop", "asyncio"],
        default="uvloop",
        help="netvigil's event loop (netvigil run uses uvloop)",
    )
    p.add_argument("--keep-workdir", action="store_true")
    args = p.parse_args(argv)
    args.kinds = [k for k in args.kinds.split(",") if k]
    bad = [k for k in args.kinds if k not in KINDS]
    if bad:
        p.error(f"unknown kind(s) {', '.join(bad)}; choose from {', '.join(KINDS)}")
    args.profile = [k for k in args.profile.split(",") if k]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    LOOP["uvloop"] = args.loop == "uvloop"
    stamp = time.strftime("%Y%m%dT%H%M%S")
    work = Path(tempfile.mkdtemp(prefix="netvigil-bench-"))
    report: dict[str, Any] = {
        "benchmark": "probe_throughput",
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": " ".join([Path(sys.executable).name, *sys.argv]),
        "machine": machine(),
    }
    exes = build(work)
    sustained_mode = args.mode in ("sustained", "search")
    n_http = args.addresses or (4096 if sustained_mode or args.mode == "all" else 256)
    t0 = time.monotonic()
    try:
        with Lab(work, exes, n_http=n_http, n_https=64, n_dns=64, max_seconds=7200) as lab:
            report["servers"] = {
                "http": f"c_httpd (bench/c_httpd.c, epoll, 1 process) on {lab.n_http}"
                f" addresses 127.10.x.y:{HTTP_PORT}",
                "https": f"c_httpd with OpenSSL on {lab.n_https} addresses :{HTTPS_PORT},"
                " certificate from a trustme CA",
                "tcp": "the HTTP listeners (connect, then close)",
                "dns": f"c_dnsd (bench/c_dnsd.c, UDP) on {lab.n_dns} addresses :{DNS_PORT}",
                "icmp": "the kernel: 127.0.0.0/8 addresses answer echo natively",
            }
            if args.mode in ("compare", "all"):
                cargs = argparse.Namespace(**vars(args))
                cargs.targets = (
                    args.targets
                    if args.mode == "compare" and args.targets
                    else (200 if args.quick else 1000)
                )
                cargs.duration = (
                    args.duration
                    if args.mode == "compare" and args.duration
                    else (2.0 if args.quick else 10.0)
                )
                if args.quick:
                    cargs.max_checks = min(args.max_checks, 5000)
                    cargs.repeat = 1
                report["compare"] = compare(lab, exes, work, cargs)
            if args.mode in ("sustained", "all"):
                sargs = argparse.Namespace(**vars(args))
                sargs.targets = (
                    args.targets
                    if args.mode == "sustained" and args.targets
                    else (2000 if args.quick else 100_000)
                )
                sargs.interval = (
                    args.interval
                    if args.mode == "sustained" and args.interval
                    else (10.0 if args.quick else 60.0)
                )
                sargs.duration = (
                    args.duration
                    if args.mode == "sustained" and args.duration
                    else (15.0 if args.quick else 300.0)
                )
                report["sustained"] = sustained(lab, work, sargs)
            if args.mode in ("search", "all"):
                qargs = argparse.Namespace(**vars(args))
                qargs.interval = args.interval if args.mode == "search" and args.interval else 300.0
                qargs.duration = (
                    args.duration
                    if args.mode == "search" and args.duration
                    else (15.0 if args.quick else 120.0)
                )
                if args.quick:
                    qargs.steps = "5000,10000"
                report["search"] = search(lab, work, qargs)
    finally:
        report["elapsed_s"] = time.monotonic() - t0
        report["machine"]["loadavg_end"] = os.getloadavg()
        RESULTS_DIR.mkdir(parents=True, exist_ok=True)
        path = RESULTS_DIR / f"probe_throughput-{stamp}.json"
        path.write_text(json.dumps(report, indent=2, default=str) + "\n")
        print(f"results: {path}")
        try:
            md = markdown(report)
        except (KeyError, TypeError, ValueError) as exc:  # a partial report (a failed run)
            md = f"(no summary: {exc!r})\n"
        path.with_suffix(".md").write_text(md)
        print(md)
        if not args.keep_workdir:
            shutil.rmtree(work, ignore_errors=True)
        else:
            print(f"work directory kept: {work}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Latency change-point detection on 35 real RIPE Atlas RTT traces (hand-labelled change points).

Runs two detectors over each trace (default parameters, loss codes skipped):
:class:`detectors.LevelShiftDetector` (the change-point detector, bench-only: ``netvigil run``
does not use it) and, for comparison, :class:`netvigil.detect.BaselineDetector` (the anomaly
detector ``netvigil run`` feeds each path's latency to). A sample whose score is at least
the threshold is an alarm. A labelled change point is
detected when an alarm falls within ``±tolerance`` samples of it (delay = alarm index minus change
point index, the first matching alarm); an alarm matching no change point is a false alarm.

Usage::

    .venv/bin/python bench/latency_changepoints.py                       # both detectors
    .venv/bin/python bench/latency_changepoints.py --detector levelshift  # one of them
    .venv/bin/python bench/latency_changepoints.py --data /path/to/data   # the data folder
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from detectors import LevelShiftDetector

from netvigil.detect import AnomalyDetector, BaselineDetector

REPO = Path(__file__).resolve().parents[1]
# The shared data sets: --data, else $NETVIGIL_DATA, else ../shared/data beside the repository.
DATA_ROOT = Path(os.environ.get("NETVIGIL_DATA") or REPO.parent / "shared" / "data")
SAMPLE_S = 240
DETECTORS: dict[str, tuple[Callable[[], AnomalyDetector], str]] = {
    "levelshift": (lambda: LevelShiftDetector(negative_is_loss=True), "0.5,0.6,0.7,0.8"),
    "baseline": (lambda: BaselineDetector(negative_is_loss=True), "0.15,0.2,0.3"),
}


def _epoch(text: str) -> float:
    for fmt in ("%Y-%m-%d %H:%M:%S", "%d/%m/%Y %H:%M"):
        try:
            return datetime.strptime(text, fmt).replace(tzinfo=UTC).timestamp()
        except ValueError:
            continue
    raise ValueError(f"unknown timestamp format: {text!r}")


def load_trace(path: Path) -> tuple[list[float], list[float], list[int]]:
    """(epochs, rtts, change-point flags) of one trace; rtt < 0 are loss codes (-3, -4)."""
    ts, rtt, cp = [], [], []
    for line in path.read_text().splitlines()[1:]:
        if not line.strip():
            continue
        when, value, flag = line.strip().split(";")
        ts.append(_epoch(when))
        rtt.append(float(value))
        cp.append(int(flag))
    return ts, rtt, cp


def match(alarms: Sequence[int], cps: Sequence[int], tol: int) -> tuple[list[int | None], int]:
    """Per change point, the delay of its first alarm within ±tol (None if none); false alarms."""
    delays: list[int | None] = []
    used: set[int] = set()
    for c in cps:
        near = [a for a in alarms if abs(a - c) <= tol]
        delays.append(near[0] - c if near else None)
        used.update(near)
    return delays, sum(1 for a in alarms if a not in used)


Trace = tuple[str, list[float], list[float], list[int]]


def _score_trace(args: tuple[str, Trace]) -> list[float]:
    kind, (_, ts, rtt, _flags) = args
    det = DETECTORS[kind][0]()
    return [det.update(t, v) for t, v in zip(ts, rtt, strict=True)]


def score_traces(kind: str, traces: Sequence[Trace], jobs: int = 2) -> list[list[float]]:
    """Run a fresh detector of ``kind`` over each trace; its scores per trace."""
    work = [(kind, t) for t in traces]
    if jobs <= 1:
        return [_score_trace(w) for w in work]
    with ProcessPoolExecutor(jobs) as pool:
        return list(pool.map(_score_trace, work))


def evaluate(
    traces: Sequence[Trace],
    scores: Sequence[list[float]],
    threshold: float,
    tol: int,
    verbose: bool,
) -> tuple[int, int, list[int], int, float]:
    """Match alarms to change points; print per-trace rows if verbose; return the totals."""
    n_cp = n_hit = n_false = 0
    delays: list[int] = []
    days = 0.0
    for (name, ts, _, flags), sc in zip(traces, scores, strict=True):
        alarms = [i for i, s in enumerate(sc) if s >= threshold]
        cps = [i for i, f in enumerate(flags) if f]
        d, false = match(alarms, cps, tol)
        hit = [x for x in d if x is not None]
        n_cp += len(cps)
        n_hit += len(hit)
        n_false += false
        delays += hit
        days += (ts[-1] - ts[0]) / 86400
        if verbose:
            print(
                f"{name:>6} {len(ts):>6} samples  cps {len(cps):>3}"
                f"  hit {len(hit):>3}  false {false:>4}"
            )
    return n_cp, n_hit, delays, n_false, days


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tolerance", type=int, default=3, help="samples either side (default 3)")
    parser.add_argument("--detector", choices=sorted(DETECTORS), action="append")
    parser.add_argument(
        "--thresholds", help="comma-separated score thresholds (default: per detector)"
    )
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--verbose", action="store_true", help="per-trace rows")
    parser.add_argument(
        "--data",
        type=Path,
        default=DATA_ROOT,
        help="the shared data directory holding latency_changepoints/ "
        "(default: $NETVIGIL_DATA or ../shared/data)",
    )
    args = parser.parse_args(argv)
    data: Path = args.data / "latency_changepoints"
    if not data.is_dir():
        print(f"latency change-point data not found at {data}", file=sys.stderr)
        return 2
    traces: list[Trace] = [(p.stem, *load_trace(p)) for p in sorted(data.glob("*.csv"))]
    print(
        f"RIPE Atlas RTT change points: {len(traces)} traces, ±{args.tolerance} samples "
        f"({SAMPLE_S // 60}-min spacing)"
    )
    for kind in args.detector or ["levelshift", "baseline"]:
        scores = score_traces(kind, traces, args.jobs)
        print(
            f"\n{kind}\n{'threshold':>9}{'detected':>14}{'recall':>8}{'mean delay':>12}"
            f"{'false alarms':>14}{'per day':>9}{'precision':>11}"
        )
        for thr in (float(x) for x in (args.thresholds or DETECTORS[kind][1]).split(",")):
            n_cp, n_hit, delays, n_false, days = evaluate(
                traces, scores, thr, args.tolerance, args.verbose
            )
            mean = sum(delays) / len(delays) if delays else float("nan")
            prec = n_hit / (n_hit + n_false) if n_hit + n_false else float("nan")
            print(
                f"{thr:>9.2f}{n_hit:>8}/{n_cp:<5}{n_hit / n_cp:>8.1%}{mean:>+9.2f} smp"
                f"{n_false:>14}{n_false / days:>9.2f}{prec:>11.1%}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

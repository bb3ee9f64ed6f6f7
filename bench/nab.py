"""NAB (Numenta Anomaly Benchmark) scorer and netvigil's score on it.

Reimplements NAB v1.1's scoring rules (nab/sweeper.py, nab/optimizer.py, nab/normalizer.py)
in numpy:

- each labelled window scores only its earliest detection, ``tpWeight * sigma(pos) / sigma(-1)``
  with ``pos = -(right - i + 1) / width`` and ``sigma(x) = 2 / (1 + exp(5x)) - 1`` (``-1`` past
  ``x > 3``); a window without a detection costs ``-fnWeight``;
- a detection outside every window costs ``fpWeight * sigma(distance past the previous window /
  (previous width - 1))``, or ``-fpWeight`` before the first window;
- the first ``min(floor(0.15 n), 750)`` rows of each file are not scored;
- one threshold per detector and profile, chosen to maximise the corpus total (here by an exact
  sweep over every distinct score instead of NAB's hill climb);
- ``100 * (S - S_null) / (S_perfect - S_null)`` with ``S_perfect = n_windows * tpWeight`` and
  ``S_null = -fnWeight * n_windows``.

Only ``--detector baseline`` scores code that ``netvigil run`` executes
(:class:`netvigil.detect.BaselineDetector`, the live per-path latency scorer); the other
detectors are bench-only and live in ``bench/detectors/``.

Usage::

    .venv/bin/python bench/nab.py                       # HybridDetector on all 58 files
    .venv/bin/python bench/nab.py --detector baseline   # the live-path BaselineDetector
    .venv/bin/python bench/nab.py --detector art+hybrid # ARTHybridDetector (best here)
    .venv/bin/python bench/nab.py --detector art        # ARTDetector alone
    .venv/bin/python bench/nab.py --verify              # re-score published numenta outputs
    .venv/bin/python bench/nab.py --data /path/to/data  # the folder holding NAB/
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from netvigil.detect import AnomalyDetector

REPO = Path(__file__).resolve().parents[1]
# The shared data sets: --data, else $NETVIGIL_DATA, else ../shared/data beside the repository.
DATA_ROOT = Path(os.environ.get("NETVIGIL_DATA") or REPO.parent / "shared" / "data")
NAB_DIR = DATA_ROOT / "NAB"
PROFILES = ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
PUBLISHED = {"ARTime": 74.9, "numenta (HTM)": 70.1, "contextOSE (CAD OSE)": 69.9}

FloatArray = npt.NDArray[np.float64]


def scaled_sigmoid(x: FloatArray) -> FloatArray:
    """NAB's scaled sigmoid: 2 * sigmoid(-5x) - 1, and -1 for x > 3."""
    out = 2.0 / (1.0 + np.exp(5.0 * x)) - 1.0
    return np.where(x > 3.0, -1.0, out)


MAX_TP = float(scaled_sigmoid(np.array([-1.0]))[0])


@dataclass(frozen=True)
class CostMatrix:
    """One NAB profile: weights of true positives, false negatives and false positives."""

    tp: float
    fn: float
    fp: float


def load_profiles(nab_dir: Path = NAB_DIR) -> dict[str, CostMatrix]:
    """Read config/profiles.json into cost matrices."""
    raw = json.loads((nab_dir / "config" / "profiles.json").read_text())
    return {
        name: CostMatrix(
            tp=float(p["CostMatrix"]["tpWeight"]),
            fn=float(p["CostMatrix"]["fnWeight"]),
            fp=float(p["CostMatrix"]["fpWeight"]),
        )
        for name, p in raw.items()
    }


@dataclass(frozen=True)
class LabelledFile:
    """One data file's timing: row positions of its windows and per-row sweep geometry.

    ``window`` is -1 outside windows, else the window's index within the file; ``sweep`` is the
    unweighted NAB score a detection at that row would earn (positive in windows, negative outside);
    ``scored`` is False for the probationary rows.
    """

    name: str
    n: int
    windows: list[tuple[int, int]]
    window: npt.NDArray[np.int64]
    sweep: FloatArray
    scored: npt.NDArray[np.bool_]


def _parse_ts(values: Sequence[str]) -> npt.NDArray[np.datetime64]:
    return np.array([v.strip().replace(" ", "T") for v in values], dtype="datetime64[s]")


def label_file(
    name: str, timestamps: Sequence[str], windows: Sequence[Sequence[str]]
) -> LabelledFile:
    """Lay NAB windows (timestamp pairs) over a file's rows."""
    ts = _parse_ts(timestamps)
    n = len(ts)
    idx = []
    for start, end in windows:
        lo = int(np.searchsorted(ts, _parse_ts([start])[0], side="left"))
        hi = int(np.searchsorted(ts, _parse_ts([end])[0], side="left"))
        idx.append((lo, hi))
    window = np.full(n, -1, dtype=np.int64)
    sweep = np.full(n, -1.0)
    rows = np.arange(n, dtype=np.float64)
    for k, (lo, hi) in enumerate(idx):
        width = float(hi - lo + 1)
        window[lo : hi + 1] = k
        sweep[lo : hi + 1] = scaled_sigmoid(-(hi - rows[lo : hi + 1] + 1.0) / width) / MAX_TP
        nxt = idx[k + 1][0] if k + 1 < len(idx) else n
        if width > 1:
            after = rows[hi + 1 : nxt]
            sweep[hi + 1 : nxt] = scaled_sigmoid(np.abs(hi - after) / (width - 1.0))
    scored = np.arange(n) >= probation_rows(n)
    return LabelledFile(name, n, idx, window, sweep, scored)


@dataclass(frozen=True)
class FileScore:
    """NAB's per-file result row at one threshold."""

    name: str
    score: float
    tp: int
    tn: int
    fp: int
    fn: int


def score_file(
    lf: LabelledFile, scores: FloatArray, threshold: float, cost: CostMatrix
) -> FileScore:
    """Score one file's anomaly scores at a threshold (NAB Sweeper semantics)."""
    det = (scores >= threshold) & lf.scored
    inwin = lf.window >= 0
    total = 0.0
    for k in range(len(lf.windows)):
        hits = np.flatnonzero(det & (lf.window == k))
        # A window lying entirely in the probationary period is not part of the ground truth.
        if not np.any(lf.scored & (lf.window == k)):
            continue
        total += cost.tp * float(lf.sweep[hits[0]]) if hits.size else -cost.fn
    fp_rows = det & ~inwin
    total += cost.fp * float(lf.sweep[fp_rows].sum())
    tp = int((det & inwin).sum())
    fp = int(fp_rows.sum())
    fn = int((lf.scored & inwin).sum()) - tp
    tn = int((lf.scored & ~inwin).sum()) - fp
    return FileScore(lf.name, total, tp, tn, fp, fn)


def _file_events(
    lf: LabelledFile, scores: FloatArray, cost: CostMatrix
) -> tuple[FloatArray, FloatArray]:
    """(score, delta) events: lowering the threshold to ``score`` adds ``delta`` to the total."""
    s_parts = [scores[lf.scored & (lf.window < 0)]]
    d_parts = [cost.fp * lf.sweep[lf.scored & (lf.window < 0)]]
    for k in range(len(lf.windows)):
        m = lf.scored & (lf.window == k)
        if not m.any():
            continue
        ws, wv = scores[m], cost.tp * lf.sweep[m]
        order = np.lexsort((-wv, -ws))  # by score desc, then value desc within ties
        ws, wv = ws[order], wv[order]
        best = np.maximum.accumulate(np.concatenate(([-cost.fn], wv)))
        s_parts.append(ws)
        d_parts.append(np.diff(best))
    return np.concatenate(s_parts), np.concatenate(d_parts)


def optimise_threshold(
    files: Sequence[LabelledFile], scores: Sequence[FloatArray], cost: CostMatrix
) -> tuple[float, float]:
    """Exact corpus-wide best threshold: returns (threshold, raw total score)."""
    base = -cost.fn * sum(
        int(np.any(f.scored & (f.window == k))) for f in files for k in range(len(f.windows))
    )
    ev = [_file_events(f, s, cost) for f, s in zip(files, scores, strict=True)]
    s = np.concatenate([e[0] for e in ev])
    d = np.concatenate([e[1] for e in ev])
    order = np.argsort(-s, kind="stable")
    s, d = s[order], d[order]
    cum = base + np.cumsum(d)
    last = np.flatnonzero(np.r_[s[1:] != s[:-1], True])  # last row of each equal-score group
    best = int(last[np.argmax(cum[last])])
    if cum[best] <= base:
        return 1.1, base
    return float(s[best]), float(cum[best])


def normalise(raw: float, n_windows: int, cost: CostMatrix) -> float:
    """NAB's normalised score: 0 = null detector, 100 = perfect detector."""
    null = -cost.fn * n_windows
    perfect = cost.tp * n_windows
    return 100.0 * (raw - null) / (perfect - null)


@dataclass(frozen=True)
class Corpus:
    """The 58 NAB files: names, timestamps, values and labelled geometry."""

    names: list[str]
    epochs: list[FloatArray]
    values: list[FloatArray]
    labelled: list[LabelledFile]

    @property
    def n_windows(self) -> int:
        return sum(len(f.windows) for f in self.labelled)


def load_corpus(nab_dir: Path = NAB_DIR, only: Sequence[str] | None = None) -> Corpus:
    """Read data/ and labels/combined_windows.json."""
    windows: dict[str, list[list[str]]] = json.loads(
        (nab_dir / "labels" / "combined_windows.json").read_text()
    )
    names = sorted(n for n in windows if only is None or n in only)
    epochs, values, labelled = [], [], []
    for name in names:
        with (nab_dir / "data" / name).open() as fh:
            rows = list(csv.reader(fh))[1:]
        ts = [r[0] for r in rows]
        epochs.append(_parse_ts(ts).astype(np.int64).astype(np.float64))
        values.append(np.array([float(r[1]) for r in rows]))
        labelled.append(label_file(name, ts, windows[name]))
    return Corpus(names, epochs, values, labelled)


def read_result_scores(path: Path) -> FloatArray:
    """The anomaly_score column of a NAB per-row result CSV."""
    with path.open() as fh:
        reader = csv.DictReader(fh)
        return np.array([float(r["anomaly_score"]) for r in reader])


def published_file_scores(detector: str, profile: str, nab_dir: Path = NAB_DIR) -> dict[str, float]:
    """Per-file raw scores and the threshold from results/<det>/<det>_<profile>_scores.csv."""
    path = nab_dir / "results" / detector / f"{detector}_{profile}_scores.csv"
    out: dict[str, float] = {}
    with path.open() as fh:
        for r in csv.DictReader(fh):
            out[r["File"] or r["Detector"]] = float(r["Score"])
            if r["Detector"] != "Totals":
                out["__threshold__"] = float(r["Threshold"])
    return out


def result_path(detector: str, name: str, nab_dir: Path = NAB_DIR) -> Path:
    category, fname = name.split("/")
    return nab_dir / "results" / detector / category / f"{detector}_{fname}"


def verify(detector: str = "numenta", nab_dir: Path = NAB_DIR) -> int:
    """Re-score a published detector's per-row outputs; compare with the published figures."""
    corpus = load_corpus(nab_dir)
    profiles = load_profiles(nab_dir)
    final = json.loads((nab_dir / "results" / "final_results.json").read_text())[detector]
    scores = [read_result_scores(result_path(detector, n, nab_dir)) for n in corpus.names]
    print(f"Re-scoring published '{detector}' outputs ({len(corpus.names)} files)")
    print(
        f"{'profile':<20}{'published':>10}{'ours@pub thr':>14}"
        f"{'max |file diff|':>17}{'ours@opt thr':>14}"
    )
    worst = 0.0
    for prof in PROFILES:
        cost = profiles[prof]
        pub = published_file_scores(detector, prof, nab_dir)
        thr = pub["__threshold__"]
        fs = [score_file(f, s, thr, cost) for f, s in zip(corpus.labelled, scores, strict=True)]
        ours = normalise(sum(x.score for x in fs), corpus.n_windows, cost)
        diff = max(abs(x.score - pub[x.name]) for x in fs)
        _, raw_opt = optimise_threshold(corpus.labelled, scores, cost)
        opt = normalise(raw_opt, corpus.n_windows, cost)
        worst = max(worst, abs(ours - final[prof]))
        print(f"{prof:<20}{final[prof]:>10.2f}{ours:>14.2f}{diff:>17.2e}{opt:>14.2f}")
    return 0 if worst < 0.5 else 1


DETECTORS = (
    "hybrid",
    "baseline",
    "context",
    "hybrid+likelihood",
    "context+likelihood",
    "art",
    "art+hybrid",
)


def probation_rows(n: int) -> int:
    """NAB's probationary period of an ``n``-row file: ``min(floor(0.15 n), 750)`` rows."""
    return int(min(math.floor(0.15 * n), 0.15 * 5000))


def _make_detector(kind: str, params: dict[str, float], n: int) -> AnomalyDetector:
    from detectors import ARTDetector, ARTHybridDetector, ContextDetector, HybridDetector

    from netvigil.detect import BaselineDetector

    factories: dict[str, Callable[..., AnomalyDetector]] = {
        "hybrid": HybridDetector,
        "baseline": BaselineDetector,
        "context": ContextDetector,
        "art": ARTDetector,
        "art+hybrid": ARTHybridDetector,
    }
    if kind.startswith("art"):
        # The ART detectors learn the range and the normal shapes over NAB's unscored rows.
        params = {"probation": probation_rows(n), **params}
    return factories[kind.removesuffix("+likelihood")](**params)


def _detect_file(args: tuple[FloatArray, FloatArray, dict[str, float], str]) -> FloatArray:
    epochs, values, params, kind = args
    det = _make_detector(kind, params, len(values))
    up: Callable[[float, float], float] = det.update
    if kind.endswith("+likelihood"):
        from detectors import AnomalyLikelihood

        lik = AnomalyLikelihood()

        def with_likelihood(t: float, v: float) -> float:
            det.update(t, v)
            return lik.update(float(getattr(det, "last_raw", 0.0)))

        up = with_likelihood

    return np.fromiter(
        (up(t, v) for t, v in zip(epochs.tolist(), values.tolist(), strict=True)),
        float,
        len(values),
    )


def run_detector(
    corpus: Corpus, params: dict[str, float] | None = None, jobs: int = 2, kind: str = "hybrid"
) -> list[FloatArray]:
    """Run one of netvigil's detectors over each file (one fresh detector per file)."""
    work = [(e, v, params or {}, kind) for e, v in zip(corpus.epochs, corpus.values, strict=True)]
    if jobs <= 1:
        return [_detect_file(w) for w in work]
    with ProcessPoolExecutor(jobs) as pool:
        return list(pool.map(_detect_file, work))


def report(
    corpus: Corpus,
    scores: Sequence[FloatArray],
    label: str = "netvigil",
    profiles: dict[str, CostMatrix] | None = None,
) -> dict[str, float]:
    """Print the NAB table for a set of scores; return normalised score per profile."""
    profiles = profiles if profiles is not None else load_profiles()
    out: dict[str, float] = {}
    print(f"{'profile':<20}{'threshold':>10}{'raw':>9}{'TP win':>8}{'FP':>6}{'score':>8}")
    for prof in PROFILES:
        cost = profiles[prof]
        thr, raw = optimise_threshold(corpus.labelled, scores, cost)
        fs = [score_file(f, s, thr, cost) for f, s in zip(corpus.labelled, scores, strict=True)]
        hit = sum(
            1
            for f, s in zip(corpus.labelled, scores, strict=True)
            for k in range(len(f.windows))
            if np.any((s >= thr) & f.scored & (f.window == k))
        )
        out[prof] = normalise(raw, corpus.n_windows, cost)
        print(
            f"{prof:<20}{thr:>10.4f}{raw:>9.2f}{hit:>5}/{corpus.n_windows:<3}"
            f"{sum(x.fp for x in fs):>5}{out[prof]:>8.2f}"
        )
    print(
        f"\n{label} standard {out['standard']:.2f}; published: "
        + ", ".join(f"{k} {v}" for k, v in PUBLISHED.items())
    )
    return out


def main(
    argv: Sequence[str] | None = None, detect: Callable[..., list[FloatArray]] = run_detector
) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--verify", action="store_true", help="re-score published numenta outputs")
    parser.add_argument("--detector", choices=DETECTORS, default="hybrid")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--params", default="{}", help="JSON keyword arguments for the detector")
    parser.add_argument("--per-file", action="store_true", help="print per-file standard scores")
    parser.add_argument(
        "--data",
        type=Path,
        default=DATA_ROOT,
        help="the shared data directory holding NAB/ (default: $NETVIGIL_DATA or ../shared/data)",
    )
    args = parser.parse_args(argv)
    nab_dir: Path = args.data / "NAB"
    if not nab_dir.is_dir():
        print(f"NAB data not found at {nab_dir}", file=sys.stderr)
        return 2
    if args.verify:
        return verify(nab_dir=nab_dir)
    corpus = load_corpus(nab_dir)
    profiles = load_profiles(nab_dir)
    t0 = time.perf_counter()
    scores = detect(corpus, json.loads(args.params), args.jobs, args.detector)
    dt = time.perf_counter() - t0
    rows = sum(len(v) for v in corpus.values)
    print(
        f"netvigil {args.detector} detector on {len(corpus.names)} files, {rows} rows, "
        f"{dt:.1f} s ({args.jobs} jobs)\n"
    )
    report(corpus, scores, profiles=profiles)
    if args.per_file:
        cost = profiles["standard"]
        thr, _ = optimise_threshold(corpus.labelled, scores, cost)
        for f, s in zip(corpus.labelled, scores, strict=True):
            r = score_file(f, s, thr, cost)
            print(f"{r.score:8.3f} {len(f.windows)} {r.fp:4d} {f.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Shutdown detection on IODA's Iraq signals (August 2023 exam shutdowns).

Feeds the 5-minute IODA bins (BGP visible prefixes, responsive /24s, telescope packets, normalised
Google traffic) to :class:`detectors.SignalDropDetector` and compares its alarms
with the labelled shutdowns (``LABEL`` = 1 bins): detection per event, delay from the labelled
start, and false alarms (alarm episodes that overlap no event).

The detector is bench-only (``bench/detectors/signal_drop.py``): ``netvigil run`` does not use it.

Usage::

    .venv/bin/python bench/ioda.py
    .venv/bin/python bench/ioda.py --data /path/to/data   # the folder holding ioda/
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from detectors import SignalDropDetector

REPO = Path(__file__).resolve().parents[1]
# The shared data sets: --data, else $NETVIGIL_DATA, else ../shared/data beside the repository.
DATA_ROOT = Path(os.environ.get("NETVIGIL_DATA") or REPO.parent / "shared" / "data")
IODA_FILE = Path("ioda") / "ioda_country_IQ_iraq.csv"
SIGNALS = ("bgp", "ping-slash24", "merit-nt", "gtr-norm")
BIN_S = 300


def _float(text: str) -> float:
    return float(text) if text.strip() else math.nan


def load(path: Path) -> tuple[list[float], list[dict[str, float]], list[int]]:
    """Timestamps, per-bin signal values and labels."""
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    ts = [float(r["timestamp"]) for r in rows]
    values = [{s: _float(r[s]) for s in SIGNALS} for r in rows]
    labels = [int(r["LABEL"]) for r in rows]
    return ts, values, labels


def episodes(flags: Sequence[bool]) -> list[tuple[int, int]]:
    """Runs of consecutive true flags as (first, last) indices."""
    out: list[tuple[int, int]] = []
    start = None
    for i, f in enumerate(flags):
        if f and start is None:
            start = i
        elif not f and start is not None:
            out.append((start, i - 1))
            start = None
    if start is not None:
        out.append((start, len(flags) - 1))
    return out


def evaluate(path: Path, threshold: float = 0.5) -> int:
    """Run the detector over the CSV at ``path``; print per-event table and false-alarm summary."""
    ts, values, labels = load(path)
    det = SignalDropDetector()
    scores = [det.update(t, v) for t, v in zip(ts, values, strict=True)]
    events = episodes([lab == 1 for lab in labels])
    alarms = episodes([s >= threshold for s in scores])
    print(
        f"IODA Iraq, {len(ts)} bins of 5 min ({len(ts) * BIN_S / 86400:.1f} days), "
        f"signals {', '.join(SIGNALS)}; alarm = score >= {threshold}\n"
    )
    print(
        f"{'event (UTC)':<22}{'bins':>5}{'detected':>10}{'delay bins':>11}"
        f"{'delay min':>10}{'covered':>9}"
    )
    detected = 0
    delays = []
    for lo, hi in events:
        first = next((i for i in range(lo, hi + 1) if scores[i] >= threshold), None)
        covered = sum(1 for i in range(lo, hi + 1) if scores[i] >= threshold) / (hi - lo + 1)
        start = datetime.fromtimestamp(ts[lo], UTC).strftime("%Y-%m-%d %H:%M")
        if first is None:
            print(f"{start:<22}{hi - lo + 1:>5}{'no':>10}{'-':>11}{'-':>10}{covered:>9.0%}")
            continue
        detected += 1
        delays.append(first - lo)
        print(
            f"{start:<22}{hi - lo + 1:>5}{'yes':>10}{first - lo:>11}"
            f"{(first - lo) * 5:>10}{covered:>9.0%}"
        )
    false = [a for a in alarms if not any(a[0] <= hi and lo <= a[1] for lo, hi in events)]
    days = len(ts) * BIN_S / 86400
    false_bins = sum(b - a + 1 for a, b in false)
    print(
        f"\ndetected {detected}/{len(events)} events; "
        f"median delay {sorted(delays)[len(delays) // 2] if delays else '-'} bins; "
        f"max delay {max(delays) if delays else '-'} bins"
    )
    print(
        f"false alarms: {len(false)} episodes ({false_bins} bins), {len(false) / days:.2f} per day"
    )
    for a, b in false:
        when = datetime.fromtimestamp(ts[a], UTC).strftime("%Y-%m-%d %H:%M")
        print(f"  false alarm {when} for {b - a + 1} bins")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threshold", type=float, default=0.5)
    parser.add_argument(
        "--data",
        type=Path,
        default=DATA_ROOT,
        help="the shared data directory holding ioda/ (default: $NETVIGIL_DATA or ../shared/data)",
    )
    args = parser.parse_args(argv)
    path: Path = args.data / IODA_FILE
    if not path.is_file():
        print(f"IODA data not found at {path}", file=sys.stderr)
        return 2
    return evaluate(path, args.threshold)


if __name__ == "__main__":
    sys.exit(main())

"""Shutdown detection on IODA's Iraq signals (August 2023 exam shutdowns), through the product.

Reads the IODA export with :func:`netvigil.ioda.read_ioda_csv` (every numeric column is a
signal: ``gtr``, ``gtr-norm``, ``merit-nt``, ``bgp``, ``ping-slash24``), runs the product's
signal detector (:class:`netvigil.detect.signals.SignalWatch`, the one ``netvigil run`` feeds
live) bin by bin, and compares its alarms with the labelled shutdowns (``LABEL`` = 1 bins):
detection per event, delay from the labelled start, and false alarms (alarms covering no
labelled bin). The first half of the events is the tuning set, the second half is held back
and reported on its own. ``netvigil signals import FILE --score`` gives the same figures.

Usage::

    .venv/bin/python bench/ioda.py
    .venv/bin/python bench/ioda.py --data /path/to/data   # the folder holding ioda/
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from netvigil.ioda import detect_alarms, read_ioda_csv, render_score, score_alarms

REPO = Path(__file__).resolve().parents[1]
# The shared data sets: --data, else $NETVIGIL_DATA, else ../shared/data beside the repository.
DATA_ROOT = Path(os.environ.get("NETVIGIL_DATA") or REPO.parent / "shared" / "data")
IODA_FILE = Path("ioda") / "ioda_country_IQ_iraq.csv"


def evaluate(path: Path) -> int:
    """Run the product detector over the CSV at `path`; print the per-event table."""
    series = read_ioda_csv(path, entity="IQ")
    alarms = detect_alarms(series)
    score = score_alarms(series, alarms)
    print(
        f"IODA Iraq, {len(series.timestamps)} bins of {series.bin_s:.0f} s, "
        f"signals {', '.join(series.signals)}; {len(alarms)} alarm(s)\n"
    )
    tuned = (len(score.events) + 1) // 2
    for line in render_score(series, score, tuned_on=tuned):
        print(line)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
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
    return evaluate(path)


if __name__ == "__main__":
    sys.exit(main())

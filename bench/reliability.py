"""Reliability diagram: is a cause shown at confidence p right a fraction p of the time?

Reads the `accuracy.json` files that `bench/accuracy.py` writes (one per rescored run
directory), pools their calibration samples (each detected expectation's cause at confirmation with
its confidence: what the first alert said; `--moment final` for the cause at the end), and
draws
predicted confidence against observed accuracy by bins, with the number of incidents in
each bin and the expected calibration error (ECE: the count-weighted mean gap between a
bin's mean confidence and its fraction right).

    .venv/bin/python bench/reliability.py runs/hand/accuracy.json runs/heldback/accuracy.json \
        --out docs/reliability.png

Prints the table it drew (Markdown) so it can go beside the figure in docs/accuracy.md.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import itertools

import matplotlib.pyplot as plt

BINS: tuple[float, ...] = (0.0, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0000001)


@dataclass(frozen=True, slots=True)
class Bin:
    low: float
    high: float
    count: int
    right: int
    mean_confidence: float | None

    @property
    def fraction_right(self) -> float | None:
        return self.right / self.count if self.count else None


def bins_of(samples: Sequence[tuple[float, bool]], edges: Sequence[float] = BINS) -> list[Bin]:
    """The samples sorted into confidence bins [low, high)."""
    out: list[Bin] = []
    for lo, hi in itertools.pairwise(edges):
        inside = [(c, r) for c, r in samples if lo <= c < hi]
        mean = sum(c for c, _ in inside) / len(inside) if inside else None
        out.append(Bin(lo, min(hi, 1.0), len(inside), sum(r for _, r in inside), mean))
    return out


def expected_calibration_error(bins: Sequence[Bin]) -> float | None:
    """Count-weighted mean |mean confidence - fraction right| over the non-empty bins."""
    total = sum(b.count for b in bins)
    if not total:
        return None
    gap = 0.0
    for b in bins:
        if b.count and b.mean_confidence is not None and b.fraction_right is not None:
            gap += b.count * abs(b.mean_confidence - b.fraction_right)
    return gap / total


def samples_from(path: Path, moment: str = "confirmation") -> list[tuple[float, bool]]:
    """Calibration samples of one `accuracy.json`: each detected expectation's cause and
    confidence at its confirmation (what the first alert said), or at its end (`final`)."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    samples: list[tuple[float, bool]] = []
    for scenario in doc["scenarios"]:
        for e in scenario["score"]["expectations"]:
            if not e.get("detected"):
                continue
            if moment == "confirmation":
                conf, right = (
                    e.get("confidence_at_confirmation"),
                    e.get("cause_at_confirmation_right"),
                )
            else:
                conf, right = e.get("confidence"), e.get("cause_right")
            if conf is not None and right is not None:
                samples.append((float(conf), bool(right)))
    return samples


def draw(groups: dict[str, list[Bin]], out: Path) -> None:
    """One line per group (mean confidence vs fraction right), the diagonal, counts."""
    fig, ax = plt.subplots(figsize=(5.5, 5.0), dpi=110)
    ax.plot([0, 1], [0, 1], color="#888", linestyle="--", linewidth=1, label="perfectly calibrated")
    for (name, bins), marker in zip(groups.items(), "os^D", strict=False):
        points = [
            (b.mean_confidence, b.fraction_right, b.count)
            for b in bins
            if b.count and b.mean_confidence is not None and b.fraction_right is not None
        ]
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        ax.plot(xs, ys, marker=marker, label=name)
        for x, y, n in points:
            ax.annotate(str(n), (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("confidence shown for the cause")
    ax.set_ylabel("fraction of incidents whose cause was right")
    ax.set_title("Reliability of the cause (numbers: incidents per bin)", fontsize=10)
    ax.legend(loc="lower right", fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def table(name: str, bins: Sequence[Bin]) -> list[str]:
    ece = expected_calibration_error(bins)
    lines = [
        f"{name} (ECE {ece:.3f})" if ece is not None else name,
        "",
        "| confidence | incidents | mean confidence | fraction right |",
        "|---|---|---|---|",
    ]
    for b in bins:
        mean = "" if b.mean_confidence is None else f"{b.mean_confidence:.2f}"
        right = "" if b.fraction_right is None else f"{b.fraction_right:.0%}"
        lines.append(f"| {b.low:.2f}-{b.high:.2f} | {b.count} | {mean} | {right} |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("inputs", nargs="+", type=Path, help="accuracy.json files")
    parser.add_argument(
        "--label",
        action="append",
        default=[],
        help="a name per input (inputs given the same name are pooled into one line)",
    )
    parser.add_argument("--out", type=Path, required=True, help="PNG to write")
    parser.add_argument("--moment", choices=["confirmation", "final"], default="confirmation")
    args = parser.parse_args(argv)
    labels = args.label or [p.parent.name for p in args.inputs]
    if len(labels) != len(args.inputs):
        parser.error("give one --label per input, or none")
    by_label: dict[str, list[tuple[float, bool]]] = {}
    for label, path in zip(labels, args.inputs, strict=True):
        # one label given twice: its inputs pooled
        by_label.setdefault(label, []).extend(samples_from(path, args.moment))
    groups = {label: bins_of(samples) for label, samples in by_label.items()}
    if len(groups) > 1:
        groups["all"] = bins_of([s for samples in by_label.values() for s in samples])
    draw(groups, args.out)
    for name, bins in groups.items():
        print("\n".join(table(name, bins)) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

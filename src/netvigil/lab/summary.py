"""Scores in figures and words: totals over runs, calibration, and a run's score as text."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Iterable, Sequence
from typing import Any

from netvigil.lab.matching import ScenarioScore
from netvigil.lab.reported import round_offset

__all__ = [
    "CALIBRATION_BINS",
    "calibration_table",
    "describe_expectation",
    "summarize_scores",
    "summary_lines",
]

CALIBRATION_BINS: tuple[float, ...] = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0000001)
"""Edges of the confidence bins of the calibration table (last bin includes 1.0)."""


def summarize_scores(scores: Sequence[ScenarioScore]) -> dict[str, Any]:
    """Totals over several scenario scores (the `total` row of the accuracy table)."""
    delays = [d / s.probe_interval_s for s in scores for d in s.delays_s]
    delays_s = [d for s in scores for d in s.delays_s]
    expected = sum(s.expected for s in scores)
    p_tot = sum(s.precision_total for s in scores)
    r_tot = sum(s.recall_total for s in scores)
    return {
        "scenarios": len(scores),
        "expected": expected,
        "detected": sum(s.detected for s in scores),
        "causes_right": sum(s.causes_right for s in scores),
        "median_delay_s": round_offset(statistics.median(delays_s)) if delays_s else None,
        "worst_delay_s": round_offset(max(delays_s)) if delays_s else None,
        "median_delay_intervals": round(statistics.median(delays), 2) if delays else None,
        "worst_delay_intervals": round(max(delays), 2) if delays else None,
        "services_precision": sum(s.precision_hits for s in scores) / p_tot if p_tot else None,
        "services_recall": sum(s.recall_hits for s in scores) / r_tot if r_tot else None,
        "false_incidents": sum(len(s.false_incidents) for s in scores),
    }


def calibration_table(
    samples: Iterable[tuple[float, bool]], bins: Sequence[float] = CALIBRATION_BINS
) -> list[dict[str, Any]]:
    """Rows (low, high, count, right, fraction right) per confidence bin."""
    rows: list[dict[str, Any]] = []
    items = list(samples)
    for lo, hi in itertools.pairwise(bins):
        inside = [right for conf, right in items if lo <= conf < hi]
        rows.append(
            {
                "low": lo,
                "high": min(hi, 1.0),
                "count": len(inside),
                "right": sum(inside),
                "fraction_right": sum(inside) / len(inside) if inside else None,
            }
        )
    return rows


def describe_expectation(e: dict[str, Any], *, markdown: bool = False) -> str:
    """One expectation of a `run_report` score in words: what was expected, and whether
    and how soon it was detected, with the cause right or wrong (names in code spans
    when `markdown`)."""

    def name(text: str) -> str:
        return f"`{text}`" if markdown else text

    head = f"expected {name(e['cause'])} on {', '.join(e['services'])} from t={e['start']:g}s: "
    if not e["detected"]:
        return head + "missed"
    verdict = "right" if e["cause_right"] else f"wrong ({name(e['reported_cause'])})"
    return head + (
        f"detected after {e['delay_s']:.1f}s ({e['delay_intervals']:.1f} intervals), "
        f"cause {verdict} at {e['confidence']:.2f}, services recall {e['services_recall']:.0%}"
    )


def summary_lines(doc: dict[str, Any]) -> list[str]:
    """The score of a `run_report` document in a few lines of text (a headline first)."""
    sc = doc["score"]
    lines = [f"{doc['scenario']}: {doc['measurements']} measurements, "
             f"{len(doc['incidents'])} incident(s) reported"]  # fmt: skip
    lines += ["  " + describe_expectation(e) for e in sc["expectations"]]
    if sc["services_precision"] is not None:
        lines.append(f"  services precision {sc['services_precision']:.0%}")
    lines.append(f"  false incidents: {len(sc['false_incidents'])}")
    return lines

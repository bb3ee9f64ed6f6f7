"""Scores in figures and words: totals over runs, calibration, and a run's score as text."""

from __future__ import annotations

import itertools
import statistics
from collections.abc import Callable, Iterable, Sequence
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
    shares = [x for s in scores for x in s.right_shares]
    wrong = [w for s in scores if (w := s.worst_wrong[0]) is not None]
    wrong_provisional = [w for s in scores if (w := s.worst_wrong[1]) is not None]
    allowed = [w for s in scores if (w := s.worst_wrong_allowed[0]) is not None]
    allowed_provisional = [w for s in scores if (w := s.worst_wrong_allowed[1]) is not None]
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
        "causes_right_at_confirmation": sum(s.first_right for s in scores),
        "right_cause_share": round(statistics.mean(shares), 4) if shares else None,
        "cause_flips": sum(s.cause_flips for s in scores),
        "worst_wrong_confidence": max(wrong, default=None),
        "worst_wrong_confidence_provisional": max(wrong_provisional, default=None),
        "worst_wrong_confidence_with_allowance": max(allowed, default=None),
        "worst_wrong_confidence_provisional_with_allowance": max(allowed_provisional, default=None),
        "merged_incidents": sum(len(s.merged) for s in scores),
        "mode_changes": sum(len(s.mode_changes) for s in scores),
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
    and how soon it was detected, with the cause right or wrong, then what a user saw
    (the first alert's cause, the share of the time with the right cause, flips, the
    surest wrong cause strictly and with the allowance for a change of mode, merges and
    changes of mode) (names in code spans when `markdown`)."""

    def name(text: str) -> str:
        return f"`{text}`" if markdown else text

    head = f"expected {name(e['cause'])} on {', '.join(e['services'])} from t={e['start']:g}s: "
    if not e["detected"]:
        return head + "missed"
    verdict = "right" if e["cause_right"] else f"wrong ({name(e['reported_cause'])})"
    text = head + (
        f"detected after {e['delay_s']:.1f}s ({e['delay_intervals']:.1f} intervals), "
        f"cause {verdict} at {e['confidence']:.2f}, services recall {e['services_recall']:.0%}"
    )
    seen = _seen(e, name)
    return "; ".join([text, *seen])


def _seen(e: dict[str, Any], name: Callable[[str], str]) -> list[str]:
    """What a user saw of one detected expectation, in words (newer keys optional)."""
    parts: list[str] = []
    first = e.get("cause_at_confirmation")
    if first is not None:
        said = "right" if e.get("cause_at_confirmation_right") else f"wrong ({name(first)})"
        parts.append(f"first alert {said}")
    share = e.get("right_cause_share")
    if share is not None:
        parts.append(f"right cause {share:.0%} of the time")
    if "cause_flips" in e:
        parts.append(f"{e['cause_flips']} flip(s)")
    wrong = e.get("worst_wrong_confidence")
    if wrong is not None:
        parts.append(f"wrong cause confirmed at up to {wrong:.2f}")
    wrong_p = e.get("worst_wrong_confidence_provisional")
    if wrong_p is not None:
        parts.append(f"wrong cause provisional at up to {wrong_p:.2f}")
    if e.get("mode_change_with"):
        parts.append(_with_allowance(e))
    if e.get("merged_with"):
        parts.append("merged with " + ", ".join(f"#{i}" for i in e["merged_with"]))
    if e.get("mode_change_with"):
        which = ", ".join(f"#{i}" for i in e["mode_change_with"])
        parts.append(f"changes mode with {which} (one incident followed it)")
    return parts


def _with_allowance(e: dict[str, Any]) -> str:
    """The worst wrong confidences of a change of mode with the allowance, in words."""
    said = [
        f"{how} at up to {value:.2f}"
        for how, key in (
            ("confirmed", "worst_wrong_confidence_with_allowance"),
            ("provisional", "worst_wrong_confidence_provisional_with_allowance"),
        )
        if (value := e.get(key)) is not None
    ]
    return "with the allowance for a change of mode: " + (
        "wrong cause " + ", ".join(said) if said else "no wrong cause"
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
    for m in sc.get("merged_incidents") or []:
        which = ", ".join(f"#{i}" for i in m["expectations"])
        lines.append(f"  incident {m['incident']} merged expectations {which}")
    for m in sc.get("mode_changes") or []:
        which = ", ".join(f"#{i}" for i in m["expectations"])
        lines.append(f"  incident {m['incident']} followed expectations {which} (change of mode)")
    if "cause_flips" in sc:
        lines.append(f"  cause flips over all incidents: {sc['cause_flips']}")
    return lines

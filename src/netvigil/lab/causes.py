"""An incident's cause as someone watching saw it: which label, when, and how sure.

The detector tells an incident's cause in two ways: its cause history (each time the
cause was set, with the confidence then) and its events (opened, confirmed, updated,
cause changed, resolved: each with the cause and confidence of that moment). Together
they are the *steps* of what was shown, a step function in time. A step is
*provisional* when the incident was not confirmed yet.

    view = watch(incidents, "shutdown", lo=40, hi=120, run_end=150)
    view.right_share, view.flips, view.worst_wrong, view.worst_wrong_provisional

An incident is visible from its opening (its confirmation, or its first bad
measurement, when the opening is not known) to its end (the run's end while open).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from netvigil.lab.reported import Reported, Shown

__all__ = ["CauseView", "cause_at", "flips_in_life", "steps", "visible_span", "watch"]


def steps(rep: Reported) -> list[Shown]:
    """What was shown of `rep`'s cause, in time order: its cause history and its events.

    An incident with neither (hand-made) shows its final cause from its start.
    """
    confirmed = rep.confirmed_at
    history = [
        Shown(t, cause, conf, confirmed is None or t < confirmed)
        for t, cause, conf in rep.cause_history
    ]
    merged = sorted(history + list(rep.shown), key=lambda s: s.at)  # stable: history first
    if not merged:
        merged = [Shown(rep.start, rep.cause, rep.confidence, confirmed is None)]
    return merged


def cause_at(rep: Reported, t: float) -> Shown:
    """The step of `rep` in effect at `t` (the first one before anything was shown)."""
    shown = steps(rep)
    current = shown[0]
    for step in shown:
        if step.at > t:
            break
        current = step
    return current


def visible_span(rep: Reported, run_end: float) -> tuple[float, float]:
    """From when to when `rep` could be seen: its opening to its end (or the run's end)."""
    start = rep.opened_at if rep.opened_at is not None else rep.detected_at
    return start, run_end if rep.end is None else rep.end


def flips_in_life(rep: Reported) -> int:
    """How often the cause shown for `rep` changed over its whole life."""
    shown = steps(rep)
    return sum(a.cause != b.cause for a, b in itertools.pairwise(shown))


@dataclass(frozen=True, slots=True)
class CauseView:
    """What incidents showed about one expected failure while it lasted."""

    right_share: float | None
    """Share of the visible time with the expected cause (None: nothing visible)."""
    flips: int
    """Changes of the shown cause within the span."""
    worst_wrong: float | None
    """Highest confidence shown for another cause once confirmed (None: never)."""
    worst_wrong_provisional: float | None
    """Highest confidence shown for another cause while provisional (None: never)."""


def _max(a: float | None, b: float) -> float:
    return b if a is None else max(a, b)


def watch(
    incidents: Sequence[Reported], cause: str, *, lo: float, hi: float, run_end: float
) -> CauseView:
    """What `incidents` showed between `lo` and `hi`, judged against the expected `cause`.

    Each incident counts from the later of `lo` and its opening to the earlier of `hi` and
    its end; the step in effect when that starts counts too. When all the visible spans
    have no length the share is judged at their moment (1.0 or 0.0).
    """
    right = total = 0.0
    flips = 0
    instant: list[bool] = []
    worst: float | None = None
    worst_provisional: float | None = None
    for rep in incidents:
        seen_from, seen_to = visible_span(rep, run_end)
        a, b = max(lo, seen_from), min(hi, seen_to)
        if b < a:
            continue
        current = cause_at(rep, a)
        in_span = [current] + [s for s in steps(rep) if a < s.at <= b]
        instant.append(current.cause == cause)
        for i, step in enumerate(in_span):
            if i and step.cause != in_span[i - 1].cause:
                flips += 1
            if step.cause != cause:
                if step.provisional:
                    worst_provisional = _max(worst_provisional, step.confidence)
                else:
                    worst = _max(worst, step.confidence)
            seg_lo = a if i == 0 else step.at
            seg_hi = in_span[i + 1].at if i + 1 < len(in_span) else b
            total += seg_hi - seg_lo
            if step.cause == cause:
                right += seg_hi - seg_lo
    if total > 0:
        share: float | None = right / total
    elif instant:
        share = sum(instant) / len(instant)
    else:
        share = None
    return CauseView(share, flips, worst, worst_provisional)

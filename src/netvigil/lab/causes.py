"""An incident's cause as someone watching saw it: which label, when, and how sure.

The detector tells an incident's cause in two ways: its cause history (each time the
cause was set, with the confidence then) and its events (opened, confirmed, updated,
cause changed, resolved: each with the cause and confidence of that moment). Together
they are the *steps* of what was shown, a step function in time. A step is
*provisional* when the incident was not confirmed yet.

    view = watch(incidents, "shutdown", lo=40, hi=120, run_end=150)
    view.right_share, view.flips, view.worst_wrong, view.worst_wrong_provisional

An `Allowance` excuses one cause on one incident for a while: shown then, it is *not
yet detected* rather than wrong (the cause of a failure's previous mode while its new
mode is being recognised, `netvigil.lab.modechange`). It is left out of the share and of
the worst wrong confidence "with allowance"; the strict worst wrong confidence keeps it.
A *handover* (an `Allowance` too) is the cause of a failure's next mode, shown once that
mode began: another expectation's to judge, left out of the share and of both worst wrong
confidences.

An incident is visible from its opening (its confirmation, or its first bad
measurement, when the opening is not known) to its end (the run's end while open).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from netvigil.lab.reported import Reported, Shown

__all__ = ["Allowance", "CauseView", "cause_at", "flips_in_life", "steps", "visible_span", "watch"]


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
    worst_wrong_allowed: float | None = None
    """`worst_wrong`, leaving out what the allowances excuse."""
    worst_wrong_provisional_allowed: float | None = None
    """`worst_wrong_provisional`, leaving out what the allowances excuse."""


@dataclass(frozen=True, slots=True)
class Allowance:
    """On incident `incident`, `cause` shown from `start` to `end` is not yet detected."""

    incident: str
    cause: str
    start: float
    end: float


def _excused(
    rep_id: str, cause: str, lo: float, hi: float, allowances: Sequence[Allowance]
) -> tuple[float, bool]:
    """How much of [lo, hi] the allowances for `cause` on incident `rep_id` cover, and
    whether they cover all of it (a segment without length: whether one holds it)."""
    windows = sorted(
        (w.start, w.end) for w in allowances if w.incident == rep_id and w.cause == cause
    )
    covered = 0.0
    reach = lo
    for w_lo, w_hi in windows:
        a, b = max(w_lo, reach), min(w_hi, hi)
        if b > a:
            covered += b - a
            reach = b
    if hi > lo:
        return covered, covered >= hi - lo
    return 0.0, any(w_lo <= lo <= w_hi for w_lo, w_hi in windows)


def _max(a: float | None, b: float) -> float:
    return b if a is None else max(a, b)


@dataclass(slots=True)
class _Tally:
    """The running sums of `watch`."""

    right: float = 0.0
    total: float = 0.0
    flips: int = 0
    worst: list[float | None] = field(default_factory=lambda: [None, None, None, None])
    """Confirmed, provisional; then both again leaving out what the allowances excuse."""

    def wrong(self, step: Shown, *, excused: bool) -> None:
        slot = 1 if step.provisional else 0
        self.worst[slot] = _max(self.worst[slot], step.confidence)
        if not excused:
            self.worst[slot + 2] = _max(self.worst[slot + 2], step.confidence)


def watch(
    incidents: Sequence[Reported],
    cause: str,
    *,
    lo: float,
    hi: float,
    run_end: float,
    allowances: Sequence[Allowance] = (),
    handovers: Sequence[Allowance] = (),
) -> CauseView:
    """What `incidents` showed between `lo` and `hi`, judged against the expected `cause`.

    Each incident counts from the later of `lo` and its opening to the earlier of `hi` and
    its end; the step in effect when that starts counts too. When all the visible spans
    have no length the share is judged at their moment (1.0 or 0.0). What `allowances`
    excuse is left out of the share (of its denominator too) and of the worst wrong
    confidences "allowed" (a step counts there when some of its time is not excused).
    What `handovers` cover is left out of the share and of both worst wrong confidences
    (a step counts there when some of its time is not handed over).
    """
    left_out = [*allowances, *handovers]
    tally = _Tally()
    instant: list[bool] = []
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
                tally.flips += 1
            seg_lo = a if i == 0 else step.at
            seg_hi = in_span[i + 1].at if i + 1 < len(in_span) else b
            covered, excused = _excused(rep.id, step.cause, seg_lo, seg_hi, left_out)
            _, handed = _excused(rep.id, step.cause, seg_lo, seg_hi, handovers)
            tally.total += seg_hi - seg_lo - covered
            if step.cause == cause:
                tally.right += seg_hi - seg_lo - covered
            elif not handed:
                tally.wrong(step, excused=excused)
    if tally.total > 0:
        share: float | None = tally.right / tally.total
    elif instant:
        share = sum(instant) / len(instant)
    else:
        share = None
    strict, provisional, allowed, provisional_allowed = tally.worst
    return CauseView(share, tally.flips, strict, provisional, allowed, provisional_allowed)

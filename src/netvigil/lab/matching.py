"""Matching what netvigil reported in a lab run against the scenario's ground truth.

The rules (also in docs/lab.md):

- Times are seconds from the scenario's start. A reported incident spans `start` (its
  first bad measurement) to `end` (the scenario's end while it is open).
- A reported incident *matches* an expected one when their services intersect and
  their times overlap, the expectation's end extended by `grace_intervals` probe
  intervals (a probe in flight when the fault ends may still fail). An expected
  `vantage_problem` matches an incident that blames one of its vantages, or one that
  names a common service and is seen from its vantages only; an incident that blames a
  vantage some expected vantage problem names matches only that expectation (so an
  outage elsewhere while a vantage is dead is not counted as the same failure).
- An expectation is *detected* when some incident matches it. Its *delay* is the time the
  earliest matching incident was confirmed (or opened, if never confirmed) minus the
  fault's start. An incident already open when the fault starts (say a flood that turns
  into a shutdown) detects it when its cause first becomes the expected one after the
  start, or at once if it already was.
- The *reported cause* for an expectation is the cause that the matching incident with
  the longest overlap held for most of that overlap (from its cause history and
  events), so one incident whose cause changes as the fault changes can be right
  twice; its confidence is the last one shown for that cause in the overlap.
- Affected services: recall per expectation (expected services that some matching
  incident names), precision per reported incident (named services that some
  expectation it matches names). Totals are summed over services, not averaged.
- An incident matching no expectation is a *false incident*; in a run whose ground
  truth is `incident = false` every incident is false. `latency_spike` faults expect no
  incident, so nothing matches an incident they cause.
- Calibration: each expectation's reported cause with its confidence (right or wrong),
  and each false incident's cause with its confidence (wrong by definition).

What a user saw (`netvigil.lab.causes`), per expectation, over its matching incidents
from the fault's start to its end plus the grace:

- *Cause at confirmation*: the cause the detecting incident showed at the moment of
  detection (the first alert: its confirmation, else its opening), with its confidence.
- *Right-cause share*: the share of the incidents' visible time with the expected cause.
- *Cause flips*: how often the shown cause changed.
- *Worst wrong confidence*: the highest confidence shown for another cause, once
  confirmed and (separately) while provisional.
- *Merged*: an incident that matches two expectations of different causes, unless
  they are one failure changing mode (`netvigil.lab.modechange`: the later names the
  earlier's services or some of them, starts before the earlier ended plus the grace,
  and the incident showed each one's cause during it): then it is a *change of mode*
  followed. Each expectation names the others it was merged with, and those it changes
  mode from or to.
- *Not yet detected*: for the later expectation of a change of mode, the earlier one's
  cause shown on that incident during the first `allowance_intervals` probe intervals
  after the later one's start (`DETECTION_ALLOWANCE_INTERVALS`, the worst detection
  delay allowed) is left out of the right-cause share and of the worst wrong confidence
  *with allowance*; the strict worst wrong confidence keeps it, and the delay still runs
  from the expectation's start.
- *Handed over*: for the earlier expectation of a change of mode, the later one's cause
  shown on that incident from the later one's start to the end of the earlier one's
  grace is the later one's to judge: left out of the earlier one's right-cause share and
  of both its worst wrong confidences (the grace is for a failure that ends, not one that
  goes on in another mode).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from netvigil.cause import Cause
from netvigil.lab.causes import Allowance, CauseView, cause_at, flips_in_life, steps, watch
from netvigil.lab.modechange import ExpectedSpan, changes_of_mode
from netvigil.lab.reported import Reported, round_offset
from netvigil.lab.scenario import Expectation, Scenario

__all__ = [
    "DETECTION_ALLOWANCE_INTERVALS",
    "ExpectationScore",
    "ScenarioScore",
    "score_scenario",
]

DETECTION_ALLOWANCE_INTERVALS = 4.0
"""Probe intervals after a failure changes mode during which the old mode's cause still
shown is *not yet detected*, not wrong: the worst detection delay allowed."""


@dataclass(frozen=True, slots=True)
class ExpectationScore:
    """How netvigil did on one expected incident."""

    index: int
    cause: str
    services: list[str]
    start: float
    end: float
    detected: bool
    incidents: list[str]
    delay_s: float | None
    delay_intervals: float | None
    reported_cause: str | None
    confidence: float | None
    cause_right: bool
    services_found: list[str]
    recall: float
    first_cause: str | None = None
    """The cause shown when the failure was detected (the first alert)."""
    first_confidence: float | None = None
    first_provisional: bool = False
    right_share: float | None = None
    cause_flips: int = 0
    worst_wrong_confidence: float | None = None
    worst_wrong_provisional: float | None = None
    merged_with: list[int] = field(default_factory=list)
    """Expectations of another cause merged with this one in an incident."""
    mode_change_with: list[int] = field(default_factory=list)
    """Expectations of another cause this one's failure changes mode from or to, in an
    incident that followed the change (not merged)."""
    worst_wrong_allowed: float | None = None
    """`worst_wrong_confidence` without the previous mode's cause while not yet detected."""
    worst_wrong_provisional_allowed: float | None = None
    """`worst_wrong_provisional` without the previous mode's cause while not yet detected."""

    @property
    def first_right(self) -> bool:
        """Whether the first alert named the expected cause."""
        return self.first_cause == self.cause

    def to_json(self) -> dict[str, Any]:
        """The JSON object form."""
        return {
            "index": self.index,
            "cause": self.cause,
            "services": self.services,
            "start": self.start,
            "end": self.end,
            "detected": self.detected,
            "incidents": self.incidents,
            "delay_s": round_offset(self.delay_s),
            "delay_intervals": None
            if self.delay_intervals is None
            else round(self.delay_intervals, 2),
            "reported_cause": self.reported_cause,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "cause_right": self.cause_right,
            "services_found": self.services_found,
            "services_recall": round(self.recall, 4),
            "cause_at_confirmation": self.first_cause,
            "confidence_at_confirmation": _round4(self.first_confidence),
            "provisional_at_confirmation": self.first_provisional,
            "cause_at_confirmation_right": self.first_right,
            "right_cause_share": _round4(self.right_share),
            "cause_flips": self.cause_flips,
            "worst_wrong_confidence": _round4(self.worst_wrong_confidence),
            "worst_wrong_confidence_provisional": _round4(self.worst_wrong_provisional),
            "worst_wrong_confidence_with_allowance": _round4(self.worst_wrong_allowed),
            "worst_wrong_confidence_provisional_with_allowance": _round4(
                self.worst_wrong_provisional_allowed
            ),
            "merged_with": self.merged_with,
            "mode_change_with": self.mode_change_with,
        }


def _round4(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _highest(values: Sequence[float | None]) -> float | None:
    return max((v for v in values if v is not None), default=None)


@dataclass(slots=True)
class ScenarioScore:
    """The score of one scenario run."""

    scenario: str
    probe_interval_s: float
    expectations: list[ExpectationScore] = field(default_factory=list)
    false_incidents: list[str] = field(default_factory=list)
    precision_hits: int = 0
    """Named services of matching incidents that an expectation they match names."""
    precision_total: int = 0
    recall_hits: int = 0
    recall_total: int = 0
    calibration: list[tuple[float, bool]] = field(default_factory=list)
    """(confidence, cause right) per expectation detected and per false incident."""
    merged: list[tuple[str, list[int]]] = field(default_factory=list)
    """Incidents that merge expectations of different causes, with their expectations."""
    mode_changes: list[tuple[str, list[int]]] = field(default_factory=list)
    """Incidents that followed one failure changing mode, with their expectations."""
    cause_flips: int = 0
    """Changes of the shown cause, summed over every reported incident's life."""

    @property
    def expected(self) -> int:
        return len(self.expectations)

    @property
    def detected(self) -> int:
        return sum(e.detected for e in self.expectations)

    @property
    def causes_right(self) -> int:
        return sum(e.cause_right for e in self.expectations)

    @property
    def first_right(self) -> int:
        """Expectations whose first alert named the expected cause."""
        return sum(e.first_right for e in self.expectations)

    @property
    def right_shares(self) -> list[float]:
        return [e.right_share for e in self.expectations if e.right_share is not None]

    @property
    def worst_wrong(self) -> tuple[float | None, float | None]:
        """The highest confidence shown for a wrong cause: once confirmed, while provisional."""
        conf = [e.worst_wrong_confidence for e in self.expectations]
        prov = [e.worst_wrong_provisional for e in self.expectations]
        return _highest(conf), _highest(prov)

    @property
    def worst_wrong_allowed(self) -> tuple[float | None, float | None]:
        """`worst_wrong` without the previous mode's cause while not yet detected."""
        conf = [e.worst_wrong_allowed for e in self.expectations]
        prov = [e.worst_wrong_provisional_allowed for e in self.expectations]
        return _highest(conf), _highest(prov)

    @property
    def delays_s(self) -> list[float]:
        return [e.delay_s for e in self.expectations if e.delay_s is not None]

    @property
    def precision(self) -> float | None:
        return self.precision_hits / self.precision_total if self.precision_total else None

    @property
    def recall(self) -> float | None:
        return self.recall_hits / self.recall_total if self.recall_total else None

    def misses(self, *, max_delay_intervals: float = 2.0, target: float = 0.95) -> list[str]:
        """What this run falls short of: the targets in docs/accuracy.md, in words."""
        out: list[str] = []
        for e in self.expectations:
            what = f"{e.cause} on {', '.join(e.services)}"
            if not e.detected:
                out.append(f"missed {what}")
                continue
            if e.delay_intervals is not None and e.delay_intervals > max_delay_intervals:
                out.append(f"{what} detected after {e.delay_intervals:.2f} intervals")
            if not e.cause_right:
                out.append(f"{what} reported as {e.reported_cause}")
            if not e.first_right:
                out.append(f"{what}: first alert said {e.first_cause}")
            if e.merged_with:
                others = ", ".join(f"#{i}" for i in e.merged_with)
                out.append(f"{what} merged with expectation {others}")
        if self.precision is not None and self.precision < target:
            out.append(f"services precision {self.precision:.0%}")
        if self.recall is not None and self.recall < target:
            out.append(f"services recall {self.recall:.0%}")
        if self.false_incidents:
            out.append(f"{len(self.false_incidents)} false incident(s)")
        return out

    def to_json(self) -> dict[str, Any]:
        """The JSON object form."""
        delays = self.delays_s
        shares = self.right_shares
        return {
            "scenario": self.scenario,
            "expected": self.expected,
            "detected": self.detected,
            "causes_right": self.causes_right,
            "median_delay_s": round_offset(statistics.median(delays)) if delays else None,
            "worst_delay_s": round_offset(max(delays)) if delays else None,
            "median_delay_intervals": round(statistics.median(delays) / self.probe_interval_s, 2)
            if delays
            else None,
            "services_precision": None if self.precision is None else round(self.precision, 4),
            "services_recall": None if self.recall is None else round(self.recall, 4),
            "false_incidents": self.false_incidents,
            "causes_right_at_confirmation": self.first_right,
            "right_cause_share": _round4(statistics.mean(shares)) if shares else None,
            "cause_flips": self.cause_flips,
            "worst_wrong_confidence": _round4(self.worst_wrong[0]),
            "worst_wrong_confidence_provisional": _round4(self.worst_wrong[1]),
            "worst_wrong_confidence_with_allowance": _round4(self.worst_wrong_allowed[0]),
            "worst_wrong_confidence_provisional_with_allowance": _round4(
                self.worst_wrong_allowed[1]
            ),
            "merged_incidents": [{"incident": i, "expectations": x} for i, x in self.merged],
            "mode_changes": [{"incident": i, "expectations": x} for i, x in self.mode_changes],
            "expectations": [e.to_json() for e in self.expectations],
            "misses": self.misses(),
        }


def _matches(
    rep: Reported,
    exp: Expectation,
    *,
    end: float,
    duration_s: float,
    grace_s: float,
    dead: frozenset[str] = frozenset(),
) -> bool:
    """Whether `rep` is about `exp` (the rules in the module's docstring).

    `dead` are the vantages that expected vantage problems name: an incident blaming one
    of them is about that vantage, and an expected vantage problem is about incidents
    blaming its vantage or seen from its vantages only.
    """
    assert exp.start is not None
    rep_end = duration_s if rep.end is None else rep.end
    if rep.start > end + grace_s or rep_end < exp.start:
        return False
    if exp.cause is Cause.VANTAGE_PROBLEM:
        if rep.vantage is not None:
            return rep.vantage in exp.vantages
        only_there = bool(rep.vantages) and set(rep.vantages) <= set(exp.vantages)
        return only_there and bool(set(rep.services) & set(exp.services))
    if rep.vantage is not None and rep.vantage in dead:
        return False
    return bool(set(rep.services) & set(exp.services))


def _held_cause(rep: Reported, lo: float, hi: float) -> tuple[str, float]:
    """The cause `rep` held for most of [lo, hi], with its last confidence in the span.

    What was shown (`causes.steps`: the cause history and the events, which also carry
    the confidence once the incident is confirmed) is a step function; the first cause
    also covers the time before it was first judged. A zero-length span takes the cause
    in effect at `lo`.
    """
    history = [(s.at, s.cause, s.confidence) for s in steps(rep)]
    spans: dict[str, float] = {}
    confidence: dict[str, float] = {}
    current = history[0]
    for i, (t, cause, conf) in enumerate(history):
        seg_lo = float("-inf") if i == 0 else t
        seg_hi = history[i + 1][0] if i + 1 < len(history) else float("inf")
        if seg_lo <= lo:
            current = (t, cause, conf)
        length = min(seg_hi, hi) - max(seg_lo, lo)
        if length > 0:
            spans[cause] = spans.get(cause, 0.0) + length
            confidence[cause] = conf
    if not spans:
        return current[1], current[2]
    cause = max(spans, key=lambda c: spans[c])
    return cause, confidence[cause]


def _overlap(rep: Reported, lo: float, hi: float, duration_s: float) -> float:
    rep_end = duration_s if rep.end is None else rep.end
    return min(rep_end, hi) - max(rep.start, lo)


def _delay(rep: Reported, exp: Expectation) -> float:
    assert exp.start is not None and exp.cause is not None
    if rep.detected_at >= exp.start:
        return rep.detected_at - exp.start
    for t, cause, _ in rep.cause_history:
        if t >= exp.start and cause == exp.cause.value:
            return t - exp.start
    return 0.0


def _judge(
    index: int,
    exp: Expectation,
    hits: list[Reported],
    *,
    end: float,
    interval: float,
    grace_s: float,
    duration_s: float,
    merged_with: list[int],
    mode_change_with: list[int],
    allowances: list[Allowance],
    handovers: list[Allowance],
) -> ExpectationScore:
    """One expectation's score from the incidents that match it."""
    assert exp.start is not None and exp.cause is not None
    expected = exp.cause.value
    found = sorted({s for r in hits for s in r.services} & set(exp.services))
    delay: float | None = None
    cause: str | None = None
    confidence: float | None = None
    view = CauseView(None, 0, None, None)
    first = None
    if hits:
        detecting = min(hits, key=lambda r: _delay(r, exp))
        delay = _delay(detecting, exp)
        first = cause_at(detecting, exp.start + delay)
        primary = max(hits, key=lambda r: _overlap(r, exp.start or 0.0, end, duration_s))
        lo = max(primary.start, exp.start)
        hi = max(min(duration_s if primary.end is None else primary.end, end), lo)
        cause, confidence = _held_cause(primary, lo, hi)
        view = watch(
            hits,
            expected,
            lo=exp.start,
            hi=end + grace_s,
            run_end=duration_s,
            allowances=allowances,
            handovers=handovers,
        )
    return ExpectationScore(
        index=index,
        cause=expected,
        services=list(exp.services),
        start=exp.start,
        end=end,
        detected=bool(hits),
        incidents=[r.id for r in hits],
        delay_s=delay,
        delay_intervals=None if delay is None else delay / interval,
        reported_cause=cause,
        confidence=confidence,
        cause_right=cause == expected,
        services_found=found,
        recall=len(found) / len(exp.services) if exp.services else 1.0,
        first_cause=None if first is None else first.cause,
        first_confidence=None if first is None else first.confidence,
        first_provisional=first is not None and first.provisional,
        right_share=view.right_share,
        cause_flips=view.flips,
        worst_wrong_confidence=view.worst_wrong,
        worst_wrong_provisional=view.worst_wrong_provisional,
        merged_with=merged_with,
        mode_change_with=mode_change_with,
        worst_wrong_allowed=view.worst_wrong_allowed,
        worst_wrong_provisional_allowed=view.worst_wrong_provisional_allowed,
    )


def score_scenario(
    scenario: Scenario,
    reported: Sequence[Reported],
    *,
    grace_intervals: float = 2.0,
    allowance_intervals: float = DETECTION_ALLOWANCE_INTERVALS,
) -> ScenarioScore:
    """Score what netvigil reported in a run of `scenario` against its `[[expect]]`s."""
    interval = scenario.probe_interval_s
    grace_s = grace_intervals * interval
    duration = scenario.duration_s
    score = ScenarioScore(scenario=scenario.name, probe_interval_s=interval)
    expected = {i: e for i, e in enumerate(scenario.expect) if e.incident}
    ends = {i: duration if e.end is None else e.end for i, e in expected.items()}
    dead = frozenset(
        v for e in expected.values() if e.cause is Cause.VANTAGE_PROBLEM for v in e.vantages
    )
    hits = {
        i: [
            r
            for r in reported
            if _matches(r, e, end=ends[i], duration_s=duration, grace_s=grace_s, dead=dead)
        ]
        for i, e in expected.items()
    }
    spans = {
        i: ExpectedSpan(e.cause.value, frozenset(e.services), e.start, ends[i])
        for i, e in expected.items()
        if e.cause is not None and e.start is not None
    }
    modes = changes_of_mode(
        {i: h for i, h in hits.items() if i in spans},
        spans,
        grace_s=grace_s,
        allowance_s=allowance_intervals * interval,
    )
    score.merged = modes.merged
    score.mode_changes = modes.mode_changes
    for index, exp in expected.items():
        e = _judge(
            index,
            exp,
            hits[index],
            end=ends[index],
            interval=interval,
            grace_s=grace_s,
            duration_s=duration,
            merged_with=modes.merged_with.get(index, []),
            mode_change_with=modes.mode_change_with.get(index, []),
            allowances=modes.allowances.get(index, []),
            handovers=modes.handovers.get(index, []),
        )
        score.expectations.append(e)
        score.recall_hits += len(e.services_found)
        score.recall_total += len(exp.services)
        if e.detected and e.confidence is not None:
            score.calibration.append((e.confidence, e.cause_right))
    matched: dict[str, list[Expectation]] = {r.id: [] for r in reported}
    for i, reps in hits.items():
        for r in reps:
            matched[r.id].append(expected[i])
    for r in reported:
        score.cause_flips += flips_in_life(r)
        exps = matched[r.id]
        if not exps:
            score.false_incidents.append(r.id)
            score.calibration.append((r.confidence, False))
            continue
        named = {s for e in exps for s in e.services}
        score.precision_hits += len(set(r.services) & named)
        score.precision_total += len(r.services)
    return score

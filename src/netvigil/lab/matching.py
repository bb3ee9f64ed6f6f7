"""Matching what netvigil reported in a lab run against the scenario's ground truth.

The rules (also in docs/lab.md):

- Times are seconds from the scenario's start. A reported incident spans `start` (its
  first bad measurement) to `end` (the scenario's end while it is open).
- A reported incident *matches* an expected one when their services intersect (or, for
  an expected `vantage_problem`, the incident blames one of the expected vantages) and
  their times overlap, the expectation's end extended by `grace_intervals` probe
  intervals (a probe in flight when the fault ends may still fail).
- An expectation is *detected* when some incident matches it. Its *delay* is the time the
  earliest matching incident was confirmed (or opened, if never confirmed) minus the
  fault's start. An incident already open when the fault starts (say a flood that turns
  into a shutdown) detects it when its cause first becomes the expected one after the
  start, or at once if it already was.
- The *reported cause* for an expectation is the cause that the matching incident with
  the longest overlap held for most of that overlap (from its cause history), so one
  incident whose cause changes as the fault changes can be right twice.
- Affected services: recall per expectation (expected services that some matching
  incident names), precision per reported incident (named services that some
  expectation it matches names). Totals are summed over services, not averaged.
- An incident matching no expectation is a *false incident*; in a run whose ground
  truth is `incident = false` every incident is false. `latency_spike` faults expect no
  incident, so nothing matches an incident they cause.
- Calibration: each expectation's reported cause with its confidence (right or wrong),
  and each false incident's cause with its confidence (wrong by definition).
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from netvigil.cause import Cause
from netvigil.lab.reported import Reported, round_offset
from netvigil.lab.scenario import Expectation, Scenario

__all__ = ["ExpectationScore", "ScenarioScore", "score_scenario"]


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
        }


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
            "expectations": [e.to_json() for e in self.expectations],
            "misses": self.misses(),
        }


def _matches(
    rep: Reported, exp: Expectation, *, end: float, duration_s: float, grace_s: float
) -> bool:
    assert exp.start is not None
    rep_end = duration_s if rep.end is None else rep.end
    if rep.start > end + grace_s or rep_end < exp.start:
        return False
    if set(rep.services) & set(exp.services):
        return True
    return exp.cause is Cause.VANTAGE_PROBLEM and rep.vantage in exp.vantages


def _held_cause(rep: Reported, lo: float, hi: float) -> tuple[str, float]:
    """The cause `rep` held for most of [lo, hi], with its last confidence in the span.

    The cause history is a step function; the first cause also covers the time before
    it was first judged. A zero-length span takes the cause in effect at `lo`.
    """
    history = rep.cause_history or [(rep.start, rep.cause, rep.confidence)]
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


def score_scenario(
    scenario: Scenario,
    reported: Sequence[Reported],
    *,
    grace_intervals: float = 2.0,
) -> ScenarioScore:
    """Score what netvigil reported in a run of `scenario` against its `[[expect]]`s."""
    interval = scenario.probe_interval_s
    grace_s = grace_intervals * interval
    score = ScenarioScore(scenario=scenario.name, probe_interval_s=interval)
    expected = [(i, e) for i, e in enumerate(scenario.expect) if e.incident]
    matched: dict[str, list[Expectation]] = {r.id: [] for r in reported}
    for index, exp in expected:
        assert exp.start is not None and exp.cause is not None
        end = scenario.duration_s if exp.end is None else exp.end
        hits = [
            r
            for r in reported
            if _matches(r, exp, end=end, duration_s=scenario.duration_s, grace_s=grace_s)
        ]
        for r in hits:
            matched[r.id].append(exp)
        found = sorted({s for r in hits for s in r.services} & set(exp.services))
        score.recall_hits += len(found)
        score.recall_total += len(exp.services)
        delay: float | None = None
        cause: str | None = None
        confidence: float | None = None
        if hits:
            delay = min(_delay(r, exp) for r in hits)

            primary = max(
                hits, key=lambda r: _overlap(r, exp.start or 0.0, end, scenario.duration_s)
            )
            lo = max(primary.start, exp.start)
            hi = max(min(scenario.duration_s if primary.end is None else primary.end, end), lo)
            cause, confidence = _held_cause(primary, lo, hi)
            score.calibration.append((confidence, cause == exp.cause.value))
        score.expectations.append(
            ExpectationScore(
                index=index,
                cause=exp.cause.value,
                services=list(exp.services),
                start=exp.start,
                end=end,
                detected=bool(hits),
                incidents=[r.id for r in hits],
                delay_s=delay,
                delay_intervals=None if delay is None else delay / interval,
                reported_cause=cause,
                confidence=confidence,
                cause_right=cause == exp.cause.value,
                services_found=found,
                recall=len(found) / len(exp.services) if exp.services else 1.0,
            )
        )
    for r in reported:
        exps = matched[r.id]
        if not exps:
            score.false_incidents.append(r.id)
            score.calibration.append((r.confidence, False))
            continue
        named = {s for e in exps for s in e.services}
        score.precision_hits += len(set(r.services) & named)
        score.precision_total += len(r.services)
    return score

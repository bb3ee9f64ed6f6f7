"""Scenario scoring: what netvigil reported in a lab run, set against the scenario's ground truth.

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

import itertools
import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from netvigil.cause import Cause, Evidence
from netvigil.config.model import Config
from netvigil.detect.detector import Detector, DetectorSettings
from netvigil.errors import LabError
from netvigil.incident import EventKind, Incident
from netvigil.lab.config import detector_config
from netvigil.lab.scenario import Expectation, Scenario, load_scenario, topology_for
from netvigil.lab.topology import Topology, load_topology
from netvigil.model import Measurement, measurement_list_adapter

__all__ = [
    "CALIBRATION_BINS",
    "ExpectationScore",
    "Reported",
    "SavedRun",
    "ScenarioScore",
    "calibration_table",
    "describe_expectation",
    "detect",
    "load_saved_run",
    "reported_from_incidents",
    "run_report",
    "score_scenario",
    "summarize_scores",
    "top_evidence",
]

CALIBRATION_BINS: tuple[float, ...] = (0.0, 0.5, 0.7, 0.8, 0.9, 0.95, 1.0000001)
"""Edges of the confidence bins of the calibration table (last bin includes 1.0)."""


@dataclass(frozen=True, slots=True)
class Reported:
    """One incident netvigil reported, with times as seconds from the scenario's start."""

    id: str
    cause: str
    confidence: float
    services: list[str]
    vantages: list[str]
    vantage: str | None
    start: float
    end: float | None
    confirmed_at: float | None
    opened_at: float | None
    state: str
    cause_history: list[tuple[float, str, float]]
    """(offset, cause, confidence) in order."""
    evidence: list[str]

    @property
    def detected_at(self) -> float:
        """When netvigil said so: confirmation, else opening, else the first bad probe."""
        for t in (self.confirmed_at, self.opened_at):
            if t is not None:
                return t
        return self.start

    def to_json(self) -> dict[str, Any]:
        """The JSON object form (offsets rounded to milliseconds)."""
        return {
            "id": self.id,
            "cause": self.cause,
            "confidence": round(self.confidence, 4),
            "services": self.services,
            "vantages": self.vantages,
            "vantage": self.vantage,
            "start": _r(self.start),
            "end": _r(self.end),
            "confirmed_at": _r(self.confirmed_at),
            "opened_at": _r(self.opened_at),
            "state": self.state,
            "cause_history": [
                {"at": _r(t), "cause": c, "confidence": round(p, 4)}
                for t, c, p in self.cause_history
            ],
            "evidence": self.evidence,
        }


def _r(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def top_evidence(inc: Incident) -> list[Evidence]:
    """An incident's evidence, what speaks for its cause first (strongest first)."""

    def rank(e: Evidence) -> tuple[int, float]:
        return (0 if e.cause is inc.cause and e.weight > 0 else 1, -abs(e.weight))

    return sorted(inc.evidence, key=rank)


def reported_from_incidents(
    incidents: Iterable[Incident],
    *,
    started: float,
    opened: dict[str, float] | None = None,
    evidence_lines: int = 5,
) -> list[Reported]:
    """Turn detector incidents into `Reported` with offsets from `started`."""
    opened = opened or {}
    out: list[Reported] = []
    for inc in incidents:
        ranked = top_evidence(inc)
        out.append(
            Reported(
                id=inc.id,
                cause=inc.cause.value,
                confidence=inc.confidence,
                services=sorted(inc.services),
                vantages=sorted(inc.vantages),
                vantage=inc.vantage,
                start=inc.start - started,
                end=None if inc.end is None else inc.end - started,
                confirmed_at=None if inc.confirmed_at is None else inc.confirmed_at - started,
                opened_at=opened[inc.id] - started if inc.id in opened else None,
                state=inc.state.value,
                cause_history=[
                    (c.ts - started, c.cause.value, c.confidence) for c in inc.cause_history
                ],
                evidence=[e.statement for e in ranked[:evidence_lines]],
            )
        )
    return out


def detect(
    measurements: Iterable[Measurement],
    config: Config,
    *,
    started: float,
    lateness_s: float = 30.0,
    settings: DetectorSettings | None = None,
) -> list[Reported]:
    """Run the live detector over recorded measurements (as `netvigil.replay` does) and
    return its incidents, with when each was opened."""
    detector = Detector(config, lateness_s=lateness_s, settings=settings)
    opened: dict[str, float] = {}
    for m in sorted(measurements, key=lambda m: (m.ts, m.id)):
        for ev in detector.feed(m):
            if ev.kind is EventKind.OPENED:
                opened.setdefault(ev.incident.id, ev.ts)
    for ev in detector.flush():
        if ev.kind is EventKind.OPENED:
            opened.setdefault(ev.incident.id, ev.ts)
    return reported_from_incidents(detector.incidents(), started=started, opened=opened)


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
            "delay_s": _r(self.delay_s),
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
            "median_delay_s": _r(statistics.median(delays)) if delays else None,
            "worst_delay_s": _r(max(delays)) if delays else None,
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
        "median_delay_s": _r(statistics.median(delays_s)) if delays_s else None,
        "worst_delay_s": _r(max(delays_s)) if delays_s else None,
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


def run_report(
    scenario: Scenario,
    topology: Topology,
    *,
    started: float,
    measurements: Sequence[Measurement],
    windows: list[dict[str, Any]] | None = None,
    settings: DetectorSettings | None = None,
) -> tuple[dict[str, Any], ScenarioScore]:
    """Replay a run's measurements through the detector and score it.

    Returns the JSON document `netvigil lab run --json` writes (what netvigil reported,
    the ground truth, the score, the outcome counts per window) and the score.
    """
    config = detector_config(
        topology, interval_s=scenario.probe_interval_s, timeout_s=scenario.probe_timeout_s
    )
    reported = detect(measurements, config, started=started, settings=settings)
    score = score_scenario(scenario, reported)
    doc: dict[str, Any] = {
        "scenario": scenario.name,
        "description": scenario.description,
        "started": started,
        "duration_s": scenario.duration_s,
        "probe_interval_s": scenario.probe_interval_s,
        "measurements": len(measurements),
        "faults": [f.model_dump(mode="json") for f in scenario.fault],
        "incidents": [r.to_json() for r in reported],
        "expected": [
            {"index": i, **e.model_dump(mode="json")} for i, e in enumerate(scenario.expect)
        ],
        "score": score.to_json(),
        "windows": windows or [],
    }
    return doc, score


@dataclass(frozen=True, slots=True)
class SavedRun:
    """A scenario run saved by `ScenarioRunner(out_dir=...)`, ready to be scored again."""

    scenario: Scenario
    topology: Topology
    started: float
    measurements: list[Measurement]
    windows: list[dict[str, Any]]


def load_saved_run(directory: Path, name: str, *, scenario_dir: Path | None = None) -> SavedRun:
    """Read `<name>.result.json` and `<name>.measurements.jsonl` from `directory`.

    The scenario and topology come from the copies saved beside them, else from
    `scenario_dir/<name>.toml` and the topology it names. Raises LabError when the run
    is incomplete, ConfigError when a scenario file is invalid.
    """
    result_path = directory / f"{name}.result.json"
    jsonl = directory / f"{name}.measurements.jsonl"
    try:
        result = json.loads(result_path.read_text(encoding="utf-8"))
        rows = [json.loads(x) for x in jsonl.read_text(encoding="utf-8").splitlines() if x]
    except (OSError, ValueError) as exc:
        raise LabError(f"{directory}: no complete saved run of {name!r}: {exc}") from exc
    saved_scenario = directory / f"{name}.scenario.json"
    scenario_file: Path | None = None
    if saved_scenario.exists():
        scenario = Scenario.model_validate_json(saved_scenario.read_text(encoding="utf-8"))
    else:
        scenario_file = (scenario_dir or Path("scenarios")) / f"{name}.toml"
        scenario = load_scenario(scenario_file)
    saved_topology = directory / f"{name}.topology.json"
    if saved_topology.exists():
        topology = Topology.model_validate_json(saved_topology.read_text(encoding="utf-8"))
    else:
        topology = load_topology(topology_for(scenario, scenario_file))
    return SavedRun(
        scenario=scenario,
        topology=topology,
        started=float(result["started"]),
        measurements=measurement_list_adapter.validate_python(rows),
        windows=list(result.get("windows") or []),
    )


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

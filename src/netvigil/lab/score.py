"""Scenario scoring: what netvigil reported in a lab run, set against the scenario's ground truth.

`run_report` replays a run's measurements through the detector (`netvigil.lab.reported`)
and scores them (`netvigil.lab.matching`, where the rules are; what a user saw of each
incident's cause over time in `netvigil.lab.causes`); `load_saved_run` reads a
run saved by `ScenarioRunner(out_dir=...)` to score it again. The figures and words of
a score are in `netvigil.lab.summary`. This module gathers the names a caller needs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netvigil.detect.detector import DetectorSettings
from netvigil.errors import LabError
from netvigil.lab.config import detector_config
from netvigil.lab.feedreplay import FeedLine, load_feed
from netvigil.lab.matching import ExpectationScore, ScenarioScore, score_scenario
from netvigil.lab.reported import Reported, Shown, detect, reported_from_incidents, top_evidence
from netvigil.lab.scenario import Scenario, load_scenario, topology_for
from netvigil.lab.summary import (
    CALIBRATION_BINS,
    calibration_table,
    describe_expectation,
    summarize_scores,
    summary_lines,
)
from netvigil.lab.topology import Topology, load_topology
from netvigil.model import Measurement, measurement_list_adapter

__all__ = [
    "CALIBRATION_BINS",
    "ExpectationScore",
    "Reported",
    "SavedRun",
    "ScenarioScore",
    "Shown",
    "calibration_table",
    "describe_expectation",
    "detect",
    "load_saved_run",
    "reported_from_incidents",
    "run_report",
    "score_scenario",
    "summarize_scores",
    "summary_lines",
    "top_evidence",
]


def run_report(
    scenario: Scenario,
    topology: Topology,
    *,
    started: float,
    measurements: Sequence[Measurement],
    windows: list[dict[str, Any]] | None = None,
    settings: DetectorSettings | None = None,
    feed: Sequence[FeedLine] | None = None,
) -> tuple[dict[str, Any], ScenarioScore]:
    """Replay a run's measurements (and, with `feed`, its recorded route collector feed
    and block rounds: `netvigil.lab.feedreplay`) through the detector and score it.

    Returns the JSON document `netvigil lab run --json` writes (what netvigil reported,
    the ground truth, the score, the outcome counts per window) and the score.
    """
    config = detector_config(
        topology,
        interval_s=scenario.probe_interval_s,
        timeout_s=scenario.probe_timeout_s,
        blocks=any(m.kind == "block" for m in measurements),
    )
    reported = detect(measurements, config, started=started, settings=settings, feed=feed)
    score = score_scenario(scenario, reported)
    doc: dict[str, Any] = {
        "scenario": scenario.name,
        "description": scenario.description,
        "started": started,
        "duration_s": scenario.duration_s,
        "probe_interval_s": scenario.probe_interval_s,
        "measurements": len(measurements),
        "network_plane": feed is not None,
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
    feed: list[FeedLine] | None = None
    """The recorded route collector feed (`<name>.feed.jsonl`), None when not recorded."""


def load_saved_run(directory: Path, name: str, *, scenario_dir: Path | None = None) -> SavedRun:
    """Read `<name>.result.json`, `<name>.measurements.jsonl` and, when there,
    `<name>.feed.jsonl` from `directory`.

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
    feed_path = directory / f"{name}.feed.jsonl"
    return SavedRun(
        scenario=scenario,
        topology=topology,
        started=float(result["started"]),
        measurements=measurement_list_adapter.validate_python(rows),
        windows=list(result.get("windows") or []),
        feed=load_feed(feed_path) if feed_path.exists() else None,
    )

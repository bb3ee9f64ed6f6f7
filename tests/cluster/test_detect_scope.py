"""A detector's detection covers only its share of the targets (and the controls), and
follows the share as detectors come and go: targets lost are forgotten, targets gained
start empty. In process, on a real SQLite store; no bus needed."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from detect.streams import SILENT, Probe, World, healthy
from netvigil.cluster import DetectionScope, owned_incident_keys
from netvigil.config.model import Config
from netvigil.model import Measurement
from netvigil.pipeline.detection import LiveDetection
from netvigil.state.health import HealthState
from netvigil.store import SQLiteStore

MEMBERS = ("east", "west")


def _config() -> Config:
    return World(interval=1.0).config()


def _stream(start: float, seconds: float, failing: Sequence[str] = ()) -> list[Measurement]:
    def behaviour(ts: float, vantage: str, target: str, rng: object) -> Probe:
        if target in failing:
            return SILENT
        return healthy(ts, vantage, target, rng)  # type: ignore[arg-type]

    return World(interval=1.0).stream(behaviour, start=start, end=start + seconds)


def _feed(detection: LiveDetection, scope: DetectionScope, ms: Sequence[Measurement]) -> None:
    """What the detector process does with a batch: only its share goes to detection."""
    for m in ms:
        if scope.owned.owns_target(m.target):
            detection.submit(m)


def _counts_match_paths(detection: LiveDetection) -> bool:
    paths = detection.state.paths
    for vantage in paths.vantages():
        records = [paths.get(t, vantage) for t in paths.targets_of(vantage)]
        states = [r.health.state for r in records if r is not None]
        counts = paths.counts[vantage]
        if counts.paths != len(states):
            return False
        if counts.bad != sum(s is not HealthState.OK for s in states):
            return False
    return True


async def test_a_share_change_rescopes_detection_to_the_new_share(tmp_path: Path) -> None:
    config = _config()
    alone = owned_incident_keys(config, (), "east")
    east = owned_incident_keys(config, MEMBERS, "east")
    controls = {t.name for t in config.targets if t.control}
    assert alone.everything and east.targets and east.targets != alone.targets
    lost = sorted(alone.targets - east.targets)
    start = time.time() - 100
    async with await SQLiteStore.open(tmp_path / "scope.db") as store:
        scope = DetectionScope(config, alone)
        detection = LiveDetection(scope.config, store, lateness_s=1.0, clock=lambda: start)
        assert scope.config is config, "alone, a detector covers the whole config"
        # The lost targets fail: their paths are down when the share moves.
        _feed(detection, scope, _stream(start, 20, failing=lost))
        detection.detector.advance(start + 30)
        assert set(detection.state.paths.targets()) == alone.targets | controls
        bad_before = {v: c.bad for v, c in detection.state.paths.counts.items()}

        assert scope.follow(detection, east)
        assert not scope.follow(detection, owned_incident_keys(config, MEMBERS, "east"))
        covered = {t.name for t in detection.detector.config.targets}
        assert covered == set(east.targets) | controls
        assert {t.name for t in detection.state.config.targets} == covered
        assert set(detection.state.paths.targets()) <= covered
        for target in lost:
            for vantage in World().vantages:
                with pytest.raises(KeyError):
                    detection.detector.evidence.history(target, vantage)
        assert _counts_match_paths(detection)
        assert all(c.bad < bad_before[v] for v, c in detection.state.paths.counts.items())

        # The other detector leaves: the lost targets come back, empty, as new ones.
        assert scope.follow(detection, alone)
        assert {t.name for t in detection.detector.config.targets} == alone.targets | controls
        assert not set(lost) & set(detection.state.paths.targets())
        regained = lost[0]
        _feed(detection, scope, _stream(start + 40, 1.0))
        detection.detector.advance(start + 60)
        [first, *_] = detection.state.paths.paths_of(regained)
        assert first.state is HealthState.OK, "no trace of the failure before it was lost"
        assert _counts_match_paths(detection)


async def test_a_vantage_incident_has_one_id_in_every_detector(tmp_path: Path) -> None:
    """Every detector judges every vantage (the controls are everyone's) but sees its own
    share of the targets: the vantage's incident is named after its controls, so the
    detector that keeps it after a hand-over continues the same incident."""
    config = _config()
    start = time.time() - 200

    def behaviour(ts: float, vantage: str, target: str, rng: object) -> Probe:
        if vantage == "de" and ts >= start + 30:
            return SILENT
        return healthy(ts, vantage, target, rng)  # type: ignore[arg-type]

    stream = World(interval=1.0).stream(behaviour, start=start, end=start + 90)
    found: dict[str, list[tuple[str, list[str]]]] = {}
    for member in MEMBERS:
        owned = owned_incident_keys(config, MEMBERS, member)
        async with await SQLiteStore.open(tmp_path / f"{member}.db") as store:
            scope = DetectionScope(config, owned)
            detection = LiveDetection(scope.config, store, lateness_s=1.0, clock=lambda: start)
            _feed(detection, scope, stream)
            detection.detector.advance(start + 95)
            found[member] = [(i.id, i.targets) for i in detection.open_incidents() if i.vantage]
    (east_id, east_targets), (west_id, west_targets) = found["east"] + found["west"]
    assert east_id == west_id
    assert set(east_targets) != set(west_targets), "each lists the targets of its share"

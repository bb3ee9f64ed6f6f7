"""LevelShiftDetector on synthetic RTT streams (4-minute samples, RIPE Atlas style)."""

from __future__ import annotations

import math
import random

from bench.detectors import LevelShiftDetector
from netvigil.detect import AnomalyDetector

STEP_S = 240.0


def rtt(levels: list[tuple[int, float]], seed: int = 1, sigma: float = 0.3) -> list[float]:
    """Concatenated segments of (length, level) with Gaussian noise."""
    rng = random.Random(seed)
    return [level + rng.gauss(0.0, sigma) for n, level in levels for _ in range(n)]


def alarms(det: LevelShiftDetector, values: list[float], threshold: float = 0.5) -> list[int]:
    return [i for i, v in enumerate(values) if det.update(i * STEP_S, v) >= threshold]


def test_implements_protocol() -> None:
    assert isinstance(LevelShiftDetector(), AnomalyDetector)


def test_each_level_change_found_within_two_samples() -> None:
    values = rtt([(300, 50.0), (200, 56.0), (200, 50.0), (300, 80.0)])
    det = LevelShiftDetector()
    got = alarms(det, values)
    assert got == [301, 501, 701]  # confirmed by the second value at the new level
    assert det.last_change == 700
    assert det.changes == 3
    assert abs(det.level() - 80.0) < 0.5


def test_spikes_are_not_changes() -> None:
    values = rtt([(1000, 50.0)], seed=2)
    for i in range(100, 1000, 97):
        values[i] += 40.0  # isolated spikes
    assert alarms(LevelShiftDetector(), values) == []


def test_pure_noise_raises_no_alarm() -> None:
    for seed in range(3):
        assert alarms(LevelShiftDetector(), rtt([(3000, 120.0)], seed=seed, sigma=2.0)) == []


def test_bigger_jump_scores_higher() -> None:
    small = LevelShiftDetector()
    big = LevelShiftDetector()
    base = rtt([(200, 50.0)], seed=4)
    for i, v in enumerate(base):
        small.update(i * STEP_S, v)
        big.update(i * STEP_S, v)
    s_small = max(small.update((200 + i) * STEP_S, 53.0) for i in range(3))
    s_big = max(big.update((200 + i) * STEP_S, 90.0) for i in range(3))
    assert 0.5 < s_small < s_big <= 1.0


def test_loss_codes_and_nan_are_skipped() -> None:
    values = rtt([(100, 50.0)], seed=5)
    det = LevelShiftDetector(negative_is_loss=True)
    alarms(det, values)
    count = det.count
    for v in (-3.0, -4.0, math.nan, math.inf):
        assert det.update(0.0, v) == 0.0
    assert det.count == count
    assert abs(det.level() - 50.0) < 0.5

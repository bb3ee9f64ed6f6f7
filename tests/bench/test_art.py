"""ARTDetector / ARTHybridDetector / FuzzyART: probation learning, shape novelty, NaN, holds."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bench.detectors import ARTDetector, ARTHybridDetector, FuzzyART
from netvigil.detect import AnomalyDetector

PROBATION = 300


def square_wave(n: int, period: int = 40) -> list[float]:
    """0 for half a period, 1 for the other half."""
    return [0.0 if (k % period) < period // 2 else 1.0 for k in range(n)]


def noisy_sine(n: int, seed: int = 7) -> list[float]:
    rng = np.random.default_rng(seed)
    return [
        10.0 + 3.0 * math.sin(2 * math.pi * k / 50) + float(rng.normal(0, 0.05)) for k in range(n)
    ]


def run(det: AnomalyDetector, values: list[float]) -> list[float]:
    return [det.update(60.0 * k, v) for k, v in enumerate(values)]


def test_fuzzy_art_learns_categories_and_scores_distance() -> None:
    art = FuzzyART(2, vigilance=0.9)
    a = np.array([0.0, 0.0, 1.0, 1.0])  # window (0, 0), complement-coded
    b = np.array([1.0, 1.0, 0.0, 0.0])  # window (1, 1)
    assert art.novelty(a) == 1.0  # nothing learnt yet
    assert art.learn(a) == 0
    assert art.learn(b) == 1  # too far from the first box to resonate
    assert art.learn(a) == 0  # resonates with its own category
    assert art.size == 2
    assert art.novelty(a) == 0.0
    mid = np.array([0.5, 0.5, 0.5, 0.5])
    assert art.novelty(mid) == pytest.approx(0.5)  # L1 distance 1.0 over 2 elements


def test_fuzzy_art_box_grows_towards_resonating_input() -> None:
    art = FuzzyART(1, vigilance=0.5)
    art.learn(np.array([0.2, 0.8]))
    art.learn(np.array([0.4, 0.6]))  # resonates (match 0.8): the box becomes [0.2, 0.4]
    assert art.size == 1
    np.testing.assert_allclose(art.weights[0], [0.2, 0.6])
    assert art.novelty(np.array([0.3, 0.7])) == 0.0


def test_probation_scores_zero_then_learnt_pattern_is_quiet() -> None:
    det = ARTDetector(probation=PROBATION)
    scores = run(det, square_wave(2000))
    assert all(s == 0.0 for s in scores[:PROBATION])
    assert det.trained
    assert max(scores[PROBATION:]) == 0.0


def test_repeating_noisy_pattern_is_not_flagged() -> None:
    scores = run(ARTDetector(probation=PROBATION), noisy_sine(3000))
    assert max(scores[PROBATION:]) < 0.05


def test_novel_shape_inside_the_range_is_flagged() -> None:
    values = square_wave(1200)
    values[1000:1040] = [0.5] * 40  # a flat middle: every value inside the learnt range
    scores = run(ARTDetector(probation=PROBATION), values)
    assert max(scores[PROBATION:1000]) == 0.0
    assert max(scores[1000:1040]) > 0.15


def test_value_outside_the_probation_range_is_flagged() -> None:
    values = noisy_sine(1200)
    values[900:910] = [40.0] * 10
    scores = run(ARTDetector(probation=PROBATION), values)
    assert max(scores[900:912]) > 0.5
    assert max(scores[PROBATION:900]) < 0.05


def test_repeated_novelty_alarms_once() -> None:
    values = square_wave(1400)
    values[1000:1400] = [0.5] * 400  # a new level that persists: alarm, then learnt
    scores = run(ARTDetector(probation=PROBATION), values)
    alarms = [k for k in range(1000, 1400) if scores[k] > 0.1]
    assert len(alarms) == 1


def test_deterministic() -> None:
    values = noisy_sine(1500)
    values[1200:1220] = [0.0] * 20
    assert run(ARTDetector(probation=PROBATION), values) == run(
        ARTDetector(probation=PROBATION), values
    )


def test_nan_and_infinity_are_skipped() -> None:
    values = noisy_sine(1500)
    values[1200:1220] = [0.0] * 20
    clean = run(ARTDetector(probation=PROBATION), values)
    det = ARTDetector(probation=PROBATION)
    dirty: list[float] = []
    for k, v in enumerate(values):
        if k % 97 == 5:
            assert det.update(0.0, math.nan) == 0.0
            assert det.update(0.0, math.inf) == 0.0
        dirty.append(det.update(60.0 * k, v))
    assert dirty == clean


def test_flat_probation_still_flags_a_change() -> None:
    values = [5.0] * 600
    values[500] = 6.0
    scores = run(ARTDetector(probation=PROBATION), values)
    assert max(scores[PROBATION:500]) == 0.0
    assert max(scores[500:510]) > 0.5


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="positive"):
        ARTDetector(probation=0)


def test_hybrid_combination_holds_after_an_alarm() -> None:
    values = noisy_sine(2000)
    values[1200:1205] = [40.0] * 5
    values[1300:1305] = [40.0] * 5  # within the hold: not reported again
    det = ARTHybridDetector(probation=PROBATION, hold_rows=0.5)
    assert isinstance(det, AnomalyDetector)
    scores = run(det, values)
    assert max(scores[1200:1210]) >= 0.5
    first = next(k for k in range(1200, 1210) if scores[k] >= 0.5)
    assert max(scores[first + 1 : first + 1 + PROBATION // 2]) == 0.0
    assert all(0.0 <= s <= 1.0 for s in scores)

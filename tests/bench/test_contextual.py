"""ContextDetector, HybridDetector and AnomalyLikelihood on synthetic streams."""

from __future__ import annotations

import math
import random

import pytest

from bench.detectors import AnomalyLikelihood, ContextDetector, HybridDetector, log_likelihood
from netvigil.detect import AnomalyDetector

STEP_S = 300.0
T0 = 1_700_000_000.0 - (1_700_000_000.0 % 86_400)


def run(det: AnomalyDetector, values: list[float], start: int = 0) -> list[float]:
    return [det.update(T0 + (start + i) * STEP_S, v) for i, v in enumerate(values)]


def sawtooth(n: int, seed: int = 1) -> list[float]:
    """A repeating 0..9 ramp with small noise: every shape recurs."""
    rng = random.Random(seed)
    return [float(i % 10) + rng.uniform(-0.05, 0.05) for i in range(n)]


@pytest.mark.parametrize("cls", [ContextDetector, HybridDetector])
def test_implements_protocol(cls: type[AnomalyDetector]) -> None:
    assert isinstance(cls(), AnomalyDetector)


def test_context_learns_a_recurring_shape() -> None:
    det = ContextDetector()
    scores = run(det, sawtooth(1000))
    assert max(scores[300:]) == 0.0  # every context seen before
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_context_flags_a_known_value_in_the_wrong_order() -> None:
    det = ContextDetector()
    values = sawtooth(1000)
    run(det, values)
    # 0..9 each already seen, but 9 right after 2 is a transition the series never made.
    odd = [0.0, 1.0, 2.0, 9.0, 4.0, 5.0]
    scores = run(det, odd, start=1000)
    assert scores[2] == 0.0
    assert scores[3] > 0.5


def test_context_spatial_anomaly_scores_one() -> None:
    det = ContextDetector()
    run(det, sawtooth(500))
    assert det.update(T0 + 500 * STEP_S, 30.0) == 1.0


def test_context_rest_period_silences_an_episode() -> None:
    det = ContextDetector(rest=5)
    run(det, sawtooth(500))
    first = det.update(T0 + 500 * STEP_S, 30.0)
    after = run(det, [40.0, 50.0, 60.0], start=501)
    assert first == 1.0
    assert after == [0.0, 0.0, 0.0]


def test_context_skips_non_finite() -> None:
    det = ContextDetector()
    run(det, sawtooth(100))
    count = det.count
    assert det.update(T0, math.nan) == 0.0
    assert det.count == count


def test_hybrid_flags_spike_once_and_stays_quiet_on_noise() -> None:
    rng = random.Random(2)
    values = [20.0 + rng.gauss(0.0, 1.0) for _ in range(3000)]
    values[2500] += 30.0
    values[2502] += 30.0
    det = HybridDetector()
    scores = run(det, values)
    quiet = max(scores[1000:2500])
    assert scores[2500] > 0.5
    assert scores[2500] > 2 * quiet
    assert scores[2502] == 0.0  # a repeat of a recent alarm is damped


def test_hybrid_is_deterministic() -> None:
    values = sawtooth(6000, seed=3)
    a = run(HybridDetector(), values)
    b = run(HybridDetector(), values)
    assert a == b


def test_log_likelihood_scale() -> None:
    assert log_likelihood(0.0) == pytest.approx(0.0, abs=1e-9)
    assert log_likelihood(1.0 - 1e-5) == pytest.approx(0.5, abs=1e-3)
    assert log_likelihood(1.0) == pytest.approx(1.0, abs=1e-6)


def test_likelihood_rises_on_a_burst_of_raw_scores() -> None:
    rng = random.Random(5)
    lik = AnomalyLikelihood(learning=100)
    quiet = [lik.update(rng.uniform(0.0, 0.2)) for _ in range(1000)]
    assert quiet[:100] == [0.0] * 100
    assert max(quiet[200:]) < 0.5
    burst = [lik.update(0.9) for _ in range(10)]
    assert burst[-1] > 0.9
    assert all(0.0 <= x <= 1.0 for x in quiet + burst)

"""BaselineDetector on synthetic streams."""

from __future__ import annotations

import math
import random

from netvigil.detect import DEFAULT_THRESHOLD, AnomalyDetector, BaselineDetector

STEP_S = 300.0  # 5-minute samples
T0 = 1_700_000_000.0 - (1_700_000_000.0 % 86_400)  # a UTC midnight


def noise_stream(n: int, seed: int = 1, level: float = 20.0, sigma: float = 1.0) -> list[float]:
    rng = random.Random(seed)
    return [level + rng.gauss(0.0, sigma) for _ in range(n)]


def run(det: BaselineDetector, values: list[float], start: int = 0) -> list[float]:
    return [det.update(T0 + (start + i) * STEP_S, v) for i, v in enumerate(values)]


def first_alarm(scores: list[float], threshold: float = DEFAULT_THRESHOLD) -> int | None:
    return next((i for i, s in enumerate(scores) if s >= threshold), None)


def test_implements_protocol() -> None:
    assert isinstance(BaselineDetector(), AnomalyDetector)


def test_pure_noise_raises_few_alarms() -> None:
    for seed in range(3):
        det = BaselineDetector()
        scores = run(det, noise_stream(5000, seed))
        alarms = sum(s >= DEFAULT_THRESHOLD for s in scores)
        assert alarms / len(scores) < 0.001, (seed, alarms)
        assert all(0.0 <= s <= 1.0 for s in scores)


def test_level_shift_flagged_within_a_few_samples() -> None:
    det = BaselineDetector()
    values = noise_stream(600)
    pre = run(det, values[:500])
    shifted = [v + 10.0 for v in values[500:]]
    post = run(det, shifted, start=500)
    assert first_alarm(pre[100:]) is None
    hit = first_alarm(post)
    assert hit is not None
    assert hit <= 6


def test_spike_flagged_at_once() -> None:
    det = BaselineDetector()
    values = noise_stream(400)
    values[300] += 25.0
    scores = run(det, values)
    assert first_alarm(scores[100:300]) is None
    assert scores[300] >= DEFAULT_THRESHOLD


def test_repeated_alarm_is_damped() -> None:
    det = BaselineDetector()
    values = noise_stream(400)
    values[300] += 25.0
    values[302] += 25.0
    scores = run(det, values)
    assert scores[300] >= DEFAULT_THRESHOLD
    assert scores[302] < DEFAULT_THRESHOLD


def daily(n_days: int, seed: int = 3) -> list[float]:
    """20 ms with noise, plus an abrupt +15 ms evening peak 18:00-20:00 UTC each day."""
    rng = random.Random(seed)
    per_day = int(86_400 / STEP_S)
    out = []
    for i in range(n_days * per_day):
        hour = (i % per_day) * STEP_S / 3600.0
        out.append(20.0 + (15.0 if 18.0 <= hour < 20.0 else 0.0) + rng.gauss(0.0, 1.0))
    return out


def test_learns_daily_rhythm() -> None:
    per_day = int(86_400 / STEP_S)
    det = BaselineDetector()
    history = daily(6)
    scores = run(det, history)
    # Once the profile has a few days, the evening peak is normal...
    last_day = scores[5 * per_day :]
    assert first_alarm(last_day) is None, max(last_day)
    # ...and the first evening (no history yet) was not.
    assert first_alarm(scores[:per_day]) is not None
    # The same peak at an unusual hour is an anomaly.
    det2 = BaselineDetector()
    run(det2, history)
    odd = [v + 15.0 if 3 * 12 <= i < 5 * 12 else v for i, v in enumerate(daily(1, seed=9))]
    odd_scores = run(det2, odd, start=6 * per_day)
    hit = first_alarm(odd_scores)
    assert hit is not None
    assert 36 <= hit <= 40


def test_nan_and_loss_are_skipped() -> None:
    det = BaselineDetector(negative_is_loss=True)
    values = noise_stream(300)
    run(det, values)
    before = (det.expected(), det.count)
    assert det.update(T0 + 300 * STEP_S, math.nan) == 0.0
    assert det.update(T0 + 301 * STEP_S, math.inf) == 0.0
    assert det.update(T0 + 302 * STEP_S, -3.0) == 0.0
    assert (det.expected(), det.count) == before
    assert det.update(T0 + 303 * STEP_S, 20.0) < DEFAULT_THRESHOLD
    # Without loss codes, a negative value is a value (and here a wild one).
    det2 = BaselineDetector()
    run(det2, values)
    assert det2.update(T0 + 300 * STEP_S, -3.0) >= DEFAULT_THRESHOLD


def test_deterministic() -> None:
    values = daily(2) + noise_stream(200, seed=5, level=40.0)
    a = run(BaselineDetector(), values)
    b = run(BaselineDetector(), values)
    assert a == b

"""The product signal detector: joint drops, strong single drops, a quorum that scales with
the number of signals, baselines that never learn an outage, and the re-learn rule."""

from __future__ import annotations

import math

import numpy as np

from netvigil.detect.signals import SignalDropDetector, SignalDropSettings, SignalWatch
from netvigil.signal import SignalSample

BIN = 300.0


def test_one_signal_dipping_a_little_is_not_an_outage_but_two_together_are() -> None:
    det = SignalDropDetector()
    rng = np.random.default_rng(4)

    def bin_(bgp: float, ping: float) -> dict[str, float | None]:
        return {"bgp": bgp + rng.normal(0, 2), "ping": ping + rng.normal(0, 5), "gtr": None}

    quiet = [det.update(i * BIN, bin_(2900, 600)) for i in range(100)]
    assert max(quiet) < 0.5
    one = [det.update((100 + i) * BIN, bin_(2900, 450)) for i in range(5)]
    assert max(one) < 0.5  # one signal down by a quarter is not an outage on its own
    both = [det.update((105 + i) * BIN, bin_(2200, 400)) for i in range(12)]
    assert min(both) >= 0.5  # baselines do not learn the outage
    assert {m.signal for m in det.moved()} == {"bgp", "ping"}
    after = [det.update((117 + i) * BIN, bin_(2900, 600)) for i in range(5)]
    assert max(after) < 0.5


def test_a_strong_drop_of_one_signal_alarms_alone() -> None:
    """Active probing down by half, BGP barely moving, a sparse signal without a vote."""
    watch = SignalWatch()
    rng = np.random.default_rng(7)
    changes = []
    for i in range(200):
        down = 120 <= i < 150
        ping = (300 if down else 600) + rng.normal(0, 5)
        values: dict[str, float | None] = {
            "bgp_visibility": 0.99 - (0.01 if down else 0.0) + rng.normal(0, 0.002),
            "active_probing": ping,
            "telescope": float(rng.poisson(4)) if i % 12 == 0 else None,
        }
        changes += watch.update("AS64500", i * BIN, values)
    assert [c.kind for c in changes] == ["opened", "closed"]
    opened, closed = changes
    assert opened.t == 120 * BIN and opened.alarm.alone
    assert [m.signal for m in opened.alarm.moved] == ["active_probing"]
    assert 0.45 < opened.alarm.moved[0].drop < 0.55
    assert closed.alarm.end == 150 * BIN


def test_a_noisy_sparse_signal_cannot_alarm_alone() -> None:
    det = SignalDropDetector()
    rng = np.random.default_rng(1)
    scores = [det.update(i * BIN, {"telescope": float(rng.poisson(4))}) for i in range(2000)]
    assert max(scores[50:]) < 0.5


def _regional(rng: np.random.Generator, n: int, t: float) -> np.ndarray:
    """`n` regional signals with a daily cycle (low at night) and noise."""
    hour = (t / 3600.0) % 24
    daily = 1.0 + 0.1 * math.sin((hour - 9) / 24 * 2 * math.pi)
    levels = np.linspace(200, 2000, n)
    return levels * daily * (1 + rng.normal(0, 0.02, n))


def _country(settings: SignalDropSettings) -> list[tuple[str, float]]:
    """70 regional signals over three days: two regions dip by a third at night on day two
    (and one by half), the whole country drops by half at noon on day three."""
    watch = SignalWatch(settings)
    rng = np.random.default_rng(70)
    names = [f"region-{i:02d}" for i in range(70)]
    changes: list[tuple[str, float]] = []
    for i in range(3 * 288):
        t = i * BIN
        values = _regional(rng, 70, t)
        if 288 + 24 <= i < 288 + 60:  # 02:00-05:00 on day two
            values[3] *= 0.65
            values[41] *= 0.7
            values[10] *= 0.5  # a part of the country, not the country
        if 2 * 288 + 150 <= i < 2 * 288 + 180:
            values *= 0.5
        for change in watch.update("XX", t, dict(zip(names, values.tolist(), strict=True))):
            changes.append((change.kind, change.t))
            if change.kind == "opened" and change.t > 2 * 288 * BIN:
                assert len(change.alarm.moved) >= 60
                assert not change.alarm.alone
    return changes


def test_seventy_signals_two_small_night_dips_no_alarm_a_joint_drop_alarms() -> None:
    assert SignalDropSettings().quorum(70) == 18
    assert SignalDropSettings().quorum(4) == 2
    joint = [("opened", (2 * 288 + 150) * BIN), ("closed", (2 * 288 + 180) * BIN)]
    assert _country(SignalDropSettings()) == joint
    # The same series with a fixed quorum of two alarms on the night dips as well.
    fixed = _country(SignalDropSettings(quorum_fraction=0.0))
    assert fixed[0] == ("opened", (288 + 24) * BIN) and fixed[-2:] == joint


def test_baselines_freeze_for_hours_then_relearn_a_new_level_after_a_day() -> None:
    settings = SignalDropSettings(relearn_s=24 * 3600.0)
    watch = SignalWatch(settings)
    rng = np.random.default_rng(3)
    events = []
    for i in range(4 * 288):
        level = 600 if i < 288 else 250  # a cut that lasts: from day two on
        values = {"active_probing": level + rng.normal(0, 4), "bgp": 1000 + rng.normal(0, 2)}
        events += [(c.kind, c.t) for c in watch.update("net", i * BIN, values)]
        if i == 288 + 8 * 12:  # eight hours into it: still down, baseline untouched
            assert watch.alarm("net") is not None
            base = watch.detector("net").moved()[0].baseline
            assert abs(base - 600) < 10
    # Opened at the cut, closed once a day of the new level re-based the signal.
    # (re-based at the end of the bin a day after the cut; the alarm closes at the next).
    assert events == [("opened", 288 * BIN), ("closed", (2 * 288 + 1) * BIN)]
    assert watch.detector("net").moved() == []


def test_samples_arriving_one_by_one_vote_together_while_fresh() -> None:
    watch = SignalWatch(SignalDropSettings(stale_s=600.0))
    rng = np.random.default_rng(9)
    opened = []
    for i in range(150):
        down = i >= 120
        t = i * 60.0
        for signal, value in (
            ("bgp_visibility", (0.7 if down else 1.0) + rng.normal(0, 0.005)),
            ("blocks_up", (0.7 if down else 1.0) + rng.normal(0, 0.005)),
        ):
            sample = SignalSample(
                "gov-net", signal, t + (30.0 if signal == "blocks_up" else 0), value
            )
            opened += [c for c in watch.observe(sample) if c.kind == "opened"]
    assert len(opened) == 1
    assert opened[0].t == 120 * 60.0 + 30.0  # the second signal's drop made the quorum
    assert {m.signal for m in opened[0].alarm.moved} == {"bgp_visibility", "blocks_up"}

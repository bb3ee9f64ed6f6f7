"""Features computed from path histories around an onset."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from netvigil.detect.features import FeatureSettings, PathHistory, compute_features, outcome_class
from netvigil.outcome import Outcome, Phase

from .streams import OK, Probe, measurement

SETTINGS = FeatureSettings(baseline_s=1200.0, pre_s=300.0, recent_s=60.0)
ONSET = 10_000.0


def _history(fn: Callable[[float, random.Random], Probe], seed: int = 3) -> PathHistory:
    """A path probed every 10 s from ONSET-1500 to ONSET+300; `fn` says what each saw."""
    rng = random.Random(seed)
    hist = PathHistory(SETTINGS)
    ts = ONSET - 1500.0
    while ts < ONSET + 300.0:
        hist.observe(measurement(ts, "local", "t", fn(ts, rng)))
        ts += 10.0
    return hist


def _normal(ts: float, rng: random.Random) -> Probe:
    return Probe(Outcome.OK, 0.02 + rng.uniform(-0.001, 0.001))


def test_abrupt_silent_cut() -> None:
    def fn(ts: float, rng: random.Random) -> Probe:
        if ts >= ONSET:
            return Probe(Outcome.TCP_TIMEOUT, None, phase=Phase.CONNECT)
        return _normal(ts, rng)

    f, outcomes, seen = compute_features(
        [("local", _history(fn))], onset=ONSET, now=ONSET + 300.0, settings=SETTINGS
    )
    assert f.abruptness == 1.0
    assert f.loss_pre == 0.0
    assert f.loss_post == 1.0
    assert f.loss_recent == 1.0
    assert f.complete_s == pytest.approx(300.0)
    assert f.frac_silent == 1.0
    assert f.flaps_post == 0.0
    assert 0.9 < f.latency_ratio < 1.1
    assert outcomes == {"tcp_timeout": 30}
    assert seen == {"silent": {"local"}}


def test_congestion_before_onset_and_partial_loss_after() -> None:
    def fn(ts: float, rng: random.Random) -> Probe:
        if ts >= ONSET - 300.0:
            if ts >= ONSET and rng.random() < 0.5:
                return Probe(Outcome.TCP_TIMEOUT, None, phase=Phase.CONNECT)
            return Probe(Outcome.OK, 0.2 + rng.uniform(0, 0.3))
        return _normal(ts, rng)

    f, _, _ = compute_features(
        [("local", _history(fn))], onset=ONSET, now=ONSET + 300.0, settings=SETTINGS
    )
    assert f.latency_ratio > 5
    assert f.jitter_ratio > 5
    assert f.abruptness < 0.5
    assert 0.2 < f.loss_post < 0.8
    assert f.flaps_post >= 3
    assert f.complete_s < 60


def test_loss_before_complete_records_the_step() -> None:
    def fn(ts: float, rng: random.Random) -> Probe:
        if ts >= ONSET + 150.0:
            return Probe(Outcome.TCP_TIMEOUT, None)
        if ts >= ONSET:
            return OK if int(ts / 10) % 2 else Probe(Outcome.TCP_TIMEOUT, None)
        return _normal(ts, rng)

    f, _, _ = compute_features(
        [("local", _history(fn))], onset=ONSET, now=ONSET + 300.0, settings=SETTINGS
    )
    assert 0.3 <= f.loss_before_complete <= 0.7
    assert f.complete_s >= 140.0


def test_http_failures_after_connect_and_first_byte_time() -> None:
    def fn(ts: float, rng: random.Random) -> Probe:
        if ts >= ONSET:
            return Probe(Outcome.HTTP_5XX, 0.02, ttfb=3.0, phase=Phase.RESPONSE)
        return Probe(Outcome.OK, 0.02, ttfb=0.05)

    f, _, _ = compute_features(
        [("local", _history(fn))], onset=ONSET, now=ONSET + 300.0, settings=SETTINGS
    )
    assert f.frac_http_5xx == 1.0
    assert f.connected_frac == 1.0
    assert f.ttfb_post_s == pytest.approx(3.0)
    assert f.ttfb_base_s == pytest.approx(0.05)


def test_history_is_bounded_by_the_horizon() -> None:
    hist = _history(_normal)
    assert hist.since(float("-inf"))[0].ts >= ONSET + 290.0 - SETTINGS.horizon_s


@pytest.mark.parametrize(
    ("outcome", "cls"),
    [
        ("tcp_timeout", "silent"),
        ("admin_prohibited", "prohibited"),
        ("net_unreachable", "net_unreach"),
        ("dns_servfail", "dns"),
        ("tls_cert_expired", "tls"),
        ("http_timeout", "http_slow"),
        ("something_new", "other"),
    ],
)
def test_outcome_classes(outcome: str, cls: str) -> None:
    assert outcome_class(outcome) == cls


def test_every_failure_outcome_has_a_class() -> None:
    unclassified = [o.value for o in Outcome if o is not Outcome.OK and o is not Outcome.UNKNOWN]
    assert [o for o in unclassified if outcome_class(o) == "other"] == []

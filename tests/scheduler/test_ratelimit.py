"""The per-destination token bucket (pure: times are passed in)."""

from __future__ import annotations

import pytest

from netvigil.ratelimit import RateGuard, default_burst


def test_burst_then_one_per_interval() -> None:
    guard = RateGuard(rate=10.0, burst=3)
    delays = [guard.reserve("h", 100.0) for _ in range(6)]
    assert delays == pytest.approx([0.0, 0.0, 0.0, 0.1, 0.2, 0.3])


def test_long_run_rate_is_capped_whatever_the_demand() -> None:
    guard = RateGuard(rate=5.0, burst=2)
    starts = [100.0 + guard.reserve("h", 100.0) for _ in range(50)]
    assert starts[-1] - starts[0] == pytest.approx((50 - 2) / 5.0)


def test_keys_are_independent() -> None:
    guard = RateGuard(rate=1.0, burst=1)
    assert guard.reserve("a", 0.0) == 0.0
    assert guard.reserve("a", 0.0) == pytest.approx(1.0)
    assert guard.reserve("b", 0.0) == 0.0


def test_a_quiet_key_gets_its_burst_back() -> None:
    guard = RateGuard(rate=2.0, burst=2)
    for _ in range(4):
        guard.reserve("h", 0.0)
    assert guard.reserve("h", 10.0) == 0.0
    assert guard.reserve("h", 10.0) == 0.0
    assert guard.reserve("h", 10.0) == pytest.approx(0.5)


def test_memory_is_bounded_by_recently_probed_keys() -> None:
    guard = RateGuard(rate=10.0)
    for i in range(100_000):
        guard.reserve(f"host{i}", i * 0.001)  # each key used once, 1,000 keys per second
    assert len(guard) <= 4096
    assert guard.prune(1e9) > 0
    assert len(guard) == 0


def test_default_burst_is_small() -> None:
    assert default_burst(0.2) == 1.0
    assert default_burst(3.0) == 3.0
    assert default_burst(1000.0) == 5.0


@pytest.mark.parametrize(("rate", "burst"), [(0.0, None), (-1.0, None), (1.0, 0.5)])
def test_bad_settings_are_refused(rate: float, burst: float | None) -> None:
    with pytest.raises(ValueError, match="must be"):
        RateGuard(rate, burst)

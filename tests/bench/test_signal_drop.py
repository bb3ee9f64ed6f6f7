"""SignalDropDetector: a shutdown needs several reachability signals down together."""

from __future__ import annotations

import random

from bench.detectors import SignalDropDetector


def test_signal_drop_needs_a_quorum() -> None:
    det = SignalDropDetector()
    rng = random.Random(4)

    def bin_(bgp: float, ping: float) -> dict[str, float | None]:
        return {"bgp": bgp + rng.gauss(0, 2), "ping": ping + rng.gauss(0, 5), "gtr": None}

    quiet = [det.update(i * 300.0, bin_(2900, 600)) for i in range(100)]
    assert max(quiet) < 0.5
    one = [det.update((100 + i) * 300.0, bin_(2900, 200)) for i in range(5)]
    assert max(one) < 0.5  # one signal down is not a shutdown
    both = [det.update((105 + i) * 300.0, bin_(2200, 200)) for i in range(12)]
    assert min(both) >= 0.5  # baselines do not learn the outage
    after = [det.update((117 + i) * 300.0, bin_(2900, 600)) for i in range(5)]
    assert max(after) < 0.5

"""A flood losing part of the probes on every site of a network: no target is down from
every vantage at the same moment, but together they are seen failing from everywhere,
which confirms the incident without waiting for that moment."""

from __future__ import annotations

import random

from netvigil.detect.detector import Detector
from netvigil.detect.spread import failing_everywhere
from netvigil.state.judge import TargetCondition, TargetView

from .streams import INTERVAL, ONSET, SILENT, Probe, World, gov, healthy


def gov_flooded(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
    """From ONSET every probe of a gov site times out with probability one half."""
    if gov(target) and ts >= ONSET and rng.random() < 0.5:
        return SILENT
    return healthy(ts, vantage, target, rng)


def _confirmed_after(seed: int) -> float:
    world = World()
    detector = Detector(world.config(), lateness_s=5.0)
    detector.feed_many(world.stream(gov_flooded, end=ONSET + 200, seed=seed))
    detector.flush()
    outages = [i for i in detector.incidents() if i.vantage is None]
    confirmed = [i.confirmed_at for i in outages if i.confirmed_at is not None]
    assert confirmed, [(i.services, i.state) for i in outages]
    return (min(confirmed) - ONSET) / INTERVAL


def test_partial_loss_on_every_site_is_confirmed_sooner() -> None:
    # Waiting for one site to be down from every vantage at once takes 6 intervals on
    # average over these runs (up to 14); seen from everywhere together, under 4.
    delays = [_confirmed_after(seed) for seed in range(1, 13)]
    assert sum(delays) / len(delays) <= 4.0, delays


def _view(condition: TargetCondition, down: list[str], ok: list[str]) -> TargetView:
    return TargetView(condition, down=down, ok=ok, onset_ts=ONSET)


def test_failing_everywhere_needs_every_vantage_and_two_services() -> None:
    service = {"a-https": "a", "a-tcp": "a", "b-https": "b"}.get
    degraded = TargetCondition.DEGRADED
    spread = {
        "a-https": _view(degraded, ["local", "de"], ["us"]),
        "b-https": _view(degraded, ["us"], ["local", "de"]),
    }
    assert failing_everywhere(["a-https", "b-https"], spread, service)
    # One vantage (us) sees nothing down: not seen from everywhere.
    one_side = {**spread, "b-https": _view(degraded, ["de"], ["local", "us"])}
    assert not failing_everywhere(["a-https", "b-https"], one_side, service)
    # Two probes of one service: one service is not spread.
    same = {"a-https": spread["a-https"], "a-tcp": _view(degraded, ["us"], ["local", "de"])}
    assert not failing_everywhere(["a-https", "a-tcp"], same, service)

"""What tells a failure apart in its first seconds: HTTP errors from every vantage (the
server was reached), the other targets of a flooded network answering slowly (congested,
not cut), and block rounds said up without a reply (no answer at all)."""

from __future__ import annotations

import random
from collections.abc import Sequence

from netvigil.cause import Cause
from netvigil.detect.detector import Detector
from netvigil.detect.features import FeatureSettings
from netvigil.detect.history import PathHistory, heard_nothing
from netvigil.detect.sample import Sample
from netvigil.detect.siblings import siblings_latency_ratio
from netvigil.detect.spread import erring_everywhere
from netvigil.incident import Incident
from netvigil.model import Measurement
from netvigil.outcome import Outcome
from netvigil.state.judge import TargetCondition, TargetView

from .streams import GOV, ONSET, SILENT, Probe, World, gov, healthy

EALB = "e-albania-https"


def _sample(ts: float, outcome: str) -> Sample:
    return Sample(ts, outcome == "ok", outcome, True, 0.02, None, 0.0)


def test_erring_everywhere_needs_an_http_error_from_every_vantage() -> None:
    view = TargetView(
        TargetCondition.DEGRADED, down=["local"], suspected=["de"], ok=["us"], onset_ts=ONSET
    )
    seen = {
        "local": [_sample(ONSET, "http_5xx")],
        "de": [_sample(ONSET + 10, "ok"), _sample(ONSET + 20, "http_5xx")],
        "us": [_sample(ONSET + 5, "http_5xx"), _sample(ONSET + 15, "ok")],
    }

    def since(target: str, vantage: str, ts: float) -> Sequence[Sample]:
        return [s for s in seen[vantage] if s.ts >= ts]

    assert erring_everywhere([EALB], {EALB: view}, since)
    # One vantage saw timeouts only: the network may be the trouble there.
    seen["us"] = [_sample(ONSET + 5, "tcp_timeout")]
    assert not erring_everywhere([EALB], {EALB: view}, since)


def _flooded(*, siblings_answer: bool):
    """From ONSET every HTTPS probe of a gov site is lost; their TCP probes answer 25
    times slower (a flood) or are lost too (a cut)."""

    def behaviour(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
        if ts < ONSET:
            return healthy(ts, vantage, target, rng)
        if gov(target):
            return SILENT
        if target.endswith("-tcp") and target.removesuffix("-tcp") in GOV:
            return Probe(Outcome.OK, 0.5 + rng.uniform(0, 0.1)) if siblings_answer else SILENT
        return healthy(ts, vantage, target, rng)

    return behaviour


def _cause_when_confirmed(siblings_answer: bool) -> Cause:
    world = World(second_probe=GOV)
    detector = Detector(world.config(), lateness_s=5.0)
    # Two minutes of history, as in a lab run: no baseline to compare the minutes before
    # the onset with, so the first seconds since the onset are all there is to go on.
    stream = world.stream(
        _flooded(siblings_answer=siblings_answer), start=ONSET - 120, end=ONSET + 60
    )
    detector.feed_many(stream)
    detector.flush()
    gov_incidents = [i for i in detector.incidents() if i.vantage is None and "gov" in i.networks]
    assert len(gov_incidents) == 1, [(i.services, i.cause) for i in gov_incidents]
    return _cause_at_confirmation(gov_incidents[0])


def _cause_at_confirmation(inc: Incident) -> Cause:
    assert inc.confirmed_at is not None
    shown = [c.cause for c in inc.cause_history if c.ts <= inc.confirmed_at]
    return shown[-1] if shown else inc.cause_history[0].cause


def test_a_network_whose_other_targets_answer_slowly_is_flooded_not_cut() -> None:
    assert _cause_when_confirmed(siblings_answer=True) is Cause.VOLUMETRIC_DDOS
    assert _cause_when_confirmed(siblings_answer=False) is Cause.SHUTDOWN


def _history(points: list[tuple[float, float]]) -> PathHistory:
    hist = PathHistory(FeatureSettings())
    for ts, latency in points:
        hist.observe(
            Measurement(
                id=f"m{ts}",
                ts=ts,
                vantage="de",
                target="x",
                kind="tcp",
                ok=True,
                outcome=Outcome.OK,
                timings={"connect": latency},
            )
        )
    return hist


def test_siblings_latency_ratio_compares_since_onset_with_before() -> None:
    slow = _history([(t, 0.02) for t in range(0, 100, 10)] + [(105.0, 0.5)])
    steady = _history([(t, 0.02) for t in range(0, 110, 10)])
    quiet = _history([(t, 0.02) for t in range(0, 100, 10)])
    histories = {"slow": slow, "steady": steady, "quiet": quiet}

    def ratio(*names: str) -> float:
        return siblings_latency_ratio(
            [(n, "de") for n in names], lambda t, v: histories.get(t), onset=100, recent_from=90
        )

    assert ratio("slow") > 15
    assert 0.9 < ratio("steady") < 1.1
    assert ratio("quiet") == -1.0  # no answer since the onset
    assert ratio("missing") == -1.0


def _block_round(ok: bool, replies: int) -> Measurement:
    return Measurement(
        id="b",
        ts=10.0,
        vantage="de",
        target="gov-blocks",
        kind="block",
        ok=ok,
        outcome=Outcome.OK if ok else Outcome.ICMP_TIMEOUT,
        detail={"blocks": {"192.0.2.0/26": {"replies": replies, "state": "up"}}},
    )


def test_a_block_round_said_up_without_a_reply_is_no_answer() -> None:
    assert heard_nothing(_block_round(ok=True, replies=0))
    assert not heard_nothing(_block_round(ok=True, replies=1))
    assert not heard_nothing(_block_round(ok=False, replies=0))
    hist = PathHistory(FeatureSettings())
    hist.observe(_block_round(ok=True, replies=0))
    assert not hist.samples
    hist.observe(_block_round(ok=False, replies=0))
    assert len(hist.samples) == 1

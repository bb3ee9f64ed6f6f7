"""`compute_features`, built from per-path summaries, gives exactly what the single-pass
implementation it replaced gave.

`reference_compute_features` below is a frozen copy of that implementation. Random path
histories (outcomes, latencies, first-byte times, gaps, scores, several vantages, late
path onsets) go through both, and every feature, outcome count and vantage set must be
identical: the same float bit for bit (NaN equals NaN), the same key order.
"""

from __future__ import annotations

import itertools
import math
import struct
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netvigil.detect.features import (
    OUTCOME_CLASSES,
    FeatureSettings,
    PathHistory,
    Sample,
    compute_features,
    outcome_class,
)
from netvigil.evidence import Features, ScopeFacts
from netvigil.outcome import Outcome, Phase

from .streams import Probe, measurement

Result = tuple[Features, Counter[str], dict[str, set[str]]]
FeaturesFn = Callable[..., Result]

# --- the reference: the single-pass implementation, frozen ---------------------------

REFERENCE_CLASSES = sorted({*OUTCOME_CLASSES.values(), "other"})
REFERENCE_LOST = {"tcp_timeout", "icmp_timeout", "http_timeout", "tls_timeout", "dns_timeout"}


def _ref_quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[idx]


def _ref_jitter(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    diffs = [abs(b - a) for a, b in itertools.pairwise(values)]
    return sum(diffs) / len(diffs)


def _ref_ok_latencies(samples: Iterable[Sample]) -> list[float]:
    return [s.latency for s in samples if s.ok and s.latency is not None]


def _ref_median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def reference_compute_features(
    paths: Iterable[tuple[str, PathHistory]],
    *,
    onset: float,
    now: float,
    settings: FeatureSettings,
    recent_s: float | None = None,
    scope: ScopeFacts | None = None,
    path_onsets: Sequence[float] | None = None,
) -> Result:
    """The reference: `compute_features` as one 163-line function, kept unchanged."""
    pre_start = onset - settings.pre_s
    base_start = onset - settings.baseline_s
    recent = settings.recent_s if recent_s is None else recent_s
    base_lat: list[float] = []
    pre_lat: list[float] = []
    base_jit: list[float] = []
    pre_jit: list[float] = []
    pre_total = pre_fail = 0
    post_total = post_fail = 0
    recent_total = recent_fail = 0
    connected = 0
    flaps = 0
    n_paths = 0
    abrupt_clean = abrupt_total = abrupt_slow = 0
    anomaly_pre = 0.0
    last_ok_after = onset
    outcomes: Counter[str] = Counter()
    ttfb_post: list[float] = []
    ttfb_base: list[float] = []
    ttfb_ok_post: list[float] = []
    ttfb_ref: list[float] = []
    post_ratios: list[float] = []
    overload = 0
    post_samples: list[Sample] = []
    class_vantages: dict[str, set[str]] = {}
    for i, (vantage, hist) in enumerate(paths):
        n_paths += 1
        own = max(onset, path_onsets[i]) if path_onsets is not None else onset
        path_recent = max(own, now - recent)
        samples = hist.between(base_start, now + 1e-9)
        base = [s for s in samples if s.ts < pre_start]
        pre = [s for s in samples if pre_start <= s.ts < onset]
        post = [s for s in samples if s.ts >= own]
        bl = _ref_ok_latencies(base)
        pl = _ref_ok_latencies(pre)
        base_lat.extend(bl)
        pre_lat.extend(pl)
        base_jit.append(_ref_jitter(bl))
        if len(pl) >= 2:
            pre_jit.append(_ref_jitter(pl))
        base_median = _ref_median(bl) if len(bl) >= 5 else None
        ttfb_b = [s.ttfb for s in base if s.ok and s.ttfb is not None]
        ttfb_base.extend(ttfb_b)
        ref_lat = bl if len(bl) >= 5 else bl + pl
        if len(ttfb_b) >= 5:
            ttfb_ref.extend(ttfb_b)
        else:
            ttfb_ref.extend(s.ttfb for s in base + pre if s.ok and s.ttfb is not None)
        post_lat = _ref_ok_latencies(post)
        if post_lat and len(ref_lat) >= 3:
            post_ratios.append((_ref_median(post_lat) + 0.005) / (_ref_median(ref_lat) + 0.005))
        for s in pre:
            pre_total += 1
            if not s.ok:
                # Only probes lost (unanswered in time, or overloaded) are a flood's loss;
                # the one change made to the frozen implementation since.
                if s.outcome in REFERENCE_LOST or s.overload:
                    pre_fail += 1
            elif s.score > anomaly_pre:
                anomaly_pre = s.score
        last = pre[-settings.abrupt_probes :]
        usual = base_median
        if usual is None:  # a young history: the latencies before the last probes
            earlier = _ref_ok_latencies(pre[: len(pre) - len(last)])
            usual = _ref_median(earlier) if len(earlier) >= 3 else None
        for s in last:
            abrupt_total += 1
            slow = usual is not None and s.latency is not None and s.latency > 2.0 * usual + 0.005
            if s.ok and slow:
                abrupt_slow += 1
            if s.ok and s.score < 0.5 and not slow:
                abrupt_clean += 1
        prev_ok: bool | None = None
        for s in post:
            post_total += 1
            if s.ts >= path_recent:
                recent_total += 1
            if s.ok:
                if s.ts > last_ok_after:
                    last_ok_after = s.ts
            else:
                post_fail += 1
                outcomes[s.outcome] += 1
                class_vantages.setdefault(outcome_class(s.outcome), set()).add(vantage)
                if s.connected:
                    connected += 1
                if s.overload:
                    overload += 1
                if s.ts >= path_recent:
                    recent_fail += 1
            if s.ttfb is not None:
                ttfb_post.append(s.ttfb)
                if s.ok:
                    ttfb_ok_post.append(s.ttfb)
            if prev_ok is not None and prev_ok != s.ok:
                flaps += 1
            prev_ok = s.ok
        post_samples.extend(post)
    any_ok_after = any(s.ok for s in post_samples)
    complete_start = last_ok_after if any_ok_after else onset
    before_complete = [s for s in post_samples if complete_start - recent <= s.ts < complete_start]
    loss_before_complete = -1.0
    if any_ok_after and before_complete:
        loss_before_complete = sum(1 for s in before_complete if not s.ok) / len(before_complete)
    fails = max(1, post_fail)
    classes: Counter[str] = Counter()
    for outcome, count in outcomes.items():
        classes[outcome_class(outcome)] += count
    p95_base = _ref_quantile(base_lat, 0.95) if len(base_lat) >= 5 else -1.0
    p95_pre = _ref_quantile(pre_lat, 0.95) if pre_lat else -1.0
    jit_base = sum(base_jit) / len(base_jit) if base_jit and len(base_lat) >= 5 else -1.0
    jit_pre = sum(pre_jit) / len(pre_jit) if pre_jit else -1.0
    values: dict[str, float] = {
        "abruptness": abrupt_clean / abrupt_total if abrupt_total else -1.0,
        "slow_last": abrupt_slow / abrupt_total if abrupt_total else -1.0,
        "loss_pre": pre_fail / pre_total if pre_total else -1.0,
        "latency_p95_pre_s": p95_pre,
        "latency_p95_base_s": p95_base,
        "latency_ratio": p95_pre / p95_base if p95_pre >= 0 and p95_base > 0 else -1.0,
        "jitter_pre_s": jit_pre,
        "jitter_base_s": jit_base,
        "jitter_ratio": (jit_pre + 1e-3) / (jit_base + 1e-3)
        if jit_pre >= 0 and jit_base >= 0
        else -1.0,
        "anomaly_pre": anomaly_pre,
        "loss_post": post_fail / post_total if post_total else 0.0,
        "loss_recent": recent_fail / recent_total if recent_total else 0.0,
        "loss_before_complete": loss_before_complete,
        "complete_s": max(0.0, now - complete_start) if post_fail else 0.0,
        "probes_complete": float(
            sum(1 for s in post_samples if s.ts > complete_start or not any_ok_after)
        )
        if post_fail
        else 0.0,
        "latency_post_ratio": _ref_median(post_ratios) if post_ratios else -1.0,
        "frac_overload": overload / fails if post_fail else 0.0,
        "ttfb_ok_post_s": _ref_median(ttfb_ok_post) if ttfb_ok_post else -1.0,
        "ttfb_ref_s": _ref_median(ttfb_ref) if len(ttfb_ref) >= 3 else -1.0,
        "flaps_post": flaps / n_paths if n_paths else 0.0,
        "probes_post": float(post_total),
        "connected_frac": connected / fails if post_fail else 0.0,
        "ttfb_post_s": _ref_median(ttfb_post) if ttfb_post else -1.0,
        "ttfb_base_s": _ref_median(ttfb_base) if len(ttfb_base) >= 5 else -1.0,
        "recent_s": recent,
    }
    for name in REFERENCE_CLASSES:
        values[f"frac_{name}"] = classes[name] / fails if post_fail else 0.0
    if scope is not None:
        values.update(scope.as_features())
    return Features(**values), outcomes, class_vantages


# --- comparison ------------------------------------------------------------------------


def _same_float(a: object, b: object) -> bool:
    """The same type and the same bits, NaN equal to NaN (any payload)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float) and isinstance(b, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return struct.pack("<d", a) == struct.pack("<d", b)
    return a == b


def assert_identical(new: Result, ref: Result) -> None:
    """Every field of the two results is identical, and the maps keep the same key order."""
    new_f, new_outcomes, new_vantages = new
    ref_f, ref_outcomes, ref_vantages = ref
    differ = {
        f.name: (getattr(new_f, f.name), getattr(ref_f, f.name))
        for f in fields(Features)
        if not _same_float(getattr(new_f, f.name), getattr(ref_f, f.name))
    }
    assert differ == {}
    assert list(new_outcomes.items()) == list(ref_outcomes.items())
    assert list(new_vantages.items()) == list(ref_vantages.items())


# --- random histories ------------------------------------------------------------------

ONSET = 1_657_917_000.0
VANTAGES = ("local", "de", "us", "nl")
OUTCOMES = list(Outcome)
outcomes = st.one_of(st.just(Outcome.OK), st.sampled_from(OUTCOMES))
"""About half the probes succeed; the rest are any outcome."""

# Values drawn from small sets as well as ranges, so ties, equal medians and the
# thresholds the features test (a 0.5 score, twice the baseline median) come up.
latencies = st.one_of(
    st.none(),
    st.sampled_from([0.01, 0.02, 2.0 * 0.02 + 0.005, 0.2]),  # 2x a 20 ms median + 5 ms
    st.floats(0.0, 3.0),
    st.just(math.nan),
)
steady_latencies = st.one_of(
    st.just(0.02), st.just(0.02), st.just(0.02), st.just(2.0 * 0.02 + 0.005), latencies
)
"""A path whose latency is mostly 20 ms, so its baseline median is often exactly that."""
ttfbs = st.one_of(st.none(), st.sampled_from([0.05, 0.1, 3.0]), st.floats(0.0, 10.0))
scores = st.one_of(st.sampled_from([0.0, 0.5, 2.0]), st.floats(0.0, 20.0))
odd_gaps = st.one_of(st.just(0.0), st.floats(0.0, 400.0))
"""Gaps off a path's probe interval: a duplicate timestamp, an outage of the prober."""


def seconds(low: float, high: float) -> st.SearchStrategy[float]:
    """A duration in [low, high]: often a whole number of 10 s probe intervals, so samples
    fall exactly on window edges (onset, pre start, recent start), else any float."""
    grid = st.integers(math.ceil(low / 10), math.floor(high / 10)).map(lambda k: 10.0 * k)
    return st.one_of(grid, st.floats(low, high))


@st.composite
def samples(draw: st.DrawFn, horizon_s: float) -> list[Sample]:
    """A path's samples in time order: mostly one probe interval apart, sometimes a
    random gap (0 included), from a start that usually puts about as many before the
    onset as after it, else anywhere within the horizon."""
    out: list[Sample] = []
    n = draw(st.integers(0, 100))
    interval = draw(st.sampled_from([10.0, 30.0, 60.0]))
    ts = ONSET - draw(st.one_of(seconds(0.0, n * interval), seconds(0.0, horizon_s + 200.0)))
    gaps = st.one_of(st.just(interval), st.just(interval), odd_gaps)
    path_latencies = draw(st.sampled_from([latencies, steady_latencies]))
    for _ in range(n):
        ts += draw(gaps)
        outcome = draw(outcomes)
        ok = outcome is Outcome.OK
        out.append(
            Sample(
                ts=ts,
                ok=ok,
                outcome=outcome.value,
                connected=ok or draw(st.booleans()),
                latency=draw(path_latencies),
                ttfb=draw(ttfbs),
                score=draw(scores),
                overload=not ok and draw(st.booleans()),
            )
        )
    return out


@dataclass(frozen=True)
class Case:
    """One call of `compute_features`: the paths and every keyword argument."""

    paths: list[tuple[str, PathHistory]]
    now: float
    settings: FeatureSettings
    recent_s: float | None
    scope: ScopeFacts | None
    path_onsets: list[float] | None

    def run(self, fn: FeaturesFn) -> Result:
        """`fn` called on this case."""
        return fn(
            self.paths,
            onset=ONSET,
            now=self.now,
            settings=self.settings,
            recent_s=self.recent_s,
            scope=self.scope,
            path_onsets=self.path_onsets,
        )


@st.composite
def cases(draw: st.DrawFn) -> Case:
    """Several paths (vantages may repeat) with random windows, onsets and histories."""
    pre_s = draw(seconds(10.0, 600.0))
    feature_settings = FeatureSettings(
        baseline_s=pre_s + draw(seconds(0.0, 1500.0)),
        pre_s=pre_s,
        recent_s=draw(seconds(1.0, 300.0)),
        abrupt_probes=draw(st.integers(1, 8)),
    )
    n_paths = draw(st.integers(0, 8))
    paths: list[tuple[str, PathHistory]] = []
    for _ in range(n_paths):
        hist = PathHistory(feature_settings)
        hist.samples.extend(draw(samples(feature_settings.horizon_s)))
        paths.append((draw(st.sampled_from(VANTAGES)), hist))
    path_onsets = None
    if draw(st.booleans()):
        path_onsets = [ONSET + draw(seconds(-300.0, 1500.0)) for _ in range(n_paths)]
    scope = None
    if draw(st.booleans()):
        scope = ScopeFacts(n_targets=float(n_paths), interval_s=draw(st.floats(1.0, 300.0)))
    return Case(
        paths=paths,
        now=ONSET + draw(seconds(0.0, 3000.0)),
        settings=feature_settings,
        recent_s=draw(st.one_of(st.none(), seconds(1.0, 600.0))),
        scope=scope,
        path_onsets=path_onsets,
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_features_match_the_reference(case: Case) -> None:
    assert_identical(case.run(compute_features), case.run(reference_compute_features))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(VANTAGES),
            st.lists(
                st.tuples(
                    outcomes,
                    st.floats(0.001, 0.5),
                    st.one_of(st.none(), st.floats(0.01, 5.0)),
                    st.sampled_from([None, *Phase]),
                ),
                min_size=1,
                max_size=80,
            ),
        ),
        min_size=1,
        max_size=4,
    ),
    st.floats(1.0, 60.0),
)
def test_features_of_observed_measurements_match_the_reference(
    paths: list[tuple[str, list[tuple[Outcome, float, float | None, Phase | None]]]],
    interval: float,
) -> None:
    """Histories filled the way the detector fills them (`observe`, with its anomaly
    scores), probed every `interval` seconds across the onset."""
    feature_settings = FeatureSettings(baseline_s=600.0, pre_s=120.0, recent_s=30.0)
    histories: list[tuple[str, PathHistory]] = []
    last = ONSET
    for i, (vantage, probes) in enumerate(paths):
        hist = PathHistory(feature_settings)
        ts = ONSET - interval * (len(probes) // 2) + i * 0.25
        for outcome, latency, ttfb, phase in probes:
            probe = Probe(outcome, latency, ttfb=ttfb, phase=phase)
            hist.observe(measurement(ts, vantage, f"t{i}", probe))
            last = max(last, ts)
            ts += interval
        histories.append((vantage, hist))
    for now in (ONSET, last, last + interval):
        results = [
            fn(histories, onset=ONSET, now=now, settings=feature_settings, recent_s=3 * interval)
            for fn in (compute_features, reference_compute_features)
        ]
        assert_identical(*results)


THRESHOLD = 2.0 * 0.02 + 0.005
"""Twice a 20 ms baseline median plus 5 ms: above it a probe is slow."""
LAST_BEFORE_ONSET = {
    -50.0: (THRESHOLD + 0.01, 0.49),
    -40.0: (THRESHOLD, 0.49),
    -30.0: (THRESHOLD, 0.5),
    -20.0: (0.02, 0.49),
    -10.0: (0.02, 0.0),
}
"""Offset from the onset -> (latency, anomaly score) of the last probes before it."""


def _edge_history(feature_settings: FeatureSettings, base_ok: int) -> PathHistory:
    """A path probed every 10 s with samples exactly on every edge the features test.

    Baseline: `base_ok` successes (20 ms, first byte 50 ms), then failures. Pre window: a
    failure on its first edge, then successes with rising latency, the last five on
    and around the thresholds (`LAST_BEFORE_ONSET`), first byte 70 ms. From the onset:
    failures, with successes at +60 s, +120 s and +150 s (the last one; +120 s is exactly
    one 30 s recent window before it, and the recent start when judged at +150 s).
    """
    hist = PathHistory(feature_settings)
    pre_start = ONSET - feature_settings.pre_s
    ts = ONSET - feature_settings.baseline_s
    base_probes = 0
    while ts <= ONSET + 300.0:
        if ts < pre_start:
            ok = base_probes < base_ok
            base_probes += 1
            sample = Sample(ts, ok, "ok" if ok else "tcp_timeout", ok, 0.02, 0.05, 0.0)
        elif ts == pre_start:
            sample = Sample(ts, False, "tcp_timeout", False, None, None, 0.0)
        elif ts < ONSET:
            latency, score = LAST_BEFORE_ONSET.get(ts - ONSET, (0.02 + (ts - pre_start) / 1e3, 0.0))
            sample = Sample(ts, True, "ok", True, latency, 0.07, score)
        elif ts in (ONSET + 60.0, ONSET + 120.0, ONSET + 150.0):
            sample = Sample(ts, True, "ok", True, 0.03, 0.06, 0.0)
        else:
            outcome = "http_5xx" if int(ts) % 20 else "tcp_refused"
            sample = Sample(ts, False, outcome, outcome == "http_5xx", None, 0.3, 0.0, True)
        hist.samples.append(sample)
        ts += 10.0
    return hist


@pytest.mark.parametrize("base_ok", [0, 2, 3, 4, 5, 6])
@pytest.mark.parametrize("path_onset", [None, ONSET + 50.0])
def test_features_on_the_window_edges_match_the_reference(
    base_ok: int, path_onset: float | None
) -> None:
    feature_settings = FeatureSettings(baseline_s=600.0, pre_s=120.0, recent_s=30.0)
    histories = [
        ("local", _edge_history(feature_settings, base_ok)),
        ("de", _edge_history(feature_settings, 6)),
    ]
    path_onsets = None if path_onset is None else [path_onset, ONSET]
    for now in (ONSET + 150.0, ONSET + 300.0):
        results = [
            fn(
                histories,
                onset=ONSET,
                now=now,
                settings=feature_settings,
                path_onsets=path_onsets,
            )
            for fn in (compute_features, reference_compute_features)
        ]
        assert_identical(*results)

"""Running path summaries equal summaries recomputed from the history.

Random streams of measurements go through `PathHistory.observe` (with a short horizon
and a small sample cap, so samples are dropped from every window: baseline, pre and
post), and at random moments the path is judged for one or two cuts (onsets, late path
onsets): the running summary must equal `summarise_windows` over the same history, field
by field, list order and outcome order included.
"""

from __future__ import annotations

from dataclasses import fields

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netvigil.detect.history import FeatureSettings, PathHistory, Sample
from netvigil.detect.path_summary import (
    PathSummary,
    PostTimeline,
    WindowBounds,
    summarise_path,
    summarise_windows,
)
from netvigil.outcome import Outcome, Phase

from .streams import Probe, measurement

T0 = 1_657_917_000.0
FAILURES = [
    Outcome.TCP_TIMEOUT,
    Outcome.TCP_REFUSED,
    Outcome.HTTP_5XX,
    Outcome.DNS_NXDOMAIN,
    Outcome.CONNECTION_RESET,
]


def _timeline(t: PostTimeline) -> tuple[list[float], list[int]]:
    """The timeline's probe times and running failure counts, whatever its offsets."""
    base = t.failed_before[t.lo]
    return t.ts[t.lo : t.hi], [t.failed_before[i] - base for i in range(t.lo, t.hi + 1)]


def assert_same(running: PathSummary, fresh: PathSummary) -> None:
    assert running.vantage == fresh.vantage
    assert running.reference == fresh.reference
    assert running.pre == fresh.pre
    assert running.latency_post_ratio == fresh.latency_post_ratio
    for f in fields(fresh.post):
        assert getattr(running.post, f.name) == getattr(fresh.post, f.name), f.name
    assert list(running.post.outcomes.items()) == list(fresh.post.outcomes.items())
    assert _timeline(running.post_timeline) == _timeline(fresh.post_timeline)


probes = st.one_of(
    st.builds(
        Probe,
        st.just(Outcome.OK),
        st.one_of(st.none(), st.sampled_from([0.01, 0.02, 0.049]), st.floats(0.0, 2.0)),
        st.one_of(st.none(), st.sampled_from([0.05, 0.1]), st.floats(0.0, 5.0)),
    ),
    st.builds(
        Probe,
        st.sampled_from(FAILURES),
        st.none(),
        st.one_of(st.none(), st.floats(0.0, 5.0)),
        st.sampled_from([None, *Phase]),
    ),
)
gaps = st.one_of(st.just(10.0), st.just(10.0), st.just(0.0), st.floats(0.0, 120.0))


@st.composite
def streams(draw: st.DrawFn) -> list[tuple[float, Probe, bool]]:
    """(gap before the probe, what it saw, whether the path is judged right after it)."""
    return draw(
        st.lists(st.tuples(gaps, probes, st.booleans()), min_size=1, max_size=150),
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    stream=streams(),
    pre_s=st.sampled_from([20.0, 60.0, 95.0]),
    extra_s=st.sampled_from([0.0, 40.0, 200.0]),
    max_samples=st.integers(3, 40),
    onset_at=st.floats(0.0, 600.0),
    late_s=st.one_of(st.none(), st.sampled_from([0.0, 30.0]), st.floats(0.0, 300.0)),
    moved_s=st.one_of(st.none(), st.floats(1.0, 200.0)),
    recent_s=st.sampled_from([5.0, 30.0, 100.0]),
)
def test_running_summaries_equal_recomputed_ones(
    stream: list[tuple[float, Probe, bool]],
    pre_s: float,
    extra_s: float,
    max_samples: int,
    onset_at: float,
    late_s: float | None,
    moved_s: float | None,
    recent_s: float,
) -> None:
    feature_settings = FeatureSettings(
        baseline_s=pre_s + extra_s, pre_s=pre_s, recent_s=recent_s, max_samples=max_samples
    )
    hist = PathHistory(feature_settings)
    onset = T0 + onset_at
    # Judged for the incident's onset; then, when `moved_s` is given, also for an onset
    # moved earlier (a target with an earlier onset joined), as the detector would.
    onsets = [onset] if moved_s is None else [onset, onset - moved_s]
    path_onset = None if late_s is None else onset + late_s
    ts = T0
    judged = 0
    for gap, probe, judge in stream:
        ts += gap
        hist.observe(measurement(ts, "de", "t", probe))
        if not judge or ts < onset:
            continue
        for cut in onsets:
            bounds = WindowBounds.around(cut, ts, feature_settings, recent_s)
            assert hist.running(bounds, path_onset) is not None
            running = summarise_path("de", hist, bounds, path_onset)
            assert_same(running, summarise_windows("de", hist, bounds, path_onset))
            judged += 1
    bounds = WindowBounds.around(onset, ts + 7.0, feature_settings)
    assert_same(
        summarise_path("de", hist, bounds, path_onset),
        summarise_windows("de", hist, bounds, path_onset),
    )


def test_a_long_outage_drops_samples_from_every_window_and_stays_exact() -> None:
    """Judged every probe for far longer than the horizon: the baseline, then the pre
    window, then the first failures of the post window are dropped one by one."""
    feature_settings = FeatureSettings(baseline_s=300.0, pre_s=100.0, max_samples=1000)
    hist = PathHistory(feature_settings)
    onset = T0 + 500.0
    ts = T0
    outcomes = [Outcome.TCP_TIMEOUT, Outcome.TCP_REFUSED, Outcome.HTTP_5XX]
    while ts < onset + 1200.0:
        if ts < onset:
            probe = Probe(Outcome.OK, 0.02 + (int(ts) % 7) / 1000, ttfb=0.05)
        elif int(ts - onset) % 170 == 0:
            probe = Probe(Outcome.OK, 0.03)
        else:
            probe = Probe(outcomes[int(ts) // 10 % 3], None, ttfb=0.3)
        hist.observe(measurement(ts, "de", "t", probe))
        if ts >= onset:
            bounds = WindowBounds.around(onset, ts, feature_settings, 30.0)
            running = summarise_path("de", hist, bounds)
            fresh = summarise_windows("de", hist, bounds)
            assert_same(running, fresh)
        ts += 10.0
    # The last judgement saw no baseline or pre sample left, and a post window cut short.
    assert fresh.reference.base_latencies == []
    assert fresh.pre.probes == 0
    assert fresh.post.probes == 400 / 10  # a horizon of probes, less the one at `now`
    assert hist.running(bounds, None) is not None


def test_samples_put_in_directly_are_summarised_from_the_history() -> None:
    feature_settings = FeatureSettings()
    hist = PathHistory(feature_settings)
    hist.observe(measurement(T0, "de", "t", Probe(Outcome.OK, 0.02)))
    hist.samples.append(Sample._make(hist.samples[0])._replace(ts=T0 + 10.0))
    bounds = WindowBounds.around(T0 + 5.0, T0 + 20.0, feature_settings)
    assert hist.running(bounds, None) is None
    assert summarise_path("de", hist, bounds).post.probes == 1

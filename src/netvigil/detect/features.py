"""Features: the numbers attribution reads, computed from recent per-path history.

When an incident is judged, each of its paths (`history.PathHistory`) is summarised on
its own (`path_summary.summarise_path`: the path cut into baseline, pre, post and recent
windows around the onset, its timing reference, its shape before the onset, its counts
since). The summaries are merged in path order (`FeatureTotals.add`) and the totals
assembled (`assemble_features`) into a `Features` vector (kept on the incident so a
learned model can be trained on it later) plus the outcome counts and per-class
vantages the `EvidenceWindow` cites. `compute_features` does all three.

Timing since the onset (latency of the probes that still succeed, time to first byte)
is compared per path with that path's own reference: its baseline window when that
holds enough samples, else everything it saw before the onset (a young history).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, fields

from netvigil.detect.history import FeatureSettings, PathHistory, Sample, latency_of
from netvigil.detect.path_summary import (
    PathSummary,
    PostOnsetCounts,
    PostTimeline,
    WindowBounds,
    median,
    summarise_path,
)
from netvigil.evidence import Features, ScopeFacts

__all__ = [
    "OUTCOME_CLASSES",
    "FeatureSettings",
    "FeatureTotals",
    "Features",
    "PathHistory",
    "PathSummary",
    "Sample",
    "WindowBounds",
    "assemble_features",
    "compute_features",
    "latency_of",
    "outcome_class",
    "summarise_path",
]

OUTCOME_CLASSES: dict[str, str] = {
    "tcp_timeout": "silent",
    "icmp_timeout": "silent",
    "tcp_refused": "refused",
    "connection_reset": "refused",
    "net_unreachable": "net_unreach",
    "host_unreachable": "host_unreach",
    "admin_prohibited": "prohibited",
    "http_5xx": "http_5xx",
    "http_timeout": "http_slow",
    "tls_timeout": "http_slow",
    "http_4xx": "http_other",
    "http_content_mismatch": "http_other",
    "http_protocol_error": "http_other",
    "dns_nxdomain": "dns",
    "dns_servfail": "dns",
    "dns_refused": "dns",
    "dns_timeout": "dns",
    "dns_no_answer": "dns",
    "tls_handshake_failed": "tls",
    "tls_cert_invalid": "tls",
    "tls_cert_expired": "tls",
}
"""Failure outcome -> the class attribution reasons with; anything else is `other`."""

_CLASSES = (
    "silent",
    "refused",
    "net_unreach",
    "host_unreach",
    "prohibited",
    "http_5xx",
    "http_slow",
    "http_other",
    "dns",
    "tls",
    "other",
)


_SCOPE_FIELDS = tuple(f.name for f in fields(ScopeFacts))
"""The names of `ScopeFacts`' fields, each a `Features` field too."""


def outcome_class(outcome: str) -> str:
    """The attribution class of a failure outcome (`silent`, `refused`, `dns`...)."""
    return OUTCOME_CLASSES.get(outcome, "other")


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[idx]


@dataclass(slots=True)
class FeatureTotals:
    """The summaries of an incident's paths merged so far (`add`), in path order: what the
    features are assembled from. Merging as the paths are summarised keeps no per-path
    record alive for longer than one path."""

    onset: float
    now: float
    recent_s: float
    paths: int = 0
    base_latencies: list[float] = field(default_factory=list)
    pre_latencies: list[float] = field(default_factory=list)
    base_jitters: list[float] = field(default_factory=list)
    pre_jitters: list[float] = field(default_factory=list)
    pre_probes: int = 0
    pre_lost: int = 0
    anomaly: float = 0.0
    last_probes: int = 0
    last_clean: int = 0
    last_slow: int = 0
    post_probes: int = 0
    post_failures: int = 0
    recent_probes: int = 0
    recent_failures: int = 0
    connected: int = 0
    overload: int = 0
    flaps: int = 0
    any_ok_after: bool = False
    last_ok_after: float = 0.0  # the latest success since the onset, else the onset
    outcomes: Counter[str] = field(default_factory=Counter)
    class_vantages: dict[str, set[str]] = field(default_factory=dict)
    ttfb_base: list[float] = field(default_factory=list)
    ttfb_ref: list[float] = field(default_factory=list)
    ttfb_post: list[float] = field(default_factory=list)
    ttfb_ok_post: list[float] = field(default_factory=list)
    post_ratios: list[float] = field(default_factory=list)
    post_timelines: list[PostTimeline] = field(default_factory=list)

    @classmethod
    def empty(cls, bounds: WindowBounds) -> FeatureTotals:
        """Totals of no path yet, for an incident judged at `bounds`."""
        return cls(bounds.onset, bounds.now, bounds.recent_s, last_ok_after=bounds.onset)

    def add(self, path: PathSummary) -> None:
        """Merge one more path's summary."""
        ref, pre, post = path.reference, path.pre, path.post
        self.paths += 1
        self.base_latencies.extend(ref.base_latencies)
        self.pre_latencies.extend(ref.pre_latencies)
        self.base_jitters.append(ref.base_jitter)
        if ref.pre_jitter is not None:
            self.pre_jitters.append(ref.pre_jitter)
        self.ttfb_base.extend(ref.base_ttfb)
        self.ttfb_ref.extend(ref.ttfb)
        if path.latency_post_ratio is not None:
            self.post_ratios.append(path.latency_post_ratio)
        self.pre_probes += pre.probes
        self.pre_lost += pre.lost
        if pre.anomaly > self.anomaly:
            self.anomaly = pre.anomaly
        self.last_probes += pre.last_probes
        self.last_clean += pre.last_clean
        self.last_slow += pre.last_slow
        self._add_post(path.vantage, post)
        self.post_timelines.append(path.post_timeline)

    def _add_post(self, vantage: str, post: PostOnsetCounts) -> None:
        self.post_probes += post.probes
        self.post_failures += post.failures
        self.recent_probes += post.recent_probes
        self.recent_failures += post.recent_failures
        self.connected += post.connected
        self.overload += post.overload
        self.flaps += post.flaps
        if post.last_ok is not None:
            self.any_ok_after = True
            if post.last_ok > self.last_ok_after:
                self.last_ok_after = post.last_ok
        self.outcomes.update(post.outcomes)
        for outcome in post.outcomes:
            self.class_vantages.setdefault(outcome_class(outcome), set()).add(vantage)
        self.ttfb_post.extend(post.ttfb)
        self.ttfb_ok_post.extend(post.ttfb_ok)


def _pre_onset_features(t: FeatureTotals) -> dict[str, float]:
    """Abruptness, loss, latency and jitter before the onset, against the baseline."""
    base_lat, pre_lat = t.base_latencies, t.pre_latencies
    p95_base = _quantile(base_lat, 0.95) if len(base_lat) >= 5 else -1.0
    p95_pre = _quantile(pre_lat, 0.95) if pre_lat else -1.0
    base_jit, pre_jit = t.base_jitters, t.pre_jitters
    jit_base = sum(base_jit) / len(base_jit) if base_jit and len(base_lat) >= 5 else -1.0
    jit_pre = sum(pre_jit) / len(pre_jit) if pre_jit else -1.0
    return {
        "abruptness": t.last_clean / t.last_probes if t.last_probes else -1.0,
        "slow_last": t.last_slow / t.last_probes if t.last_probes else -1.0,
        "loss_pre": t.pre_lost / t.pre_probes if t.pre_probes else -1.0,
        "latency_p95_pre_s": p95_pre,
        "latency_p95_base_s": p95_base,
        "latency_ratio": p95_pre / p95_base if p95_pre >= 0 and p95_base > 0 else -1.0,
        "jitter_pre_s": jit_pre,
        "jitter_base_s": jit_base,
        "jitter_ratio": (jit_pre + 1e-3) / (jit_base + 1e-3)
        if jit_pre >= 0 and jit_base >= 0
        else -1.0,
        "anomaly_pre": t.anomaly,
    }


def _timing_features(t: FeatureTotals) -> dict[str, float]:
    """Latency and time to first byte since the onset, and their references."""
    return {
        "latency_post_ratio": median(t.post_ratios) if t.post_ratios else -1.0,
        "ttfb_ok_post_s": median(t.ttfb_ok_post) if t.ttfb_ok_post else -1.0,
        "ttfb_ref_s": median(t.ttfb_ref) if len(t.ttfb_ref) >= 3 else -1.0,
        "ttfb_post_s": median(t.ttfb_post) if t.ttfb_post else -1.0,
        "ttfb_base_s": median(t.ttfb_base) if len(t.ttfb_base) >= 5 else -1.0,
    }


def _post_onset_features(t: FeatureTotals) -> dict[str, float]:
    """Loss, flaps and the mix of failures since the onset."""
    failed = t.post_failures
    fails = max(1, failed)
    values = {
        "loss_post": failed / t.post_probes if t.post_probes else 0.0,
        "loss_recent": t.recent_failures / t.recent_probes if t.recent_probes else 0.0,
        "frac_overload": t.overload / fails if failed else 0.0,
        "flaps_post": t.flaps / t.paths if t.paths else 0.0,
        "probes_post": float(t.post_probes),
        "connected_frac": t.connected / fails if failed else 0.0,
    }
    classes: Counter[str] = Counter()
    for outcome, count in t.outcomes.items():
        classes[outcome_class(outcome)] += count
    for name in _CLASSES:
        values[f"frac_{name}"] = classes[name] / fails if failed else 0.0
    return values


def _completeness_features(t: FeatureTotals) -> dict[str, float]:
    """How long loss has been complete (since the last success on any path, else since the
    onset), over how many probes, and the loss in the recent window before that."""
    any_ok_after = t.any_ok_after
    complete_start = t.last_ok_after if any_ok_after else t.onset
    before = before_failures = 0
    if any_ok_after:
        for timeline in t.post_timelines:
            probes, failures = timeline.between(complete_start - t.recent_s, complete_start)
            before += probes
            before_failures += failures
    loss_before_complete = before_failures / before if before else -1.0
    if not t.post_failures:
        return {"loss_before_complete": loss_before_complete}
    if any_ok_after:
        complete = sum(timeline.after(complete_start) for timeline in t.post_timelines)
    else:
        complete = sum(timeline.probes for timeline in t.post_timelines)
    return {
        "loss_before_complete": loss_before_complete,
        "complete_s": max(0.0, t.now - complete_start),
        "probes_complete": float(complete),
    }


def assemble_features(
    totals: FeatureTotals, scope: ScopeFacts | None = None
) -> tuple[Features, Counter[str], dict[str, set[str]]]:
    """The features of an incident from its merged path summaries (with `scope`'s facts),
    the count of failure outcomes since onset, and each outcome class's vantages (both in
    order of first appearance, path by path)."""
    values: dict[str, float] = {
        **_pre_onset_features(totals),
        **_timing_features(totals),
        **_post_onset_features(totals),
        **_completeness_features(totals),
        "recent_s": totals.recent_s,
    }
    if scope is not None:
        # `scope.as_features()`, without `asdict`'s deep copy of every float.
        values.update({name: getattr(scope, name) for name in _SCOPE_FIELDS})
    return Features(**values), totals.outcomes, totals.class_vantages


def compute_features(
    paths: Iterable[tuple[str, PathHistory]],
    *,
    onset: float,
    now: float,
    settings: FeatureSettings,
    recent_s: float | None = None,
    scope: ScopeFacts | None = None,
    path_onsets: Sequence[float] | None = None,
) -> tuple[Features, Counter[str], dict[str, set[str]]]:
    """Summarise the failing paths' histories, given as (vantage, history), around `onset`.

    `path_onsets` (one per path, in order) is when each path's own target began to fail,
    for targets that joined an incident later: its post and recent windows start there,
    so the answers it gave before it failed are not read as traffic getting through.

    Returns the features, the count of failure outcomes since onset, and for each
    outcome class the vantages that saw it.
    """
    bounds = WindowBounds.around(onset, now, settings, recent_s)
    totals = FeatureTotals.empty(bounds)
    for i, (vantage, hist) in enumerate(paths):
        path_onset = path_onsets[i] if path_onsets is not None else None
        totals.add(summarise_path(vantage, hist, bounds, path_onset))
    return assemble_features(totals, scope)

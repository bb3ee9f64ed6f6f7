"""Features: the numbers attribution reads, computed from recent per-path history.

Each path (target, vantage) keeps a bounded history of samples (time, outcome,
latency, time to first byte, latency anomaly score). When an incident is judged, the
samples of its paths are cut into windows around the onset:

    baseline   [onset - baseline_s, onset - pre_s)   what normal looked like
    pre        [onset - pre_s, onset)                the shape just before the onset
    post       [onset, now]                          what failed, and how
    recent     [max(onset, now - recent_s), now]     the current regime

Timing since the onset (latency of the probes that still succeed, time to first byte)
is compared per path with that path's own reference: its baseline window when that
holds enough samples, else everything it saw before the onset (a young history).

and summarised as a `Features` vector (kept on the incident so a learned model can be
trained on it later) plus an `EvidenceWindow` holding the facts rules cite.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter, deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from netvigil.detect.baseline import AnomalyDetector, BaselineDetector
from netvigil.evidence import Features, ScopeFacts
from netvigil.model import Measurement

__all__ = [
    "OUTCOME_CLASSES",
    "FeatureSettings",
    "Features",
    "PathHistory",
    "Sample",
    "compute_features",
    "latency_of",
    "outcome_class",
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


def outcome_class(outcome: str) -> str:
    """The attribution class of a failure outcome (`silent`, `refused`, `dns`...)."""
    return OUTCOME_CLASSES.get(outcome, "other")


def latency_of(m: Measurement) -> float | None:
    """The network latency a measurement reports: TCP connect time, else total, in seconds.

    Connect time is one round trip through the network, free of server think time, so
    congestion shows in it and application slowness does not (that is `ttfb`).
    """
    t = m.timings
    value = t.get("connect")
    if value is None:
        value = t.get("total")
    return value


OVERLOAD_STATUS = frozenset({429, 503})
"""HTTP statuses a server sends when it sheds load (Too Many Requests, Service Unavailable)."""


class Sample(NamedTuple):
    """One measurement as history keeps it."""

    ts: float
    ok: bool
    outcome: str
    connected: bool
    latency: float | None
    ttfb: float | None
    score: float
    overload: bool = False
    """A failed HTTP probe answered with an overload status (429 or 503)."""


@dataclass(frozen=True, slots=True)
class FeatureSettings:
    """Window lengths (seconds) for features."""

    baseline_s: float = 3600.0
    pre_s: float = 600.0
    recent_s: float = 60.0
    """The recent window when no probe interval is known; the detector uses
    `recent_intervals` probe intervals instead (the current regime is a few probes)."""
    recent_intervals: float = 3.0
    abrupt_probes: int = 5
    max_samples: int = 1024
    max_paths: int = 60
    """At most this many paths are read for one incident's window (spread evenly over its
    targets and vantages), so judging a large incident costs no more than a small one."""

    @property
    def horizon_s(self) -> float:
        """How long history is kept."""
        return self.baseline_s + self.pre_s


class PathHistory:
    """Bounded history of one path, with a streaming latency anomaly detector."""

    __slots__ = ("detector", "samples", "settings")

    def __init__(
        self,
        settings: FeatureSettings,
        detector: AnomalyDetector | None = None,
    ) -> None:
        self.settings = settings
        self.samples: deque[Sample] = deque(maxlen=settings.max_samples)
        self.detector: AnomalyDetector = detector if detector is not None else BaselineDetector()

    def observe(self, m: Measurement) -> None:
        """Append one measurement (in time order) and drop samples past the horizon."""
        latency = latency_of(m)
        score = 0.0
        if m.ok and latency is not None:
            score = self.detector.update(m.ts, latency)
        phase = m.phase.value if m.phase is not None else None
        connected = m.ok or phase in ("tls", "request", "response")
        outcome = m.outcome.value
        overload = not m.ok and m.detail.get("status") in OVERLOAD_STATUS
        self.samples.append(
            Sample(m.ts, m.ok, outcome, connected, latency, m.timings.get("ttfb"), score, overload)
        )
        cutoff = m.ts - self.settings.horizon_s
        samples = self.samples
        while samples[0].ts < cutoff:
            samples.popleft()

    def between(self, start: float, end: float) -> list[Sample]:
        """Samples with start <= ts < end."""
        return [s for s in self.samples if start <= s.ts < end]

    def since(self, start: float) -> list[Sample]:
        """Samples with ts >= start."""
        out: list[Sample] = []
        for s in reversed(self.samples):
            if s.ts < start:
                break
            out.append(s)
        out.reverse()
        return out


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    idx = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[idx]


def _jitter(values: list[float]) -> float:
    if len(values) < 2:
        return 0.0
    diffs = [abs(b - a) for a, b in itertools.pairwise(values)]
    return sum(diffs) / len(diffs)


def _ok_latencies(samples: Iterable[Sample]) -> list[float]:
    return [s.latency for s in samples if s.ok and s.latency is not None]


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


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
    abrupt_clean = abrupt_total = 0
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
        bl = _ok_latencies(base)
        pl = _ok_latencies(pre)
        base_lat.extend(bl)
        pre_lat.extend(pl)
        base_jit.append(_jitter(bl))
        if len(pl) >= 2:
            pre_jit.append(_jitter(pl))
        base_median = _median(bl) if len(bl) >= 5 else None
        ttfb_b = [s.ttfb for s in base if s.ok and s.ttfb is not None]
        ttfb_base.extend(ttfb_b)
        # The path's own reference: its baseline, else all it saw before the onset.
        ref_lat = bl if len(bl) >= 5 else bl + pl
        if len(ttfb_b) >= 5:
            ttfb_ref.extend(ttfb_b)
        else:
            ttfb_ref.extend(s.ttfb for s in base + pre if s.ok and s.ttfb is not None)
        post_lat = _ok_latencies(post)
        if post_lat and len(ref_lat) >= 3:
            post_ratios.append((_median(post_lat) + 0.005) / (_median(ref_lat) + 0.005))
        for s in pre:
            pre_total += 1
            if not s.ok:
                pre_fail += 1
            elif s.score > anomaly_pre:
                anomaly_pre = s.score
        for s in pre[-settings.abrupt_probes :]:
            abrupt_total += 1
            slow = (
                base_median is not None
                and s.latency is not None
                and s.latency > 2.0 * base_median + 0.005
            )
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
    p95_base = _quantile(base_lat, 0.95) if len(base_lat) >= 5 else -1.0
    p95_pre = _quantile(pre_lat, 0.95) if pre_lat else -1.0
    jit_base = sum(base_jit) / len(base_jit) if base_jit and len(base_lat) >= 5 else -1.0
    jit_pre = sum(pre_jit) / len(pre_jit) if pre_jit else -1.0
    values: dict[str, float] = {
        "abruptness": abrupt_clean / abrupt_total if abrupt_total else -1.0,
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
        "latency_post_ratio": _median(post_ratios) if post_ratios else -1.0,
        "frac_overload": overload / fails if post_fail else 0.0,
        "ttfb_ok_post_s": _median(ttfb_ok_post) if ttfb_ok_post else -1.0,
        "ttfb_ref_s": _median(ttfb_ref) if len(ttfb_ref) >= 3 else -1.0,
        "flaps_post": flaps / n_paths if n_paths else 0.0,
        "probes_post": float(post_total),
        "connected_frac": connected / fails if post_fail else 0.0,
        "ttfb_post_s": _median(ttfb_post) if ttfb_post else -1.0,
        "ttfb_base_s": _median(ttfb_base) if len(ttfb_base) >= 5 else -1.0,
        "recent_s": recent,
    }
    for name in _CLASSES:
        values[f"frac_{name}"] = classes[name] / fails if post_fail else 0.0
    if scope is not None:
        values.update(scope.as_features())
    return Features(**values), outcomes, class_vantages

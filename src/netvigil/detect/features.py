"""Features: the numbers attribution reads, computed from recent per-path history.

When an incident is judged, the samples of each of its paths (`history.PathHistory`)
are cut into windows around the onset:

    baseline   [onset - baseline_s, onset - pre_s)   what normal looked like
    pre        [onset - pre_s, onset)                the shape just before the onset
    post       [onset, now]                          what failed, and how
    recent     [max(onset, now - recent_s), now]     the current regime

Timing since the onset (latency of the probes that still succeed, time to first byte)
is compared per path with that path's own reference: its baseline window when that
holds enough samples, else everything it saw before the onset (a young history).

Each path is summarised on its own (`summarise_path` -> `PathSummary`: its reference,
its shape before the onset, its counts since), reading nothing of the other paths, and
the summaries are merged into a `Features` vector (kept on the incident so a learned
model can be trained on it later) plus the outcome counts and per-class vantages the
`EvidenceWindow` cites (`assemble_features`). `compute_features` does both.
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, TypeVar

from netvigil.detect.history import FeatureSettings, PathHistory, Sample, latency_of
from netvigil.evidence import Features, ScopeFacts

__all__ = [
    "OUTCOME_CLASSES",
    "FeatureSettings",
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


def outcome_class(outcome: str) -> str:
    """The attribution class of a failure outcome (`silent`, `refused`, `dns`...)."""
    return OUTCOME_CLASSES.get(outcome, "other")


_T = TypeVar("_T")


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


def _joined(parts: Iterable[list[_T]]) -> list[_T]:
    """The lists one after the other, in one list."""
    return list(itertools.chain.from_iterable(parts))


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


@dataclass(frozen=True, slots=True)
class WindowBounds:
    """Where one judgement of an incident cuts every path's history (seconds)."""

    onset: float
    now: float
    base_start: float  # onset - baseline_s
    pre_start: float  # onset - pre_s, where the baseline ends
    recent_s: float  # the length of the recent window
    abrupt_probes: int  # how many of the last probes before the onset judge abruptness

    @classmethod
    def around(
        cls, onset: float, now: float, settings: FeatureSettings, recent_s: float | None = None
    ) -> WindowBounds:
        """The bounds for an incident that began at `onset`, judged at `now`; the recent
        window is `recent_s` long, or `settings.recent_s` when that is None."""
        return cls(
            onset=onset,
            now=now,
            base_start=onset - settings.baseline_s,
            pre_start=onset - settings.pre_s,
            recent_s=settings.recent_s if recent_s is None else recent_s,
            abrupt_probes=settings.abrupt_probes,
        )


class PathWindows(NamedTuple):
    """One path's samples cut into the windows around the onset, each in time order."""

    base: list[Sample]
    pre: list[Sample]
    post: list[Sample]
    """From the path's own onset (the incident's, or later if its target joined later)."""
    recent_start: float
    """Where the path's recent window begins: the later of its own onset and now - recent."""


def cut_windows(hist: PathHistory, bounds: WindowBounds, path_onset: float | None) -> PathWindows:
    """Cut `hist` into baseline, pre and post windows; `path_onset` is when the path's own
    target began to fail (None: at the incident's onset)."""
    own = max(bounds.onset, path_onset) if path_onset is not None else bounds.onset
    samples = hist.between(bounds.base_start, bounds.now + 1e-9)
    pre_start, onset = bounds.pre_start, bounds.onset
    return PathWindows(
        base=[s for s in samples if s.ts < pre_start],
        pre=[s for s in samples if pre_start <= s.ts < onset],
        post=[s for s in samples if s.ts >= own],
        recent_start=max(own, bounds.now - bounds.recent_s),
    )


@dataclass(slots=True)
class PathReference:
    """What normal looked like on one path before the onset: the yardsticks for timing."""

    base_latencies: list[float]  # of the successful baseline probes, in time order
    pre_latencies: list[float]  # of the successful pre-window probes, in time order
    base_jitter: float  # mean step between baseline latencies (0 with fewer than 2)
    pre_jitter: float | None  # the same over the pre window; None with fewer than 2
    base_median: float | None  # None with fewer than 5 baseline latencies
    base_ttfb: list[float]  # time to first byte of the successful baseline probes
    ttfb: list[float]  # the first-byte reference, chosen like `latencies`

    @property
    def latencies(self) -> list[float]:
        """The latencies post-onset latency is compared with: the baseline's when it holds at
        least 5, else all seen before the onset (a young history)."""
        bl = self.base_latencies
        return bl if len(bl) >= 5 else bl + self.pre_latencies


def path_reference(base: Sequence[Sample], pre: Sequence[Sample]) -> PathReference:
    """The reference of one path from its baseline and pre windows."""
    bl = _ok_latencies(base)
    pl = _ok_latencies(pre)
    base_ttfb = [s.ttfb for s in base if s.ok and s.ttfb is not None]
    if len(base_ttfb) >= 5:
        ttfb = base_ttfb
    else:
        ttfb = [s.ttfb for s in itertools.chain(base, pre) if s.ok and s.ttfb is not None]
    return PathReference(
        base_latencies=bl,
        pre_latencies=pl,
        base_jitter=_jitter(bl),
        pre_jitter=_jitter(pl) if len(pl) >= 2 else None,
        base_median=_median(bl) if len(bl) >= 5 else None,
        base_ttfb=base_ttfb,
        ttfb=ttfb,
    )


@dataclass(slots=True)
class PreOnsetShape:
    """How one path behaved in the pre window, just before the onset."""

    probes: int
    failures: int
    anomaly: float  # highest anomaly score of a successful probe (0 when none is higher)
    last_probes: int  # how many of the last `abrupt_probes` probes were read
    last_clean: int  # of those, how many succeeded with an unremarkable latency


def pre_onset_shape(
    pre: Sequence[Sample], base_median: float | None, abrupt_probes: int
) -> PreOnsetShape:
    """The pre-window shape of one path: its loss, its highest anomaly, and whether its last
    probes before the onset were clean (a probe is slow past twice the baseline median)."""
    failures = 0
    anomaly = 0.0
    for s in pre:
        if not s.ok:
            failures += 1
        elif s.score > anomaly:
            anomaly = s.score
    last = pre[-abrupt_probes:]
    clean = 0
    for s in last:
        slow = (
            base_median is not None
            and s.latency is not None
            and s.latency > 2.0 * base_median + 0.005
        )
        if s.ok and s.score < 0.5 and not slow:
            clean += 1
    return PreOnsetShape(len(pre), failures, anomaly, len(last), clean)


@dataclass(slots=True)
class PostOnsetCounts:
    """What one path's probes saw from its own onset on. All but the recent counts (whose
    window moves with `now`) and `last_probe_ok` (needed to count a flap across the seam)
    can be extended with new samples by adding theirs."""

    probes: int = 0
    failures: int = 0
    recent_probes: int = 0
    recent_failures: int = 0
    connected: int = 0  # failures that got past the TCP connect
    overload: int = 0  # failures answered with an overload status
    flaps: int = 0  # changes between success and failure from one probe to the next
    last_ok: float | None = None  # time of the latest success; None when none succeeded
    last_probe_ok: bool | None = None  # whether the latest probe succeeded; None: no probe
    outcomes: Counter[str] = field(default_factory=Counter)  # in order of first appearance
    ttfb: list[float] = field(default_factory=list)  # first-byte times of all probes
    ttfb_ok: list[float] = field(default_factory=list)  # and of the successful ones


def count_post_onset(post: Sequence[Sample], recent_start: float) -> PostOnsetCounts:
    """Count one path's probes since its onset; `recent_start` opens the recent window."""
    failures = recent_probes = recent_failures = connected = overload = flaps = 0
    last_ok: float | None = None
    outcomes: Counter[str] = Counter()
    ttfb: list[float] = []
    ttfb_ok: list[float] = []
    prev_ok: bool | None = None
    for s in post:
        recent = s.ts >= recent_start
        if recent:
            recent_probes += 1
        if s.ok:
            if last_ok is None or s.ts > last_ok:
                last_ok = s.ts
        else:
            failures += 1
            outcomes[s.outcome] += 1
            if s.connected:
                connected += 1
            if s.overload:
                overload += 1
            if recent:
                recent_failures += 1
        if s.ttfb is not None:
            ttfb.append(s.ttfb)
            if s.ok:
                ttfb_ok.append(s.ttfb)
        if prev_ok is not None and prev_ok != s.ok:
            flaps += 1
        prev_ok = s.ok
    return PostOnsetCounts(
        probes=len(post),
        failures=failures,
        recent_probes=recent_probes,
        recent_failures=recent_failures,
        connected=connected,
        overload=overload,
        flaps=flaps,
        last_ok=last_ok,
        last_probe_ok=prev_ok,
        outcomes=outcomes,
        ttfb=ttfb,
        ttfb_ok=ttfb_ok,
    )


@dataclass(slots=True)
class PathSummary:
    """Everything one path contributes to an incident's features: the partial summary
    `assemble_features` merges over the incident's paths."""

    vantage: str
    reference: PathReference
    pre: PreOnsetShape
    post: PostOnsetCounts
    post_samples: list[Sample]  # kept: when loss became complete depends on all paths
    latency_post_ratio: float | None
    """Median post-onset latency over the reference median (each plus 5 ms); None without
    a successful post-onset probe or with fewer than 3 reference latencies."""


def summarise_path(
    vantage: str, hist: PathHistory, bounds: WindowBounds, path_onset: float | None = None
) -> PathSummary:
    """The summary of one path, seen from `vantage`, for an incident judged at `bounds`."""
    windows = cut_windows(hist, bounds, path_onset)
    reference = path_reference(windows.base, windows.pre)
    post_lat = _ok_latencies(windows.post)
    ratio = None
    if post_lat:
        ref_lat = reference.latencies
        if len(ref_lat) >= 3:
            ratio = (_median(post_lat) + 0.005) / (_median(ref_lat) + 0.005)
    return PathSummary(
        vantage=vantage,
        reference=reference,
        pre=pre_onset_shape(windows.pre, reference.base_median, bounds.abrupt_probes),
        post=count_post_onset(windows.post, windows.recent_start),
        post_samples=windows.post,
        latency_post_ratio=ratio,
    )


def _pre_onset_features(paths: Sequence[PathSummary]) -> dict[str, float]:
    """Abruptness, loss, latency and jitter before the onset, against the baseline."""
    base_lat = _joined(p.reference.base_latencies for p in paths)
    pre_lat = _joined(p.reference.pre_latencies for p in paths)
    base_jit = [p.reference.base_jitter for p in paths]
    pre_jit = [p.reference.pre_jitter for p in paths if p.reference.pre_jitter is not None]
    pre_total = sum(p.pre.probes for p in paths)
    abrupt_total = sum(p.pre.last_probes for p in paths)
    anomaly = 0.0
    for p in paths:
        if p.pre.anomaly > anomaly:
            anomaly = p.pre.anomaly
    p95_base = _quantile(base_lat, 0.95) if len(base_lat) >= 5 else -1.0
    p95_pre = _quantile(pre_lat, 0.95) if pre_lat else -1.0
    jit_base = sum(base_jit) / len(base_jit) if base_jit and len(base_lat) >= 5 else -1.0
    jit_pre = sum(pre_jit) / len(pre_jit) if pre_jit else -1.0
    abrupt_clean = sum(p.pre.last_clean for p in paths)
    pre_fail = sum(p.pre.failures for p in paths)
    return {
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
        "anomaly_pre": anomaly,
    }


def _timing_features(paths: Sequence[PathSummary]) -> dict[str, float]:
    """Latency and time to first byte since the onset, and their references."""
    ratios = [p.latency_post_ratio for p in paths if p.latency_post_ratio is not None]
    ttfb_post = _joined(p.post.ttfb for p in paths)
    ttfb_ok_post = _joined(p.post.ttfb_ok for p in paths)
    ttfb_base = _joined(p.reference.base_ttfb for p in paths)
    ttfb_ref = _joined(p.reference.ttfb for p in paths)
    return {
        "latency_post_ratio": _median(ratios) if ratios else -1.0,
        "ttfb_ok_post_s": _median(ttfb_ok_post) if ttfb_ok_post else -1.0,
        "ttfb_ref_s": _median(ttfb_ref) if len(ttfb_ref) >= 3 else -1.0,
        "ttfb_post_s": _median(ttfb_post) if ttfb_post else -1.0,
        "ttfb_base_s": _median(ttfb_base) if len(ttfb_base) >= 5 else -1.0,
    }


def _post_onset_features(paths: Sequence[PathSummary], outcomes: Counter[str]) -> dict[str, float]:
    """Loss, flaps and the mix of failures since the onset; `outcomes` is their merged count."""
    post_total = sum(p.post.probes for p in paths)
    post_fail = sum(p.post.failures for p in paths)
    recent_total = sum(p.post.recent_probes for p in paths)
    recent_fail = sum(p.post.recent_failures for p in paths)
    fails = max(1, post_fail)
    values = {
        "loss_post": post_fail / post_total if post_total else 0.0,
        "loss_recent": recent_fail / recent_total if recent_total else 0.0,
        "frac_overload": sum(p.post.overload for p in paths) / fails if post_fail else 0.0,
        "flaps_post": sum(p.post.flaps for p in paths) / len(paths) if paths else 0.0,
        "probes_post": float(post_total),
        "connected_frac": sum(p.post.connected for p in paths) / fails if post_fail else 0.0,
    }
    classes: Counter[str] = Counter()
    for outcome, count in outcomes.items():
        classes[outcome_class(outcome)] += count
    for name in _CLASSES:
        values[f"frac_{name}"] = classes[name] / fails if post_fail else 0.0
    return values


def _completeness_features(paths: Sequence[PathSummary], bounds: WindowBounds) -> dict[str, float]:
    """How long loss has been complete (since the last success on any path, else since the
    onset), over how many probes, and the loss in the recent window before that."""
    onset, recent = bounds.onset, bounds.recent_s
    last_ok_after = onset
    any_ok_after = False
    for p in paths:
        last_ok = p.post.last_ok
        if last_ok is not None:
            any_ok_after = True
            if last_ok > last_ok_after:
                last_ok_after = last_ok
    complete_start = last_ok_after if any_ok_after else onset
    post = _joined(p.post_samples for p in paths)
    before_complete = [s for s in post if complete_start - recent <= s.ts < complete_start]
    loss_before_complete = -1.0
    if any_ok_after and before_complete:
        loss_before_complete = sum(1 for s in before_complete if not s.ok) / len(before_complete)
    if not any(p.post.failures for p in paths):
        return {"loss_before_complete": loss_before_complete}
    return {
        "loss_before_complete": loss_before_complete,
        "complete_s": max(0.0, bounds.now - complete_start),
        "probes_complete": float(sum(1 for s in post if s.ts > complete_start or not any_ok_after)),
    }


def merge_outcomes(
    paths: Iterable[PathSummary],
) -> tuple[Counter[str], dict[str, set[str]]]:
    """The failure outcomes of all paths counted together, and for each outcome class the
    vantages that saw it (both in order of first appearance, path by path)."""
    outcomes: Counter[str] = Counter()
    class_vantages: dict[str, set[str]] = {}
    for p in paths:
        outcomes.update(p.post.outcomes)
        for outcome in p.post.outcomes:
            class_vantages.setdefault(outcome_class(outcome), set()).add(p.vantage)
    return outcomes, class_vantages


def assemble_features(
    paths: Sequence[PathSummary], bounds: WindowBounds, scope: ScopeFacts | None = None
) -> tuple[Features, Counter[str], dict[str, set[str]]]:
    """Merge the path summaries of an incident into its features (with `scope`'s facts),
    the count of failure outcomes since onset, and each outcome class's vantages."""
    outcomes, class_vantages = merge_outcomes(paths)
    values: dict[str, float] = {
        **_pre_onset_features(paths),
        **_timing_features(paths),
        **_post_onset_features(paths, outcomes),
        **_completeness_features(paths, bounds),
        "recent_s": bounds.recent_s,
    }
    if scope is not None:
        values.update(scope.as_features())
    return Features(**values), outcomes, class_vantages


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
    summaries = [
        summarise_path(vantage, hist, bounds, path_onsets[i] if path_onsets is not None else None)
        for i, (vantage, hist) in enumerate(paths)
    ]
    return assemble_features(summaries, bounds, scope)

"""Path summaries: one path's history cut into windows around an incident's onset and
summarised, reading nothing of the incident's other paths.

    baseline   [onset - baseline_s, onset - pre_s)   what normal looked like
    pre        [onset - pre_s, onset)                the shape just before the onset
    post       [own onset, now]                      what failed, and how
    recent     [max(own onset, now - recent_s), now] the current regime

A `PathSummary` holds the path's reference (what post-onset timing is compared with),
its shape before the onset and its counts since; `features` merges the summaries of an
incident's paths into its feature vector.
"""

from __future__ import annotations

import bisect
import itertools
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from netvigil.detect.sample import LATENCY, OK, OUTCOME, OVERLOAD, SCORE, SampleRow

if TYPE_CHECKING:
    from netvigil.detect.history import FeatureSettings, PathHistory, Sample

__all__ = [
    "PathReference",
    "PathSummary",
    "PathWindows",
    "PostOnsetCounts",
    "PostTimeline",
    "PreOnsetShape",
    "WindowBounds",
    "count_post_onset",
    "cut_windows",
    "jitter",
    "median",
    "path_reference",
    "pre_onset_shape",
    "sorted_median",
    "summarise_path",
    "summarise_windows",
]


def jitter(values: list[float]) -> float:
    """The mean step between consecutive values (0 with fewer than 2)."""
    if len(values) < 2:
        return 0.0
    diffs = [abs(b - a) for a, b in itertools.pairwise(values)]
    return sum(diffs) / len(diffs)


def _ok_latencies(samples: Iterable[Sample]) -> list[float]:
    return [s.latency for s in samples if s.ok and s.latency is not None]


def median(values: list[float]) -> float:
    """The median of `values` (the mean of the middle two when their number is even)."""
    return sorted_median(sorted(values))


def sorted_median(ordered: list[float]) -> float:
    """The median of values already in ascending order."""
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
        base_jitter=jitter(bl),
        pre_jitter=jitter(pl) if len(pl) >= 2 else None,
        base_median=median(bl) if len(bl) >= 5 else None,
        base_ttfb=base_ttfb,
        ttfb=ttfb,
    )


@dataclass(slots=True)
class PreOnsetShape:
    """How one path behaved in the pre window, just before the onset."""

    probes: int
    lost: int  # failures that went unanswered or were turned away overloaded (`LOST`)
    anomaly: float  # highest anomaly score of a successful probe (0 when none is higher)
    last_probes: int  # how many of the last `abrupt_probes` probes were read
    last_clean: int  # of those, how many succeeded with an unremarkable latency
    last_slow: int  # of those, how many answered slower than twice the usual latency


LOST = frozenset({"tcp_timeout", "icmp_timeout", "http_timeout", "tls_timeout", "dns_timeout"})
"""Failure outcomes of probes lost on their way (no answer in time), as a flood loses them:
a refusal, an unreachable, an error status or a bad certificate is an answer, the sign of
another failure (a crashed service before the onset is no flood's build-up)."""

YOUNG_REFERENCE = 3
"""Latencies before the last probes from which, without a baseline, their median is the
usual latency the last probes are judged slow against."""


def pre_onset_shape(
    pre: Sequence[SampleRow], base_median: float | None, abrupt_probes: int
) -> PreOnsetShape:
    """The pre-window shape of one path: its loss (`LOST`), its highest anomaly, and whether
    its last probes before the onset were clean (a probe is slow past twice the usual latency, and
    5 ms: the baseline's median or, in a history too young for a baseline, the median of
    the pre window's latencies before those last probes, when it holds `YOUNG_REFERENCE`).

    `pre` holds samples or plain sample rows (read by position, as a running summary
    keeps them)."""
    lost = 0
    anomaly = 0.0
    for s in pre:
        if not s[OK]:
            if s[OUTCOME] in LOST or s[OVERLOAD]:
                lost += 1
        elif s[SCORE] > anomaly:
            anomaly = s[SCORE]
    split = max(0, len(pre) - abrupt_probes)
    last = pre[split:]
    usual = base_median
    if usual is None:
        earlier = [s[LATENCY] for s in pre[:split] if s[OK] and s[LATENCY] is not None]
        usual = median(earlier) if len(earlier) >= YOUNG_REFERENCE else None
    clean = slow = 0
    for s in last:
        latency = s[LATENCY]
        late = usual is not None and latency is not None and latency > 2.0 * usual + 0.005
        if s[OK] and late:
            slow += 1
        if s[OK] and s[SCORE] < 0.5 and not late:
            clean += 1
    return PreOnsetShape(len(pre), lost, anomaly, len(last), clean, slow)


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


@dataclass(frozen=True, slots=True)
class PostTimeline:
    """When one path's probes since its onset ran (`ts[lo:hi]`, in time order) and how
    many of them failed (`failed_before[i]`: failures among `ts[:i]`, relative to
    `failed_before[lo]`), so that the probes and failures in any time range are counted
    by bisection."""

    ts: list[float]
    failed_before: list[int]
    lo: int
    hi: int

    @classmethod
    def of(cls, samples: Sequence[Sample]) -> PostTimeline:
        """The timeline of `samples` (in time order)."""
        failed_before = [0]
        for s in samples:
            failed_before.append(failed_before[-1] + (not s.ok))
        return cls([s.ts for s in samples], failed_before, 0, len(samples))

    @property
    def probes(self) -> int:
        """How many probes it holds."""
        return self.hi - self.lo

    def _index(self, ts: float) -> int:
        return bisect.bisect_left(self.ts, ts, self.lo, self.hi)

    def from_(self, start: float) -> tuple[int, int]:
        """(probes, failures) at or after `start`."""
        i = self._index(start)
        return self.hi - i, self.failed_before[self.hi] - self.failed_before[i]

    def between(self, start: float, end: float) -> tuple[int, int]:
        """(probes, failures) with start <= ts < end."""
        i = self._index(start)
        j = max(i, self._index(end))
        return j - i, self.failed_before[j] - self.failed_before[i]

    def after(self, ts: float) -> int:
        """How many probes ran strictly after `ts`."""
        return self.hi - bisect.bisect_right(self.ts, ts, self.lo, self.hi)


@dataclass(slots=True)
class PathSummary:
    """Everything one path contributes to an incident's features: the partial summary
    `assemble_features` merges over the incident's paths."""

    vantage: str
    reference: PathReference
    pre: PreOnsetShape
    post: PostOnsetCounts
    post_timeline: PostTimeline  # kept: when loss became complete depends on all paths
    latency_post_ratio: float | None
    """Median post-onset latency over the reference median (each plus 5 ms); None without
    a successful post-onset probe or with fewer than 3 reference latencies."""


def summarise_path(
    vantage: str, hist: PathHistory, bounds: WindowBounds, path_onset: float | None = None
) -> PathSummary:
    """The summary of one path, seen from `vantage`, for an incident judged at `bounds`:
    the history's running summary for this cut when it keeps one (`PathHistory.running`),
    else computed from the history's windows (`summarise_windows`); both give the same."""
    running = hist.running(bounds, path_onset)
    if running is not None:
        return running.summary(vantage, bounds)
    return summarise_windows(vantage, hist, bounds, path_onset)


def summarise_windows(
    vantage: str, hist: PathHistory, bounds: WindowBounds, path_onset: float | None = None
) -> PathSummary:
    """The summary of one path computed afresh from its history's windows."""
    windows = cut_windows(hist, bounds, path_onset)
    reference = path_reference(windows.base, windows.pre)
    post_lat = _ok_latencies(windows.post)
    ratio = None
    if post_lat:
        ref_lat = reference.latencies
        if len(ref_lat) >= 3:
            ratio = (median(post_lat) + 0.005) / (median(ref_lat) + 0.005)
    return PathSummary(
        vantage=vantage,
        reference=reference,
        pre=pre_onset_shape(windows.pre, reference.base_median, bounds.abrupt_probes),
        post=count_post_onset(windows.post, windows.recent_start),
        post_timeline=PostTimeline.of(windows.post),
        latency_post_ratio=ratio,
    )

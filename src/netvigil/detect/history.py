"""Path history: what the detector remembers of each path (target, vantage).

Each path keeps a bounded history of samples (time, outcome, latency, time to first
byte, latency anomaly score), long enough to cut the windows `features` reads around an
incident's onset (`FeatureSettings.horizon_s`), and for the cuts an open incident reads
again and again, a running summary each (`running_summary`), brought up to date with
the samples that arrived since the last judgement rather than recomputed.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from netvigil.detect.baseline import AnomalyDetector, BaselineDetector
from netvigil.detect.path_summary import WindowBounds
from netvigil.detect.running_summary import RunningPathSummary, SummaryKey
from netvigil.detect.sample import TS, Sample, SampleRow
from netvigil.model import Measurement

__all__ = [
    "OVERLOAD_STATUS",
    "FeatureSettings",
    "PathHistory",
    "Sample",
    "heard_nothing",
    "latency_of",
]


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


@dataclass(frozen=True, slots=True)
class FeatureSettings:
    """Window lengths (seconds) for features."""

    baseline_s: float = 3600.0
    pre_s: float = 600.0
    recent_s: float = 60.0
    """The recent window when no probe interval is known; the detector uses
    `recent_intervals` probe intervals instead (the current regime is a few probes)."""
    recent_intervals: float = 3.0
    abrupt_probes: int = 3
    """The last probes of a path before the onset that say whether it was abrupt (all
    clean) or built up (lost or slow): three, so that an earlier outage that ended a few
    probes before the onset is not read as this incident's build-up."""
    max_samples: int = 1024
    max_paths: int = 60
    """At most this many paths are read for one incident's window (spread evenly over its
    targets and vantages), so judging a large incident costs no more than a small one."""

    @property
    def horizon_s(self) -> float:
        """How long history is kept."""
        return self.baseline_s + self.pre_s


MAX_RUNNING = 4
"""Running summaries one path keeps at most (an incident's onset can move earlier when a
target joins; a path can also speak for a vantage-problem incident)."""


def heard_nothing(m: Measurement) -> bool:
    """Whether `m` is a block round said up that got no reply: its `ok` is the belief
    carried over from earlier rounds (a block stays up until enough probes go
    unanswered), not an answer, so it tells nothing of whether traffic gets through."""
    if not m.ok or m.kind != "block":
        return False
    blocks = m.detail.get("blocks")
    if not isinstance(blocks, dict) or not blocks:
        return False
    return all(isinstance(b, dict) and b.get("replies") == 0 for b in blocks.values())


class PathHistory:
    """Bounded history of one path, with a streaming latency anomaly detector.

    `samples` is the history; fed through `observe`, in time order, it also keeps
    running summaries (`running`). Samples put into `samples` directly are read the
    plain way (`path_summary.summarise_windows`).
    """

    __slots__ = ("_ordered", "_running", "detector", "fed", "samples", "settings")

    def __init__(
        self,
        settings: FeatureSettings,
        detector: AnomalyDetector | None = None,
    ) -> None:
        self.settings = settings
        self.samples: deque[SampleRow] = deque(maxlen=settings.max_samples)
        """The samples, oldest first, as plain tuples (`sample.SampleRow`)."""
        self.detector: AnomalyDetector = detector if detector is not None else BaselineDetector()
        self.fed = 0
        """How many samples `observe` appended (the first sample held is number
        `fed - len(samples)`)."""
        self._ordered = True
        self._running: dict[SummaryKey, RunningPathSummary] = {}

    def observe(self, m: Measurement) -> None:
        """Append one measurement (in time order) and drop samples past the horizon. A
        block round said up without a reply is not kept (`heard_nothing`)."""
        if heard_nothing(m):
            return
        latency = latency_of(m)
        score = 0.0
        if m.ok and latency is not None:
            score = self.detector.update(m.ts, latency)
        phase = m.phase.value if m.phase is not None else None
        connected = m.ok or phase in ("tls", "request", "response")
        outcome = m.outcome.value
        overload = not m.ok and m.detail.get("status") in OVERLOAD_STATUS
        samples = self.samples
        if samples and m.ts < samples[-1][TS]:
            self._ordered = False
        samples.append(
            (m.ts, m.ok, outcome, connected, latency, m.timings.get("ttfb"), score, overload)
        )
        self.fed += 1
        cutoff = m.ts - self.settings.horizon_s
        while samples[0][TS] < cutoff:
            samples.popleft()
        if self._running and not self.fed % 64:
            self._forget_idle(m.ts)

    def running(self, bounds: WindowBounds, path_onset: float | None) -> RunningPathSummary | None:
        """The running summary for the cut `bounds` (with the path's own onset), brought
        up to date; None when the history cannot keep one exactly (samples put in
        directly or out of time order, a NaN latency). Like `between`, it reads the samples
        before `bounds.now + 1e-9`."""
        samples = self.samples
        first = self.fed - len(samples)
        if first < 0 or not self._ordered:
            return None
        own = max(bounds.onset, path_onset) if path_onset is not None else bounds.onset
        key = (bounds.base_start, bounds.pre_start, bounds.onset, own, bounds.abrupt_probes)
        summary = self._running.get(key)
        if summary is None:
            if len(self._running) >= MAX_RUNNING:
                oldest = min(self._running, key=lambda k: self._running[k].used_at)
                del self._running[oldest]
            summary = self._running[key] = RunningPathSummary(key)
        if not summary.update(samples, first, bounds.now + 1e-9):
            del self._running[key]
            return None
        return summary

    def _forget_idle(self, now: float) -> None:
        """Drop running summaries not read for a horizon (their incident is over)."""
        idle = [k for k, r in self._running.items() if now - r.used_at > self.settings.horizon_s]
        for key in idle:
            del self._running[key]

    def between(self, start: float, end: float) -> list[Sample]:
        """Samples with start <= ts < end."""
        return [Sample._make(s) for s in self.samples if start <= s[TS] < end]

    def since(self, start: float) -> list[Sample]:
        """Samples with ts >= start."""
        out: list[Sample] = []
        for s in reversed(self.samples):
            if s[TS] < start:
                break
            out.append(Sample._make(s))
        out.reverse()
        return out

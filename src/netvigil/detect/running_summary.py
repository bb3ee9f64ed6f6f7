"""Running path summaries: one path's summary around an incident's onset, kept up to date
as samples arrive instead of recomputed from the whole history at every judgement.

A `RunningPathSummary` is tied to one cut of a path's history (`WindowBounds` plus the
path's own onset). It consumes the history's samples once each, in time order, and
files them into the baseline, pre and post windows (`path_summary`); when the history
drops old samples past its horizon or length, it takes them out of its windows again.
Everything the summary reports is kept so that adding or removing a sample costs O(1)
(sorted lists for medians cost a memmove): counts, running maxima, the latencies in
time order and sorted, the steps between consecutive baseline latencies, first-byte
times, and the post-onset probe times with cumulative failures (`PostTimeline`, so that
counts over any time range are two bisections).

The summary it returns is exactly `summarise_path`'s over the same history: the same
lists in the same order, the same floats (sums are taken over the same values in the
same order; medians read the same sorted values). Only the pre-onset shape is
recomputed from the pre window, and only when that window or the baseline median
changed (rarely once the onset has passed).
"""

from __future__ import annotations

import bisect
from collections import Counter, deque
from typing import TYPE_CHECKING, NamedTuple

from netvigil.detect.path_summary import (
    PathReference,
    PathSummary,
    PostOnsetCounts,
    PostTimeline,
    PreOnsetShape,
    WindowBounds,
    jitter,
    pre_onset_shape,
    sorted_median,
)
from netvigil.detect.sample import (
    CONNECTED,
    LATENCY,
    OK,
    OUTCOME,
    OVERLOAD,
    TS,
    TTFB,
    SampleRow,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

__all__ = ["RunningPathSummary", "SummaryKey"]

SummaryKey = tuple[float, float, float, float, int]
"""(base_start, pre_start, onset, own onset, abrupt_probes): one cut of a path's history."""


def _counter(counts: dict[str, int]) -> Counter[str]:
    """A Counter with `counts`, in their order (without `Counter.__init__`'s type checks,
    which cost more than the copy)."""
    out: Counter[str] = Counter()
    dict.update(out, counts)
    return out


class _Timeline:
    """Post-onset probe times with failures counted cumulatively, growing at the end and
    dropped from the start; `view` is a snapshot later changes do not alter."""

    __slots__ = ("failed_before", "lo", "ts")

    def __init__(self) -> None:
        self.ts: list[float] = []
        self.failed_before: list[int] = [0]
        self.lo = 0

    def append(self, ts: float, failed: bool) -> None:
        self.ts.append(ts)
        self.failed_before.append(self.failed_before[-1] + failed)

    def drop_first(self) -> None:
        self.lo += 1
        if self.lo >= 256 and 2 * self.lo >= len(self.ts):
            # New lists, so that views taken before keep theirs.
            self.ts = self.ts[self.lo :]
            self.failed_before = self.failed_before[self.lo :]
            self.lo = 0

    def view(self) -> PostTimeline:
        return PostTimeline(self.ts, self.failed_before, self.lo, len(self.ts))


class _Baseline:
    """The baseline window's successful latencies (in time order and sorted), the steps
    between consecutive ones, and its first-byte times."""

    __slots__ = ("end", "latencies", "samples", "sorted", "steps", "ttfb", "version")

    def __init__(self) -> None:
        self.samples: deque[SampleRow] = deque()
        self.end = 0  # global index after the last sample filed here
        self.version = 0  # changes whenever a sample comes or goes
        self.latencies: deque[float] = deque()
        self.sorted: list[float] = []
        self.steps: deque[float] = deque()
        self.ttfb: deque[float] = deque()

    def add(self, s: SampleRow, g: int) -> None:
        self.samples.append(s)
        self.end = g + 1
        self.version += 1
        if s[OK]:
            latency = s[LATENCY]
            if latency is not None:
                if self.latencies:
                    self.steps.append(abs(latency - self.latencies[-1]))
                self.latencies.append(latency)
                bisect.insort(self.sorted, latency)
            if s[TTFB] is not None:
                self.ttfb.append(s[TTFB])

    def evict_before(self, first: int) -> bool:
        """Drop samples with a global index below `first`; whether any latency went."""
        changed = False
        samples = self.samples
        while samples and self.end - len(samples) < first:
            s = samples.popleft()
            self.version += 1
            if not s[OK]:
                continue
            if s[LATENCY] is not None:
                self.latencies.popleft()
                if self.steps:
                    self.steps.popleft()
                del self.sorted[bisect.bisect_left(self.sorted, s[LATENCY])]
                changed = True
            if s[TTFB] is not None:
                self.ttfb.popleft()
        return changed

    def median(self) -> float | None:
        return sorted_median(self.sorted) if len(self.sorted) >= 5 else None


class _Post:
    """The post-onset window: its counts, kept as samples come and go."""

    __slots__ = (
        "connected",
        "end",
        "failures",
        "first_at",
        "flaps",
        "last_ok",
        "lat_sorted",
        "ok_count",
        "outcomes",
        "outcomes_dirty",
        "overload",
        "samples",
        "timeline",
        "ttfb",
        "ttfb_ok",
    )

    def __init__(self) -> None:
        self.samples: deque[SampleRow] = deque()
        self.end = 0
        self.failures = self.connected = self.overload = self.flaps = self.ok_count = 0
        self.last_ok: float | None = None
        self.outcomes: dict[str, int] = {}  # in order of first appearance while not dirty
        self.first_at: dict[str, int] = {}  # global index of each outcome's first failure
        self.outcomes_dirty = False
        self.lat_sorted: list[float] = []
        self.ttfb: deque[float] = deque()
        self.ttfb_ok: deque[float] = deque()
        self.timeline = _Timeline()

    def add(self, s: SampleRow, g: int) -> None:
        samples = self.samples
        if samples and samples[-1][OK] != s[OK]:
            self.flaps += 1
        samples.append(s)
        self.end = g + 1
        if s[OK]:
            self.ok_count += 1
            if self.last_ok is None or s[TS] > self.last_ok:
                self.last_ok = s[TS]
            if s[LATENCY] is not None:
                bisect.insort(self.lat_sorted, s[LATENCY])
        else:
            self.failures += 1
            if s[OUTCOME] in self.outcomes:
                self.outcomes[s[OUTCOME]] += 1
            else:
                self.outcomes[s[OUTCOME]] = 1
                self.first_at[s[OUTCOME]] = g
            if s[CONNECTED]:
                self.connected += 1
            if s[OVERLOAD]:
                self.overload += 1
        if s[TTFB] is not None:
            self.ttfb.append(s[TTFB])
            if s[OK]:
                self.ttfb_ok.append(s[TTFB])
        self.timeline.append(s[TS], not s[OK])

    def evict_before(self, first: int) -> None:
        samples = self.samples
        while samples and self.end - len(samples) < first:
            g = self.end - len(samples)
            s = samples.popleft()
            if samples and samples[0][OK] != s[OK]:
                self.flaps -= 1
            if s[OK]:
                self.ok_count -= 1
                if not self.ok_count:
                    self.last_ok = None
                if s[LATENCY] is not None:
                    del self.lat_sorted[bisect.bisect_left(self.lat_sorted, s[LATENCY])]
            else:
                self.failures -= 1
                self._forget_outcome(s[OUTCOME], g)
                if s[CONNECTED]:
                    self.connected -= 1
                if s[OVERLOAD]:
                    self.overload -= 1
            if s[TTFB] is not None:
                self.ttfb.popleft()
                if s[OK]:
                    self.ttfb_ok.popleft()
            self.timeline.drop_first()

    def _forget_outcome(self, outcome: str, g: int) -> None:
        left = self.outcomes[outcome] - 1
        if not left:
            del self.outcomes[outcome]
            del self.first_at[outcome]
            return
        self.outcomes[outcome] = left
        if self.first_at[outcome] == g:
            start = self.end - len(self.samples)
            for i, s in enumerate(self.samples):
                if not s[OK] and s[OUTCOME] == outcome:
                    self.first_at[outcome] = start + i
                    break
            self.outcomes_dirty = True

    def counts(self, recent_start: float) -> PostOnsetCounts:
        if self.outcomes_dirty:
            order = sorted(self.outcomes, key=self.first_at.__getitem__)
            self.outcomes = {o: self.outcomes[o] for o in order}
            self.outcomes_dirty = False
        view = self.timeline.view()
        recent_probes, recent_failures = view.from_(recent_start)
        samples = self.samples
        return PostOnsetCounts(
            probes=len(samples),
            failures=self.failures,
            recent_probes=recent_probes,
            recent_failures=recent_failures,
            connected=self.connected,
            overload=self.overload,
            flaps=self.flaps,
            last_ok=self.last_ok,
            last_probe_ok=samples[-1][OK] if samples else None,
            outcomes=_counter(self.outcomes),
            ttfb=list(self.ttfb),
            ttfb_ok=list(self.ttfb_ok),
        )


class _PreOnset(NamedTuple):
    base_median: float | None  # the baseline median the shape was judged against
    shape: PreOnsetShape
    latencies: list[float]  # of the successful pre-window probes
    ttfb: list[float]  # of the successful pre-window probes
    jitter: float | None  # of `latencies`; None with fewer than 2


class RunningPathSummary:
    """One path's summary for one cut of its history (`SummaryKey`), kept up to date;
    see the module docstring. `update` feeds it the history's samples, `summary` reads it."""

    __slots__ = (
        "_base",
        "_first",
        "_last",
        "_post",
        "_pre",
        "_pre_cache",
        "_pre_end",
        "_ref_cache",
        "abrupt_probes",
        "base_start",
        "exact",
        "next_g",
        "onset",
        "own",
        "pre_start",
        "used_at",
    )

    def __init__(self, key: SummaryKey) -> None:
        self.base_start, self.pre_start, self.onset, self.own, self.abrupt_probes = key
        self.used_at = float("-inf")
        self._reset(0)

    def _reset(self, first: int) -> None:
        self.next_g = first
        self._first = first
        self._last: SampleRow | None = None
        self.exact = True
        self._base = _Baseline()
        self._pre: deque[SampleRow] = deque()
        self._pre_end = 0
        self._pre_cache: _PreOnset | None = None
        self._ref_cache: tuple[int, _PreOnset, PathReference, float | None] | None = None
        self._post = _Post()

    def update(self, samples: Sequence[SampleRow], first: int, end: float) -> bool:
        """Take in the samples before `end` not seen yet and let go of those the history
        dropped. `samples` is the history in time order; `first` the global index of its
        first sample. Returns False when the summary cannot be exact (a NaN latency): the
        caller then summarises from the history itself."""
        seen = self.next_g - first  # position of the first sample not seen yet
        n = len(samples)
        last = self._last
        if last is not None and (
            not 0 < seen <= n or samples[seen - 1] is not last or last[TS] >= end
        ):
            # Samples were dropped before being seen or replaced, or time went back.
            self._reset(first)
            seen = 0
        elif seen < 0:
            self._reset(first)
            seen = 0
        if first > self._first:
            self._evict(first)
        self._first = first
        while seen < n:
            s = samples[seen]
            if s[TS] >= end:
                break
            self._file(s, first + seen)
            self._last = s
            seen += 1
        self.next_g = first + seen
        return self.exact

    def _evict(self, first: int) -> None:
        if self._base.evict_before(first):
            self._pre_cache = None  # the baseline median may have moved
        pre = self._pre
        while pre and self._pre_end - len(pre) < first:
            pre.popleft()
            self._pre_cache = None
        self._post.evict_before(first)

    def _file(self, s: SampleRow, g: int) -> None:
        """File one sample into its window: baseline [base_start, pre_start), pre
        [pre_start, onset), post [own, ...); one before the baseline or in the gap between
        the incident's onset and the path's own is not kept."""
        latency = s[LATENCY]
        if latency is not None and latency != latency:
            self.exact = False  # NaN: sorted lists would not sort it as `sorted` does
        ts = s[TS]
        if ts >= self.own:  # own >= onset >= pre_start, base_start: the post window
            self._post.add(s, g)
        elif ts < self.base_start:
            return
        elif ts < self.pre_start:
            self._base.add(s, g)
            self._pre_cache = None
        elif ts < self.onset:
            self._pre.append(s)
            self._pre_end = g + 1
            self._pre_cache = None

    def _pre_onset(self) -> _PreOnset:
        """The pre window's part of the summary, cached while that window and the
        baseline median stay the same."""
        base_median = self._base.median()
        cache = self._pre_cache
        if cache is None or cache[0] != base_median:
            pre = self._pre
            latencies = [s[LATENCY] for s in pre if s[OK] and s[LATENCY] is not None]
            ttfb = [s[TTFB] for s in pre if s[OK] and s[TTFB] is not None]
            shape = pre_onset_shape(list(pre), base_median, self.abrupt_probes)
            pre_jitter = jitter(latencies) if len(latencies) >= 2 else None
            cache = _PreOnset(base_median, shape, latencies, ttfb, pre_jitter)
            self._pre_cache = cache
        return cache

    def _reference(self) -> tuple[PathReference, float | None]:
        """The path's reference and the median post-onset latency is compared with (None
        with fewer than 3 reference latencies), cached while the baseline and pre window
        stay the same (readers do not change what they are given)."""
        base = self._base
        pre = self._pre_onset()
        cache = self._ref_cache
        if cache is not None and cache[0] == base.version and cache[1] is pre:
            return cache[2], cache[3]
        bl = list(base.latencies)
        base_ttfb = list(base.ttfb)
        reference = PathReference(
            base_latencies=bl,
            pre_latencies=pre.latencies,
            base_jitter=sum(base.steps) / len(base.steps) if len(bl) >= 2 else 0.0,
            pre_jitter=pre.jitter,
            base_median=pre.base_median,
            base_ttfb=base_ttfb,
            ttfb=base_ttfb if len(base_ttfb) >= 5 else base_ttfb + pre.ttfb,
        )
        if len(bl) >= 5:
            ref_median: float | None = pre.base_median
        elif len(bl) + len(pre.latencies) >= 3:
            ref_median = sorted_median(sorted(bl + pre.latencies))
        else:
            ref_median = None
        self._ref_cache = (base.version, pre, reference, ref_median)
        return reference, ref_median

    def summary(self, vantage: str, bounds: WindowBounds) -> PathSummary:
        """The path's summary judged at `bounds.now` (the history must hold no sample
        after it); the same as `summarise_path` would compute."""
        self.used_at = bounds.now
        reference, ref_median = self._reference()
        post = self._post
        ratio = None
        if post.lat_sorted and ref_median is not None:
            ratio = (sorted_median(post.lat_sorted) + 0.005) / (ref_median + 0.005)
        recent_start = max(self.own, bounds.now - bounds.recent_s)
        return PathSummary(
            vantage=vantage,
            reference=reference,
            pre=self._pre_onset().shape,
            post=post.counts(recent_start),
            post_timeline=post.timeline.view(),
            latency_post_ratio=ratio,
        )

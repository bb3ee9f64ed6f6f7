"""Prometheus metrics: netvigil's own health, in one registry per process part.

`Metrics` owns a `CollectorRegistry` (never the global one), so tests and several
monitors in one process do not collide. The hot path calls `observe_check` and
`observe_lag` once per probe; those series are kept as plain counts updated from the
event loop's thread (no lock, no label lookup: a few hundred nanoseconds) and turned into
Prometheus counter and histogram families when scraped. Gauges that mirror a live number
(in-flight probes, targets, store queue depth, agent spool depth) read it through a
callback, also only when scraped.

`/metrics` is `scrape()`: the text, gzipped when the scraper accepts it.

Series (all prefixed `netvigil_`, durations in seconds):

    netvigil_checks_total{kind,outcome}         probes completed
    netvigil_check_duration_seconds{kind}       how long each probe took
    netvigil_schedule_lag_seconds               actual start minus due time
    netvigil_checks_in_flight                   probes running now
    netvigil_skipped_runs_total                 runs skipped (previous still running, or missed)
    netvigil_targets                            targets scheduled
    netvigil_store_queue_depth                  measurements waiting to be written
    netvigil_ingest_batches_total{result}       agent batches accepted or refused
    netvigil_ingest_measurements_total{vantage} measurements accepted from agents
    netvigil_agent_spool_depth                  measurements waiting in an agent's spool
    netvigil_sink_errors_total                  measurements a sink refused

With `track_store` (the store's write health):

    netvigil_store_write_failures_total         writes that failed on the database file
    netvigil_store_write_failing                1 while writes fail (full disk, I/O error)
    netvigil_store_dropped_total                submitted measurements that were not stored
    netvigil_store_incident_events_dropped_total  submitted incident events not stored
"""

from __future__ import annotations

import asyncio
import gzip
from bisect import bisect_left
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    generate_latest,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

__all__ = [
    "CHECK_BUCKETS",
    "LAG_BUCKETS",
    "DetectionFigures",
    "LoopHistogram",
    "Metrics",
    "StoreFigures",
    "accepts_gzip",
]

CHECK_BUCKETS: tuple[float, ...] = (
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    float("inf"),
)
"""Probe duration buckets: from a loopback answer to a probe that ran to its timeout."""

LAG_BUCKETS: tuple[float, ...] = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    5.0,
    float("inf"),
)
"""Schedule lag buckets: a healthy scheduler stays in the first few."""


class LoopHistogram:
    """A histogram fed from one thread without locks: `observe` is a bisect and two adds."""

    __slots__ = ("bounds", "counts", "labels", "sum")

    def __init__(self, bounds: Sequence[float]) -> None:
        if list(bounds) != sorted(bounds) or bounds[-1] != float("inf"):
            raise ValueError("histogram bounds must be sorted and end with +Inf")
        self.bounds = tuple(bounds)
        self.labels = tuple("+Inf" if b == float("inf") else repr(float(b)) for b in self.bounds)
        self.counts = [0] * len(self.bounds)
        self.sum = 0.0

    def observe(self, value: float) -> None:
        """Count one value in the first bucket whose upper bound is >= it."""
        self.counts[bisect_left(self.bounds, value)] += 1
        self.sum += value

    @property
    def count(self) -> int:
        """How many values were observed."""
        return sum(self.counts)

    def buckets(self) -> list[tuple[str, float]]:
        """Cumulative buckets as Prometheus writes them: (le, count)."""
        out: list[tuple[str, float]] = []
        total = 0
        for label, n in zip(self.labels, list(self.counts), strict=True):
            total += n
            out.append((label, total))
        return out


class _KindStats:
    __slots__ = ("duration", "outcomes")

    def __init__(self) -> None:
        self.outcomes: dict[str, int] = {}
        self.duration = LoopHistogram(CHECK_BUCKETS)


class _CheckCollector(Collector):
    """Exposes the per-probe series kept by `Metrics` as Prometheus families."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def collect(self) -> Iterator[Metric]:
        m = self._metrics
        checks = CounterMetricFamily(
            "netvigil_checks", "Probes completed, by kind and outcome.", labels=["kind", "outcome"]
        )
        duration = HistogramMetricFamily(
            "netvigil_check_duration_seconds", "How long each probe took, by kind.", labels=["kind"]
        )
        for kind, stats in sorted(m._by_kind.items()):
            for outcome, n in sorted(stats.outcomes.items()):
                checks.add_metric([kind, str(outcome)], n)
            duration.add_metric([kind], stats.duration.buckets(), stats.duration.sum)
        lag = HistogramMetricFamily(
            "netvigil_schedule_lag_seconds",
            "How late each probe started: actual start minus due time.",
        )
        lag.add_metric([], m.schedule_lag.buckets(), m.schedule_lag.sum)
        yield checks
        yield duration
        yield lag

    def describe(self) -> Iterator[Metric]:
        yield CounterMetricFamily("netvigil_checks", "", labels=["kind", "outcome"])
        yield HistogramMetricFamily("netvigil_check_duration_seconds", "", labels=["kind"])
        yield HistogramMetricFamily("netvigil_schedule_lag_seconds", "")


@dataclass(frozen=True, slots=True)
class DetectionFigures:
    """What live detection reports at each scrape."""

    measurements: int
    """Measurements handed to detection."""
    queue_depth: int
    """Measurements waiting for the detection thread."""
    dropped: int
    """Measurements dropped because detection fell behind (its queue was full)."""
    cpu_seconds: float
    """CPU time the detection thread spent."""
    gc_seconds: float
    """Of that, the CPU time of the garbage collections that ran on the thread."""
    hold_buckets: Sequence[tuple[str, float]]
    """The detection thread's holds of the state's lock by CPU time, as Prometheus
    writes a histogram's buckets (`LoopHistogram.buckets`; empty: no thread)."""
    hold_seconds: float
    """The CPU time of every hold, summed."""
    longest_hold_seconds: float
    """The CPU time of the longest hold."""
    late_by_vantage: Mapping[str, int]
    """Per vantage, measurements that arrived behind the watermark."""
    clock_offset_by_vantage: Mapping[str, float]
    """Per agent, how far its clock is estimated to run behind the server's (s)."""


class _DetectionCollector(Collector):
    """Exposes `DetectionFigures` as Prometheus families."""

    def __init__(self, read: Callable[[], DetectionFigures]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        f = self._read()
        yield CounterMetricFamily(
            "netvigil_detect_measurements", "Measurements handed to detection.", f.measurements
        )
        yield GaugeMetricFamily(
            "netvigil_detect_queue_depth",
            "Measurements waiting for the detection thread.",
            f.queue_depth,
        )
        yield CounterMetricFamily(
            "netvigil_detect_dropped",
            "Measurements dropped because detection fell behind (its queue was full).",
            f.dropped,
        )
        yield CounterMetricFamily(
            "netvigil_detect_cpu_seconds", "CPU time the detection thread spent.", f.cpu_seconds
        )
        yield CounterMetricFamily(
            "netvigil_detect_gc_cpu_seconds",
            "Of the detection thread's CPU time, that of the garbage collections it ran (each "
            "walks the young objects of the whole process).",
            f.gc_seconds,
        )
        if f.hold_buckets:
            yield HistogramMetricFamily(
                "netvigil_detect_hold_seconds",
                "CPU time of each hold of the current state's lock by the detection thread "
                "(readers of the state wait meanwhile).",
                buckets=list(f.hold_buckets),
                sum_value=f.hold_seconds,
            )
            yield GaugeMetricFamily(
                "netvigil_detect_longest_hold_seconds",
                "CPU time of the detection thread's longest hold of the state's lock.",
                f.longest_hold_seconds,
            )
        late = CounterMetricFamily(
            "netvigil_detect_late",
            "Measurements that arrived behind their vantage's watermark, dropped.",
            labels=["vantage"],
        )
        for vantage, n in sorted(f.late_by_vantage.items()):
            late.add_metric([vantage], n)
        yield late
        offset = GaugeMetricFamily(
            "netvigil_agent_clock_offset_seconds",
            "How far each agent's clock is estimated to run behind the server's "
            "(negative: ahead), from the freshest measurements it ships.",
            labels=["vantage"],
        )
        for vantage, s in sorted(f.clock_offset_by_vantage.items()):
            offset.add_metric([vantage], s)
        yield offset

    def describe(self) -> Iterator[Metric]:
        return iter(())


@dataclass(frozen=True, slots=True)
class StoreFigures:
    """What the store reports about its writes at each scrape."""

    queue_depth: int
    """Items waiting to be written (including those kept while writes fail)."""
    write_failures: int
    """Writes (transactions) that failed on the database file: full disk, I/O error."""
    failing: bool
    """Whether the last write failed that way (queued work is being retried)."""
    dropped: int
    """Submitted measurements that were not stored: unwritable, or the queue was full."""
    incidents_dropped: int
    """Submitted incident events that were not stored, the same ways."""


class _StoreCollector(Collector):
    """Exposes `StoreFigures` (but the queue depth, a gauge of its own) as Prometheus families."""

    def __init__(self, read: Callable[[], StoreFigures]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        f = self._read()
        yield CounterMetricFamily(
            "netvigil_store_write_failures",
            "Store writes that failed on the database file (full disk, I/O error).",
            f.write_failures,
        )
        yield GaugeMetricFamily(
            "netvigil_store_write_failing",
            "1 while store writes fail on the database file (queued work is retried).",
            1.0 if f.failing else 0.0,
        )
        yield CounterMetricFamily(
            "netvigil_store_dropped",
            "Submitted measurements that were not stored: unwritable, or the queue was full.",
            f.dropped,
        )
        yield CounterMetricFamily(
            "netvigil_store_incident_events_dropped",
            "Submitted incident events that were not stored.",
            f.incidents_dropped,
        )

    def describe(self) -> Iterator[Metric]:
        return iter(())


class Metrics:
    """netvigil's Prometheus series in a registry of their own; `render()` is /metrics.

    `observe_check`, `observe_lag` and `observe_skip` are for the event loop's thread;
    `render()` may be called from any thread.
    """

    content_type: str = CONTENT_TYPE_LATEST
    """The Content-Type to serve `render()` with."""
    gzip_level: int = 1
    """zlib level of a gzipped scrape: level 1 takes a third of level 6's time and leaves
    the text about 20% bigger (still a tenth of its plain size)."""
    gzip_min_bytes: int = 1024
    """A smaller scrape is sent plain."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
        r = self.registry
        self._by_kind: dict[str, _KindStats] = {}
        self.schedule_lag = LoopHistogram(LAG_BUCKETS)
        r.register(_CheckCollector(self))
        self.in_flight = Gauge("netvigil_checks_in_flight", "Probes running now.", registry=r)
        self.skipped_runs = Counter(
            "netvigil_skipped_runs",
            "Scheduled runs not made: the previous run of the target was still in flight, "
            "or the scheduler had fallen a whole interval behind.",
            registry=r,
        )
        self.targets = Gauge("netvigil_targets", "Targets scheduled.", registry=r)
        self.store_queue_depth = Gauge(
            "netvigil_store_queue_depth", "Measurements waiting to be written.", registry=r
        )
        self.ingest_batches = Counter(
            "netvigil_ingest_batches",
            "Measurement batches from agents, by result (accepted or refused).",
            ["result"],
            registry=r,
        )
        self.ingest_measurements = Counter(
            "netvigil_ingest_measurements",
            "Measurements accepted from agents, by vantage.",
            ["vantage"],
            registry=r,
        )
        self.agent_spool_depth = Gauge(
            "netvigil_agent_spool_depth", "Measurements waiting in the agent's spool.", registry=r
        )
        self._expositions: list[Callable[[], bytes]] = []
        self.sink_errors = Counter(
            "netvigil_sink_errors", "Measurements a sink failed to accept.", registry=r
        )

    def observe_check(self, kind: str, outcome: str, duration_s: float) -> None:
        """Count one completed probe and record how long it took."""
        stats = self._by_kind.get(kind)
        if stats is None:
            stats = self._by_kind[kind] = _KindStats()
        outcomes = stats.outcomes
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        stats.duration.observe(duration_s)

    def observe_lag(self, lag_s: float) -> None:
        """Record how late one probe started."""
        self.schedule_lag.observe(lag_s)

    def checks_total(self, kind: str | None = None, outcome: str | None = None) -> int:
        """Probes completed so far, optionally only of one kind and/or outcome."""
        total = 0
        for k, stats in list(self._by_kind.items()):
            if kind is None or k == kind:
                for o, n in list(stats.outcomes.items()):
                    if outcome is None or o == outcome:
                        total += n
        return total

    def observe_skip(self, count: int = 1) -> None:
        """Count scheduled runs that were not made."""
        self.skipped_runs.inc(count)

    def observe_ingest(self, vantage: str, *, accepted: bool, count: int) -> None:
        """Count one agent batch and, when accepted, its `count` measurements."""
        self.ingest_batches.labels("accepted" if accepted else "refused").inc()
        if accepted and count:
            self.ingest_measurements.labels(vantage).inc(count)

    def track_in_flight(self, read: Callable[[], float]) -> None:
        """Report `read()` as the in-flight gauge at each scrape."""
        self.in_flight.set_function(read)

    def track_targets(self, read: Callable[[], float]) -> None:
        """Report `read()` as the targets gauge at each scrape."""
        self.targets.set_function(read)

    def track_store_queue(self, read: Callable[[], float]) -> None:
        """Report `read()` (the store's write queue length) at each scrape."""
        self.store_queue_depth.set_function(read)

    def track_store(self, read: Callable[[], StoreFigures]) -> None:
        """Report the store's write figures (`read()`) at each scrape, its queue too."""
        self.track_store_queue(lambda: read().queue_depth)
        self.registry.register(_StoreCollector(read))

    def track_spool(self, read: Callable[[], float]) -> None:
        """Report `read()` (the agent spool's length) at each scrape."""
        self.agent_spool_depth.set_function(read)

    def track_detection(self, read: Callable[[], DetectionFigures]) -> None:
        """Report live detection's figures (`read()`) at each scrape."""
        self.registry.register(_DetectionCollector(read))

    def track_exposition(self, render: Callable[[], bytes]) -> None:
        """Append `render()` (text exposition, e.g. `ProbeMetrics.render`) at each scrape."""
        self._expositions.append(render)

    def render(self) -> bytes:
        """The registry, then each tracked exposition, in Prometheus text format."""
        return generate_latest(self.registry) + b"".join(r() for r in self._expositions)

    async def scrape(self, accept_encoding: str | None) -> tuple[bytes, dict[str, str]]:
        """`/metrics`: the body and its headers for a scraper sending `accept_encoding`.

        The text is rendered on the calling (event loop's) thread, as the tracked
        expositions require; when the scraper accepts gzip (Prometheus does) and the text
        is at least `gzip_min_bytes`, it is compressed at `gzip_level` in a worker thread
        (zlib releases the GIL, so the loop goes on meanwhile).
        """
        body = self.render()
        headers = {"Vary": "Accept-Encoding"}
        if len(body) < self.gzip_min_bytes or not accepts_gzip(accept_encoding):
            return body, headers
        packed = await asyncio.to_thread(gzip.compress, body, self.gzip_level, mtime=0)
        return packed, {**headers, "Content-Encoding": "gzip"}


def accepts_gzip(accept_encoding: str | None) -> bool:
    """Whether an Accept-Encoding header value lets gzip be sent (RFC 9110 12.5.3):
    'gzip' or '*' named with a q-value above 0, gzip not refused by name."""
    if not accept_encoding:
        return False
    weights: dict[str, float] = {}
    for item in accept_encoding.split(","):
        name, _, params = item.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        weights[name.strip().lower()] = q
    if "gzip" in weights:
        return weights["gzip"] > 0
    return weights.get("*", 0.0) > 0

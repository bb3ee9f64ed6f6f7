"""The bus's counters, kept as plain numbers and turned into Prometheus series at scrape.

Publisher (an agent):

    netvigil_bus_published_total{result}     measurements the stream acknowledged:
                                             new, or duplicate (an id it already had)
    netvigil_bus_spooled_total               measurements that waited in the local spool
                                             because NATS could not be reached (or was
                                             too slow: more than max_buffer in memory)
    netvigil_bus_publish_failures_total      publish attempts that failed and were retried
    netvigil_bus_spool_depth                 measurements waiting in the local spool

Collector:

    netvigil_bus_acked_total                 messages acked once their measurement was stored
    netvigil_bus_stored_total{result}        of those: new in the store, or already there
    netvigil_bus_rejected_total{reason}      messages set aside to the dead letters
    netvigil_bus_store_failures_total        store writes that failed (the batch waits, unacked)
    netvigil_bus_consumer_pending            messages in the stream not yet delivered to the
                                             consumer, as the last fetch reported
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

__all__ = ["CollectorStats", "PublisherStats", "track_collector", "track_publisher"]


@dataclass(slots=True)
class PublisherStats:
    """What a publisher has done since it started."""

    published: int = 0
    """Measurements the stream stored as new."""
    duplicates: int = 0
    """Measurements the stream already had (a re-send after a lost acknowledgement)."""
    spooled: int = 0
    """Measurements written to the spool because NATS could not be reached (or too many
    waited in memory)."""
    failures: int = 0
    """Publish attempts that failed (and will be retried)."""
    last_error: str | None = None


@dataclass(slots=True)
class CollectorStats:
    """What a collector has done since it started."""

    acked: int = 0
    stored: int = 0
    """Acked measurements that were new in the store."""
    rejected: dict[str, int] = field(default_factory=dict)
    """Messages set aside, by reason."""
    store_failures: int = 0
    pending: int = 0
    """Messages not yet delivered to the consumer, as of the last fetch."""

    @property
    def duplicates(self) -> int:
        """Acked measurements the store already had (redelivered after a crash)."""
        return self.acked - self.stored

    def reject(self, reason: str) -> None:
        self.rejected[reason] = self.rejected.get(reason, 0) + 1


class _PublisherCollector(Collector):
    def __init__(self, stats: PublisherStats, depth: Callable[[], float]) -> None:
        self._stats = stats
        self._depth = depth

    def collect(self) -> Iterator[Metric]:
        s = self._stats
        published = CounterMetricFamily(
            "netvigil_bus_published",
            "Measurements the stream acknowledged, by result (new or duplicate).",
            labels=["result"],
        )
        published.add_metric(["new"], s.published)
        published.add_metric(["duplicate"], s.duplicates)
        yield published
        yield CounterMetricFamily(
            "netvigil_bus_spooled",
            "Measurements that waited in the local spool because NATS was unreachable.",
            value=s.spooled,
        )
        yield CounterMetricFamily(
            "netvigil_bus_publish_failures",
            "Publish attempts that failed and were retried.",
            value=s.failures,
        )
        yield GaugeMetricFamily(
            "netvigil_bus_spool_depth",
            "Measurements waiting in the local spool.",
            value=self._depth(),
        )


class _CollectorCollector(Collector):
    def __init__(self, stats: CollectorStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        s = self._stats
        yield CounterMetricFamily(
            "netvigil_bus_acked",
            "Messages acked once their measurement was stored.",
            value=s.acked,
        )
        stored = CounterMetricFamily(
            "netvigil_bus_stored",
            "Acked measurements by result in the store (new, or already there).",
            labels=["result"],
        )
        stored.add_metric(["new"], s.stored)
        stored.add_metric(["duplicate"], s.duplicates)
        yield stored
        rejected = CounterMetricFamily(
            "netvigil_bus_rejected",
            "Messages set aside to the dead letters, by reason.",
            labels=["reason"],
        )
        for reason, count in sorted(s.rejected.items()):
            rejected.add_metric([reason], count)
        yield rejected
        yield CounterMetricFamily(
            "netvigil_bus_store_failures",
            "Store writes that failed; their batch waits, unacked.",
            value=s.store_failures,
        )
        yield GaugeMetricFamily(
            "netvigil_bus_consumer_pending",
            "Messages in the stream not yet delivered to the consumer (last fetch).",
            value=s.pending,
        )


def track_publisher(
    registry: CollectorRegistry, stats: PublisherStats, depth: Callable[[], float]
) -> None:
    """Expose a publisher's counters, and its spool's depth (`depth()`), in `registry`."""
    registry.register(_PublisherCollector(stats, depth))


def track_collector(registry: CollectorRegistry, stats: CollectorStats) -> None:
    """Expose a collector's counters in `registry`."""
    registry.register(_CollectorCollector(stats))

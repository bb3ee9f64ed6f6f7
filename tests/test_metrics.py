"""netvigil's own Prometheus metrics: series names, values, separate registries."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from netvigil.metrics import LAG_BUCKETS, LoopHistogram, Metrics
from netvigil.outcome import Outcome

EXPECTED = {
    "netvigil_checks": "counter",
    "netvigil_check_duration_seconds": "histogram",
    "netvigil_schedule_lag_seconds": "histogram",
    "netvigil_checks_in_flight": "gauge",
    "netvigil_skipped_runs": "counter",
    "netvigil_targets": "gauge",
    "netvigil_store_queue_depth": "gauge",
    "netvigil_ingest_batches": "counter",
    "netvigil_ingest_measurements": "counter",
    "netvigil_agent_spool_depth": "gauge",
    "netvigil_sink_errors": "counter",
}


def families(metrics: Metrics) -> dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    """Parsed exposition: family name -> {(sample name, sorted labels): value}."""
    out: dict[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]] = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        samples = out.setdefault(family.name, {})
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_render_holds_every_series_with_its_type() -> None:
    metrics = Metrics()
    text = metrics.render().decode()
    families = text_string_to_metric_families(text)
    types = {f.name: f.type for f in families if not f.name.endswith("_created")}
    assert types == EXPECTED
    assert metrics.content_type.startswith("text/plain")


def test_checks_and_durations_by_kind_and_outcome() -> None:
    metrics = Metrics()
    metrics.observe_check("http", Outcome.OK, 0.02)
    metrics.observe_check("http", Outcome.OK, 0.3)
    metrics.observe_check("http", Outcome.HTTP_5XX, 0.05)
    metrics.observe_check("tcp", Outcome.TCP_REFUSED, 0.001)
    got = families(metrics)
    checks = got["netvigil_checks"]
    assert checks[("netvigil_checks_total", (("kind", "http"), ("outcome", "ok")))] == 2
    assert checks[("netvigil_checks_total", (("kind", "http"), ("outcome", "http_5xx")))] == 1
    assert checks[("netvigil_checks_total", (("kind", "tcp"), ("outcome", "tcp_refused")))] == 1
    duration = got["netvigil_check_duration_seconds"]
    http = (("kind", "http"),)
    assert duration[("netvigil_check_duration_seconds_count", http)] == 3
    assert duration[("netvigil_check_duration_seconds_sum", http)] == pytest.approx(0.37)
    le = (("kind", "http"), ("le", "0.05"))
    assert duration[("netvigil_check_duration_seconds_bucket", le)] == 2  # 0.02 and 0.05
    assert metrics.checks_total() == 4
    assert metrics.checks_total(kind="http") == 3
    assert metrics.checks_total(outcome="ok") == 2


def test_lag_skips_ingest_and_live_gauges() -> None:
    metrics = Metrics()
    metrics.observe_lag(0.0007)
    metrics.observe_lag(2.0)
    metrics.observe_skip(3)
    metrics.observe_ingest("durres-agent", accepted=True, count=40)
    metrics.observe_ingest("durres-agent", accepted=False, count=0)
    depth = [7]
    metrics.track_store_queue(lambda: depth[0])
    metrics.track_spool(lambda: 11)
    metrics.track_in_flight(lambda: 2)
    metrics.track_targets(lambda: 100_000)
    got = families(metrics)
    lag = got["netvigil_schedule_lag_seconds"]
    assert lag[("netvigil_schedule_lag_seconds_bucket", (("le", "0.001"),))] == 1
    assert lag[("netvigil_schedule_lag_seconds_bucket", (("le", "+Inf"),))] == 2
    assert lag[("netvigil_schedule_lag_seconds_count", ())] == 2
    assert got["netvigil_skipped_runs"][("netvigil_skipped_runs_total", ())] == 3
    batches = got["netvigil_ingest_batches"]
    assert batches[("netvigil_ingest_batches_total", (("result", "accepted"),))] == 1
    assert batches[("netvigil_ingest_batches_total", (("result", "refused"),))] == 1
    accepted = got["netvigil_ingest_measurements"]
    assert accepted[("netvigil_ingest_measurements_total", (("vantage", "durres-agent"),))] == 40
    assert got["netvigil_store_queue_depth"][("netvigil_store_queue_depth", ())] == 7
    depth[0] = 9  # gauges read their source at each scrape
    assert metrics.registry.get_sample_value("netvigil_store_queue_depth") == 9
    assert metrics.registry.get_sample_value("netvigil_agent_spool_depth") == 11
    assert metrics.registry.get_sample_value("netvigil_checks_in_flight") == 2
    assert metrics.registry.get_sample_value("netvigil_targets") == 100_000


def test_each_instance_has_its_own_registry() -> None:
    a, b = Metrics(), Metrics()
    a.observe_check("dns", Outcome.DNS_NXDOMAIN, 0.01)
    assert a.checks_total() == 1
    assert b.checks_total() == 0
    assert b"dns_nxdomain" not in b.render()


def test_loop_histogram_buckets_are_upper_inclusive() -> None:
    h = LoopHistogram(LAG_BUCKETS)
    for value in (0.0005, 0.00051, 0.001, 100.0):
        h.observe(value)
    buckets = dict(h.buckets())
    assert buckets["0.0005"] == 1
    assert buckets["0.001"] == 3
    assert buckets["5.0"] == 3
    assert buckets["+Inf"] == 4
    assert h.count == 4
    with pytest.raises(ValueError, match="sorted"):
        LoopHistogram((1.0, 0.5, float("inf")))

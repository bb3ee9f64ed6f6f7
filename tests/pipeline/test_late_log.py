"""Late measurements are logged once when a burst begins and once when it is over; live
detection's figures reach /metrics."""

from __future__ import annotations

import logging

import pytest

from netvigil.metrics import DetectionFigures, Metrics
from netvigil.pipeline.detection import LateLog


def test_one_line_per_burst_with_its_count(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="netvigil.detect")
    late = LateLog(quiet_s=60.0)
    for i, now in enumerate((0.0, 1.0, 2.0, 3.0)):
        late.check({"fr": 10 * (i + 1), "de": 0}, now)
    assert len(caplog.records) == 1
    assert "from fr arrive behind its watermark" in caplog.records[0].getMessage()
    late.check({"fr": 40}, 30.0)
    assert len(caplog.records) == 1  # quiet for 27 s only
    late.check({"fr": 40}, 64.0)
    assert len(caplog.records) == 2
    assert caplog.records[1].getMessage().startswith("40 measurement(s) from fr arrived late")
    late.check({"fr": 41}, 70.0)  # a new burst
    assert len(caplog.records) == 3


def test_detection_figures_are_scraped() -> None:
    metrics = Metrics()
    metrics.track_detection(
        lambda: DetectionFigures(
            measurements=1200,
            queue_depth=7,
            dropped=3,
            cpu_seconds=0.25,
            gc_seconds=0.05,
            hold_buckets=[("0.01", 40.0), ("0.02", 41.0), ("+Inf", 41.0)],
            hold_seconds=0.2,
            longest_hold_seconds=0.0143,
            late_by_vantage={"fr": 5},
            clock_offset_by_vantage={"fr": -31.5},
        )
    )
    text = metrics.render().decode()
    assert "netvigil_detect_measurements_total 1200.0" in text
    assert "netvigil_detect_queue_depth 7.0" in text
    assert "netvigil_detect_dropped_total 3.0" in text
    assert "netvigil_detect_gc_cpu_seconds_total 0.05" in text
    assert 'netvigil_detect_hold_seconds_bucket{le="0.01"} 40.0' in text
    assert "netvigil_detect_hold_seconds_count 41.0" in text
    assert "netvigil_detect_longest_hold_seconds 0.0143" in text
    assert 'netvigil_detect_late_total{vantage="fr"} 5.0' in text
    assert 'netvigil_agent_clock_offset_seconds{vantage="fr"} -31.5' in text

"""Per-target probe series: the newest result per (target, vantage), the cap, real probes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from netvigil.config import parse_config
from netvigil.metrics import Metrics
from netvigil.model import Measurement, Observation
from netvigil.outcome import Outcome, Phase
from netvigil.probe_metrics import ProbeMetrics, target_labels
from netvigil.probes import (
    DNSProbe,
    DNSSpec,
    HTTPProbe,
    HTTPSpec,
    TCPProbe,
    TCPSpec,
    TLSProbe,
    TLSSpec,
)
from servers.dns import DNSServer
from servers.tcp import free_port

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: bytes) -> Samples:
    """Parsed exposition: {(sample name, sorted labels): value}."""
    out: Samples = {}
    for family in text_string_to_metric_families(text.decode()):
        for s in family.samples:
            key = (s.name, tuple(sorted(s.labels.items())))
            assert key not in out, f"duplicate series {key}"
            out[key] = s.value
    return out


def labels(
    target: str, vantage: str, kind: str, service: str = "", network: str = "", **extra: str
) -> tuple[tuple[str, str], ...]:
    """The sorted label pairs of one series."""
    base = {"target": target, "service": service, "network": network, "vantage": vantage}
    return tuple(sorted({**base, "kind": kind, **extra}.items()))


def measurement(
    target: str,
    vantage: str,
    *,
    ts: float,
    ok: bool = True,
    kind: str = "http",
    timings: dict[str, float] | None = None,
    detail: dict[str, Any] | None = None,
) -> Measurement:
    obs = Observation(
        ok=ok,
        outcome=Outcome.OK if ok else Outcome.TCP_REFUSED,
        phase=None if ok else Phase.CONNECT,
        timings=timings or {},
        detail=detail or {},
    )
    return Measurement.from_observation(obs, vantage=vantage, target=target, kind=kind, ts=ts)


def test_holds_the_newest_result_of_each_target_and_vantage() -> None:
    table = ProbeMetrics({"web": ("portal", "as64500")}, now=lambda: 1_000.0)
    table.submit(measurement("web", "home", ts=900.0, timings={"connect": 0.01, "total": 0.02}))
    table.submit(
        measurement("web", "home", ts=950.0, ok=False, timings={"connect": 0.5, "total": 0.6})
    )
    table.submit(measurement("web", "home", ts=920.0, timings={"total": 9.0}))  # late, older
    table.submit(measurement("web", "agent-1", ts=940.0, detail={"status": 204}))
    got = samples(table.render())
    home = labels("web", "home", "http", "portal", "as64500")
    agent = labels("web", "agent-1", "http", "portal", "as64500")
    assert got[("netvigil_probe_success", home)] == 0
    assert got[("netvigil_probe_success", agent)] == 1
    assert got[("netvigil_probe_last_timestamp_seconds", home)] == 950.0
    phase = dict(home)
    assert got[("netvigil_probe_duration_seconds", labels(**phase, phase="connect"))] == 0.5
    assert got[("netvigil_probe_duration_seconds", labels(**phase, phase="total"))] == 0.6
    assert got[("netvigil_probe_http_status_code", home)] == 0  # no response arrived
    assert got[("netvigil_probe_http_status_code", agent)] == 204
    assert got[("netvigil_probe_series", ())] == 2
    assert len(table) == 2


def test_label_values_are_escaped_and_unknown_targets_have_empty_service() -> None:
    table = ProbeMetrics(now=lambda: 10.0)
    odd = 'a"b\\c\nd'
    table.submit(measurement(odd, "v", ts=5.0))
    got = samples(table.render())
    assert got[("netvigil_probe_success", labels(odd, "v", "http"))] == 1


def test_new_pairs_beyond_the_cap_are_dropped_and_counted() -> None:
    table = ProbeMetrics(max_series=2, now=lambda: 100.0)
    for target in ("a", "b", "c", "d"):
        table.submit(measurement(target, "v", ts=1.0))
    table.submit(measurement("a", "v", ts=2.0, ok=False))  # a held pair still updates
    got = samples(table.render())
    assert got[("netvigil_probe_series", ())] == 2
    assert got[("netvigil_probe_series_limit", ())] == 2
    assert got[("netvigil_probe_series_dropped_total", ())] == 2
    assert got[("netvigil_probe_success", labels("a", "v", "http"))] == 0
    assert ("netvigil_probe_success", labels("c", "v", "http")) not in got


def test_stale_rows_are_forgotten_and_a_new_kind_replaces_the_row() -> None:
    clock = [100.0]
    table = ProbeMetrics(max_age_s=60, now=lambda: clock[0])
    table.submit(measurement("gone", "v", ts=50.0))
    table.submit(measurement("x", "v", ts=90.0, kind="tcp"))
    table.submit(measurement("x", "v", ts=95.0, kind="tls"))
    got = samples(table.render())
    assert ("netvigil_probe_success", labels("gone", "v", "http")) in got
    assert ("netvigil_probe_success", labels("x", "v", "tls")) in got
    assert ("netvigil_probe_success", labels("x", "v", "tcp")) not in got
    clock[0] = 111.0  # "gone" is now 61 s old
    got = samples(table.render())
    assert ("netvigil_probe_success", labels("gone", "v", "http")) not in got
    assert got[("netvigil_probe_series", ())] == 1


def test_collector_yields_the_same_series_as_render() -> None:
    table = ProbeMetrics({"t0": ("svc", "net")}, now=lambda: 1000.0)
    for i in range(20):
        table.submit(
            measurement(
                f"t{i}",
                f"v{i % 3}",
                ts=990.0,
                ok=i % 4 != 0,
                kind=("http", "tls", "dns", "tcp")[i % 4],
                timings={"resolve": 0.001 * i, "total": 0.01 * i},
                detail={"status": 200, "not_after": "2030-01-01T00:00:00+00:00", "answers": ["x"]},
            )
        )
    registry = CollectorRegistry()
    registry.register(table)
    assert samples(generate_latest(registry)) == samples(table.render())


def test_metrics_render_appends_the_probe_series() -> None:
    metrics = Metrics()
    table = ProbeMetrics(now=lambda: 10.0)
    metrics.track_exposition(table.render)
    table.submit(measurement("t", "v", ts=9.0))
    got = samples(metrics.render())  # parses as one exposition, no duplicate families
    assert got[("netvigil_probe_success", labels("t", "v", "http"))] == 1
    assert ("netvigil_targets", ()) in got


def test_target_labels_come_from_the_service_and_its_network() -> None:
    config = parse_config(
        """
        [[networks]]
        name = "as64500"
        [[services]]
        name = "portal"
        network = "as64500"
        [[services]]
        name = "bare"
        [[targets]]
        name = "a"
        service = "portal"
        kind = "tcp"
        host = "127.0.0.1"
        port = 1
        [[targets]]
        name = "b"
        service = "bare"
        kind = "tcp"
        host = "127.0.0.1"
        port = 1
        [[targets]]
        name = "c"
        control = true
        kind = "tcp"
        host = "127.0.0.1"
        port = 1
        """
    )
    assert target_labels(config) == {"a": ("portal", "as64500"), "b": ("bare", ""), "c": ("", "")}


async def test_real_probes_fill_every_series(
    http_server: str, https_server: str, ca_file: Any, dns_server: DNSServer
) -> None:
    table = ProbeMetrics()
    port = int(https_server.rsplit(":", 1)[1])
    specs_and_probes: list[tuple[Any, Any]] = [
        (HTTPSpec(name="web", url=f"{http_server}/ok"), HTTPProbe()),
        (TLSSpec(name="cert", host="127.0.0.1", port=port, ca_file=str(ca_file)), TLSProbe()),
        (
            DNSSpec(name="dns", resolver=dns_server.host, port=dns_server.port, qname="ok.test"),
            DNSProbe(),
        ),
        (TCPSpec(name="closed", host="127.0.0.1", port=free_port()), TCPProbe()),
    ]
    measured: dict[str, Measurement] = {}
    for spec, probe in specs_and_probes:
        obs = await probe.measure(spec)
        m = Measurement.from_observation(obs, vantage="lab", target=spec.name, kind=spec.kind)
        measured[spec.name] = m
        table.submit(m)
    got = samples(table.render())
    web, cert = labels("web", "lab", "http"), labels("cert", "lab", "tls")
    dns, closed = labels("dns", "lab", "dns"), labels("closed", "lab", "tcp")
    assert got[("netvigil_probe_success", web)] == 1
    assert got[("netvigil_probe_success", closed)] == 0
    assert got[("netvigil_probe_http_status_code", web)] == 200
    total = measured["web"].timings["total"]
    assert got[("netvigil_probe_duration_seconds", labels(**dict(web), phase="total"))] == total
    assert ("netvigil_probe_duration_seconds", labels(**dict(cert), phase="tls")) in got
    not_after = datetime.fromisoformat(measured["cert"].detail["not_after"]).timestamp()
    assert got[("netvigil_probe_ssl_earliest_cert_expiry", cert)] == not_after
    assert not_after > measured["cert"].ts + 30 * 86400
    assert got[("netvigil_probe_dns_answer_rrs", dns)] == 1
    assert ("netvigil_probe_http_status_code", cert) not in got
    assert ("netvigil_probe_dns_answer_rrs", web) not in got


def test_a_cap_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="max_series"):
        ProbeMetrics(max_series=0)


def test_a_scrape_after_an_update_shows_the_new_values() -> None:
    table = ProbeMetrics(now=lambda: 100.0)
    table.submit(measurement("t", "v", ts=10.0, detail={"status": 200}, timings={"total": 0.5}))
    table.submit(measurement("u", "v", ts=10.0, timings={"total": 0.25}))
    first = table.render()
    assert table.render() == first  # nothing changed: the same text
    table.submit(
        measurement("t", "v", ts=20.0, ok=False, detail={"status": 503}, timings={"total": 1.5})
    )
    got = samples(table.render())
    t = labels("t", "v", "http")
    assert got[("netvigil_probe_success", t)] == 0
    assert got[("netvigil_probe_http_status_code", t)] == 503
    assert got[("netvigil_probe_duration_seconds", labels(**dict(t), phase="total"))] == 1.5
    assert got[("netvigil_probe_last_timestamp_seconds", t)] == 20.0
    assert got[("netvigil_probe_duration_seconds", labels("u", "v", "http", phase="total"))] == 0.25


def test_a_non_finite_timing_and_a_bad_expiry_are_left_out() -> None:
    table = ProbeMetrics(now=lambda: 100.0)
    m = measurement("t", "v", ts=10.0, kind="tls", detail={"not_after": "not a time"})
    m.timings = {"connect": float("inf"), "total": 0.5}
    table.submit(m)
    got = samples(table.render())
    t = labels("t", "v", "tls")
    assert ("netvigil_probe_ssl_earliest_cert_expiry", t) not in got
    assert ("netvigil_probe_duration_seconds", labels(**dict(t), phase="connect")) not in got
    assert got[("netvigil_probe_duration_seconds", labels(**dict(t), phase="total"))] == 0.5

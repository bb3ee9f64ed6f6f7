"""Each fault kind, applied in a small lab, yields the expected outcomes from the right vantages."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from netvigil.lab import FaultSpec, Lab
from netvigil.model import Measurement
from netvigil.outcome import Outcome

pytestmark = [pytest.mark.netns, pytest.mark.timeout(300)]

VANTAGES = ("home", "abroad")
GOV_TARGETS = ("portal-https", "portal-tcp", "portal-icmp", "portal-tls", "ns-dns")


def probe(lab: Lab, targets: tuple[str, ...] = GOV_TARGETS) -> dict[str, dict[str, Measurement]]:
    """{vantage: {target: measurement}} from every vantage at once."""

    def one(vantage: str) -> list[Measurement]:
        ms = lab.probe(vantage, targets=list(targets), timeout_s=2.0)
        if any(m.outcome == Outcome.UNKNOWN for m in ms):
            # A probe starved of CPU on a busy machine overruns its deadline; once more.
            ms = lab.probe(vantage, targets=list(targets), timeout_s=2.0)
        return ms

    with ThreadPoolExecutor(len(VANTAGES)) as pool:
        runs = pool.map(one, VANTAGES)
        return {v: {m.target: m for m in ms} for v, ms in zip(VANTAGES, runs, strict=True)}


def outcomes(seen: dict[str, dict[str, Measurement]], vantage: str) -> dict[str, str]:
    return {t: m.outcome.value for t, m in seen[vantage].items()}


@pytest.fixture
def fault(small_lab: Lab) -> Iterator[list[str]]:
    """Fault ids applied by a test; cleared afterwards, and the lab checked healthy again."""
    applied: list[str] = []
    yield applied
    for fault_id in applied:
        small_lab.clear_fault(fault_id)
    small_lab.wait_converged()


def apply(lab: Lab, applied: list[str], kind: str, target: str, **knobs: object) -> None:
    spec = FaultSpec.model_validate({"kind": kind, "target": target, "until": 60, **knobs})
    applied.append(lab.apply_fault(spec))


def test_healthy_lab_is_ok_everywhere(small_lab: Lab) -> None:
    seen = probe(small_lab, (*GOV_TARGETS, "control-http", "resolver-dns"))
    for v in VANTAGES:
        assert set(outcomes(seen, v).values()) == {"ok"}, outcomes(seen, v)


def test_shutdown_times_out_from_all_vantages(small_lab: Lab, fault: list[str]) -> None:
    apply(small_lab, fault, "shutdown", "gov")
    seen = probe(small_lab, ("portal-tcp", "portal-icmp", "ns-dns"))
    for v in VANTAGES:
        assert outcomes(seen, v) == {
            "portal-tcp": Outcome.TCP_TIMEOUT,
            "portal-icmp": Outcome.ICMP_TIMEOUT,
            "ns-dns": Outcome.DNS_TIMEOUT,
        }


def test_shutdown_reject_is_admin_prohibited(small_lab: Lab, fault: list[str]) -> None:
    apply(small_lab, fault, "shutdown_reject", "gov")
    seen = probe(small_lab, ("portal-tcp", "portal-icmp"))
    for v in VANTAGES:
        assert seen[v]["portal-icmp"].outcome == Outcome.ADMIN_PROHIBITED
        assert seen[v]["portal-tcp"].outcome == Outcome.ADMIN_PROHIBITED


def test_route_withdrawal_is_net_unreachable(small_lab: Lab, fault: list[str]) -> None:
    apply(small_lab, fault, "route_withdrawal", "gov")
    seen = probe(small_lab, ("portal-tcp", "portal-icmp"))
    for v in VANTAGES:
        assert outcomes(seen, v) == {
            "portal-tcp": Outcome.NET_UNREACHABLE,
            "portal-icmp": Outcome.NET_UNREACHABLE,
        }


def test_service_crash_is_refused_while_ping_works(small_lab: Lab, fault: list[str]) -> None:
    apply(small_lab, fault, "service_crash", "portal")
    seen = probe(small_lab, ("portal-tcp", "portal-icmp"))
    for v in VANTAGES:
        assert outcomes(seen, v) == {"portal-tcp": Outcome.TCP_REFUSED, "portal-icmp": "ok"}


def test_dns_outage_times_out_at_the_authoritative(small_lab: Lab, fault: list[str]) -> None:
    apply(small_lab, fault, "dns_outage", "gov.lab")
    seen = probe(small_lab, ("ns-dns", "portal-tcp"))
    for v in VANTAGES:
        assert outcomes(seen, v) == {"ns-dns": Outcome.DNS_TIMEOUT, "portal-tcp": "ok"}


def test_dns_servfail_answers_servfail_then_recovers(small_lab: Lab, fault: list[str]) -> None:
    apply(small_lab, fault, "dns_servfail", "gov.lab")
    seen = probe(small_lab, ("ns-dns", "portal-tcp"))
    for v in VANTAGES:
        assert outcomes(seen, v) == {"ns-dns": Outcome.DNS_SERVFAIL, "portal-tcp": "ok"}
    small_lab.clear_fault(fault.pop())
    seen = probe(small_lab, ("ns-dns",))
    for v in VANTAGES:
        assert outcomes(seen, v) == {"ns-dns": "ok"}


def test_tls_expired_presents_an_expired_certificate(small_lab: Lab, fault: list[str]) -> None:
    apply(small_lab, fault, "tls_expired", "portal")
    seen = probe(small_lab, ("portal-tls", "portal-https", "portal-tcp"))
    for v in VANTAGES:
        assert outcomes(seen, v) == {
            "portal-tls": Outcome.TLS_CERT_EXPIRED,
            "portal-https": Outcome.TLS_CERT_EXPIRED,
            "portal-tcp": "ok",
        }


def test_in_country_filter_fails_from_in_country_only(small_lab: Lab, fault: list[str]) -> None:
    apply(small_lab, fault, "in_country_filter", "gov")
    seen = probe(small_lab, ("portal-tcp", "portal-icmp", "control-http"))
    assert outcomes(seen, "home") == {
        "portal-tcp": Outcome.TCP_TIMEOUT,
        "portal-icmp": Outcome.ICMP_TIMEOUT,
        "control-http": "ok",
    }
    assert set(outcomes(seen, "abroad").values()) == {"ok"}


def test_vantage_down_fails_everything_from_that_vantage(small_lab: Lab, fault: list[str]) -> None:
    apply(small_lab, fault, "vantage_down", "home")
    seen = probe(small_lab, ("portal-tcp", "portal-icmp", "control-http", "control-icmp"))
    assert not any(m.ok for m in seen["home"].values()), outcomes(seen, "home")
    assert set(outcomes(seen, "abroad").values()) == {"ok"}


def test_application_ddos_gives_5xx_while_tcp_is_fine(small_lab: Lab, fault: list[str]) -> None:
    apply(small_lab, fault, "application_ddos", "portal", concurrency=32)
    overloaded = (Outcome.HTTP_5XX, Outcome.HTTP_TIMEOUT)
    deadline = time.monotonic() + 20  # the flood takes a few seconds to fill the server
    while True:
        time.sleep(1.5)
        seen = probe(small_lab, ("portal-https", "portal-tcp", "portal-icmp"))
        https = [outcomes(seen, v)["portal-https"] for v in VANTAGES]
        if all(o in overloaded for o in https) or time.monotonic() > deadline:
            break
    for v in VANTAGES:
        got = outcomes(seen, v)
        assert got["portal-https"] in (Outcome.HTTP_5XX, Outcome.HTTP_TIMEOUT), got
        assert got["portal-tcp"] == "ok"
        assert got["portal-icmp"] == "ok"


def test_volumetric_ddos_slows_and_breaks_reachability(small_lab: Lab, fault: list[str]) -> None:
    baseline = probe(small_lab, ("portal-tcp",))
    for v in VANTAGES:
        assert baseline[v]["portal-tcp"].timings["total"] < 0.05
    apply(small_lab, fault, "volumetric_ddos", "gov", rate_pps=1500)
    time.sleep(1.0)
    seen = [probe(small_lab, ("portal-tcp", "ns-dns")) for _ in range(2)]
    tcp = [run[v]["portal-tcp"] for run in seen for v in VANTAGES]
    # Congested, not cut: every connection either failed or waited in the full queue.
    assert all((not m.ok) or m.timings["total"] > 0.05 for m in tcp), [
        (m.outcome.value, m.timings.get("total")) for m in tcp
    ]


def test_latency_spike_stays_benign(small_lab: Lab, fault: list[str]) -> None:
    apply(small_lab, fault, "latency_spike", "gov")
    seen = probe(small_lab, ("portal-https", "portal-tcp", "portal-icmp", "ns-dns"))
    results = [m for v in VANTAGES for m in seen[v].values()]
    # Sparse loss may cost a single-packet probe (one DNS query) now and then; no more.
    assert sum(not m.ok for m in results) <= 1, [(m.target, m.outcome.value) for m in results]


def test_clearing_every_fault_restores_the_lab(small_lab: Lab) -> None:
    seen = probe(small_lab, (*GOV_TARGETS, "control-http"))
    for v in VANTAGES:
        assert set(outcomes(seen, v).values()) == {"ok"}, outcomes(seen, v)
    assert small_lab.active_faults == {}

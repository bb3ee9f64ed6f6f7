"""Scenario table: a loopback situation -> the Outcome and Phase the probe must report."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass

import pytest

from netvigil.outcome import Outcome, Phase
from netvigil.probes import (
    DNSSpec,
    HTTPSpec,
    ICMPSpec,
    ProbeSet,
    TargetBase,
    TCPSpec,
    TLSSpec,
)
from netvigil.probes.resolve import DNSResolver, Resolver
from servers.certs import CertKit
from servers.dns import serve_dns
from servers.http import serve_http, url_host
from servers.tcp import free_port, serve_tcp

QUICK = 1.0  # timeout for scenarios that are meant to time out


@dataclass
class Setup:
    """What a scenario gives the probe: the target and, optionally, a resolver."""

    spec: TargetBase
    resolver: Resolver | None = None


Scenario = Callable[[str, CertKit], AbstractAsyncContextManager[Setup]]


def _scenario(fn: Callable[[str, CertKit], AsyncIterator[Setup]]) -> Scenario:
    return asynccontextmanager(fn)


# HTTP -------------------------------------------------------------------------------


@_scenario
async def http_ok(host: str, kit: CertKit) -> AsyncIterator[Setup]:
    async with serve_http(host) as base:
        yield Setup(HTTPSpec(name="t", url=f"{base}/ok", keyword="netvigil"))


@_scenario
async def http_5xx(host: str, kit: CertKit) -> AsyncIterator[Setup]:
    async with serve_http(host) as base:
        yield Setup(HTTPSpec(name="t", url=f"{base}/status/503"))


@_scenario
async def http_4xx(host: str, kit: CertKit) -> AsyncIterator[Setup]:
    async with serve_http(host) as base:
        yield Setup(HTTPSpec(name="t", url=f"{base}/status/404"))


@_scenario
async def http_keyword_missing(host: str, kit: CertKit) -> AsyncIterator[Setup]:
    async with serve_http(host) as base:
        yield Setup(HTTPSpec(name="t", url=f"{base}/ok", keyword="not-in-the-page"))


@_scenario
async def http_unexpected_status(host: str, kit: CertKit) -> AsyncIterator[Setup]:
    async with serve_http(host) as base:
        yield Setup(HTTPSpec(name="t", url=f"{base}/ok", expect_status=[204]))


@_scenario
async def http_slow_first_byte(host: str, kit: CertKit) -> AsyncIterator[Setup]:
    async with serve_http(host) as base:
        yield Setup(HTTPSpec(name="t", url=f"{base}/slow/5", timeout_s=QUICK))


@_scenario
async def http_body_stalls(host: str, kit: CertKit) -> AsyncIterator[Setup]:
    async with serve_tcp("stall_body", host) as srv:
        url = f"http://{url_host(host)}:{srv.port}/"
        yield Setup(HTTPSpec(name="t", url=url, timeout_s=QUICK))


@_scenario
async def http_refused(host: str, kit: CertKit) -> AsyncIterator[Setup]:
    yield Setup(HTTPSpec(name="t", url=f"http://{url_host(host)}:{free_port(host)}/"))


@_scenario
async def http_reset(host: str, kit: CertKit) -> AsyncIterator[Setup]:
    async with serve_tcp("reset", host) as srv:
        yield Setup(HTTPSpec(name="t", url=f"http://{url_host(host)}:{srv.port}/"))


@_scenario
async def http_garbage(host: str, kit: CertKit) -> AsyncIterator[Setup]:
    async with serve_tcp("garbage", host) as srv:
        yield Setup(HTTPSpec(name="t", url=f"http://{url_host(host)}:{srv.port}/"))


@_scenario
async def http_closed_without_reply(host: str, kit: CertKit) -> AsyncIterator[Setup]:
    async with serve_tcp("close", host) as srv:
        yield Setup(HTTPSpec(name="t", url=f"http://{url_host(host)}:{srv.port}/"))


@_scenario
async def https_ok(host: str, kit: CertKit) -> AsyncIterator[Setup]:
    async with serve_http(host, kit.good) as base:
        yield Setup(HTTPSpec(name="t", url=f"{base}/ok", ca_file=str(kit.ca_file)))


@_scenario
async def https_expired(host: str, kit: CertKit) -> AsyncIterator[Setup]:
    async with serve_http(host, kit.expired) as base:
        yield Setup(HTTPSpec(name="t", url=f"{base}/ok", ca_file=str(kit.ca_file)))


@_scenario
async def https_wrong_name(host: str, kit: CertKit) -> AsyncIterator[Setup]:
    async with serve_http(host, kit.wrong_name) as base:
        yield Setup(HTTPSpec(name="t", url=f"{base}/ok", ca_file=str(kit.ca_file)))


@_scenario
async def https_untrusted(host: str, kit: CertKit) -> AsyncIterator[Setup]:
    async with serve_http(host, kit.untrusted) as base:
        yield Setup(HTTPSpec(name="t", url=f"{base}/ok", ca_file=str(kit.ca_file)))


@_scenario
async def https_not_tls(host: str, kit: CertKit) -> AsyncIterator[Setup]:
    async with serve_tcp("garbage", host) as srv:
        yield Setup(HTTPSpec(name="t", url=f"https://{url_host(host)}:{srv.port}/"))


@_scenario
async def https_silent(host: str, kit: CertKit) -> AsyncIterator[Setup]:
    async with serve_tcp("silent", host) as srv:
        url = f"https://{url_host(host)}:{srv.port}/"
        yield Setup(HTTPSpec(name="t", url=url, timeout_s=QUICK))


@_scenario
async def http_name_ok(host: str, kit: CertKit) -> AsyncIterator[Setup]:
    async with serve_dns(host) as dns_srv, serve_http("127.0.0.1") as base:
        port = base.rsplit(":", 1)[1]
        resolver = DNSResolver([host], port=dns_srv.port)
        yield Setup(HTTPSpec(name="t", url=f"http://web.test:{port}/ok"), resolver)


def _http_name(name: str, timeout_s: float = 10.0) -> Scenario:
    @asynccontextmanager
    async def scenario(host: str, kit: CertKit) -> AsyncIterator[Setup]:
        async with serve_dns(host) as dns_srv:
            resolver = DNSResolver([host], port=dns_srv.port, timeout_s=timeout_s)
            yield Setup(HTTPSpec(name="t", url=f"http://{name}/", timeout_s=timeout_s), resolver)

    return scenario


# TCP --------------------------------------------------------------------------------


@_scenario
async def tcp_ok(host: str, kit: CertKit) -> AsyncIterator[Setup]:
    async with serve_tcp("silent", host) as srv:
        yield Setup(TCPSpec(name="t", host=host, port=srv.port))


@_scenario
async def tcp_refused(host: str, kit: CertKit) -> AsyncIterator[Setup]:
    yield Setup(TCPSpec(name="t", host=host, port=free_port(host)))


@_scenario
async def tcp_name_nxdomain(host: str, kit: CertKit) -> AsyncIterator[Setup]:
    async with serve_dns(host) as dns_srv:
        resolver = DNSResolver([host], port=dns_srv.port)
        yield Setup(TCPSpec(name="t", host="nx.test", port=80), resolver)


# TLS --------------------------------------------------------------------------------


def _tls(kind: str, *, verify: bool = True) -> Scenario:
    @asynccontextmanager
    async def scenario(host: str, kit: CertKit) -> AsyncIterator[Setup]:
        async with serve_http(host, kit.server_context(kind)) as base:
            port = int(base.rsplit(":", 1)[1])
            yield Setup(
                TLSSpec(
                    name="t",
                    host=host,
                    port=port,
                    server_name="localhost",
                    ca_file=str(kit.ca_file),
                    verify=verify,
                )
            )

    return scenario


def _tls_raw(behaviour: str) -> Scenario:
    @asynccontextmanager
    async def scenario(host: str, kit: CertKit) -> AsyncIterator[Setup]:
        async with serve_tcp(behaviour, host) as srv:
            yield Setup(TLSSpec(name="t", host=host, port=srv.port, timeout_s=QUICK))

    return scenario


# DNS --------------------------------------------------------------------------------


def _dns(qname: str, transport: str = "udp", qtype: str = "A") -> Scenario:
    @asynccontextmanager
    async def scenario(host: str, kit: CertKit) -> AsyncIterator[Setup]:
        async with serve_dns(host) as srv:
            yield Setup(
                DNSSpec(
                    name="t",
                    resolver=host,
                    port=srv.port,
                    qname=qname,
                    qtype=qtype,
                    transport=transport,  # type: ignore[arg-type]
                    timeout_s=QUICK,
                )
            )

    return scenario


@_scenario
async def dns_tcp_refused(host: str, kit: CertKit) -> AsyncIterator[Setup]:
    yield Setup(
        DNSSpec(name="t", resolver=host, port=free_port(host), qname="ok.test", transport="tcp")
    )


# ICMP -------------------------------------------------------------------------------


@_scenario
async def icmp_ok(host: str, kit: CertKit) -> AsyncIterator[Setup]:
    yield Setup(ICMPSpec(name="t", host=host, count=2, packet_interval_s=0.05, timeout_s=2))


SCENARIOS: list[tuple[str, Scenario, Outcome, Phase | None]] = [
    ("http-ok", http_ok, Outcome.OK, None),
    ("http-5xx", http_5xx, Outcome.HTTP_5XX, Phase.RESPONSE),
    ("http-4xx", http_4xx, Outcome.HTTP_4XX, Phase.RESPONSE),
    ("http-keyword-missing", http_keyword_missing, Outcome.HTTP_CONTENT_MISMATCH, Phase.RESPONSE),
    (
        "http-unexpected-status",
        http_unexpected_status,
        Outcome.HTTP_CONTENT_MISMATCH,
        Phase.RESPONSE,
    ),
    ("http-slow-first-byte", http_slow_first_byte, Outcome.HTTP_TIMEOUT, Phase.RESPONSE),
    ("http-body-stalls", http_body_stalls, Outcome.HTTP_TIMEOUT, Phase.RESPONSE),
    ("http-refused", http_refused, Outcome.TCP_REFUSED, Phase.CONNECT),
    ("http-reset", http_reset, Outcome.CONNECTION_RESET, Phase.RESPONSE),
    ("http-garbage", http_garbage, Outcome.HTTP_PROTOCOL_ERROR, Phase.RESPONSE),
    ("http-closed", http_closed_without_reply, Outcome.HTTP_PROTOCOL_ERROR, Phase.RESPONSE),
    ("https-ok", https_ok, Outcome.OK, None),
    ("https-expired", https_expired, Outcome.TLS_CERT_EXPIRED, Phase.TLS),
    ("https-wrong-name", https_wrong_name, Outcome.TLS_CERT_INVALID, Phase.TLS),
    ("https-untrusted", https_untrusted, Outcome.TLS_CERT_INVALID, Phase.TLS),
    ("https-not-tls", https_not_tls, Outcome.TLS_HANDSHAKE_FAILED, Phase.TLS),
    ("https-silent", https_silent, Outcome.TLS_TIMEOUT, Phase.TLS),
    ("http-name-ok", http_name_ok, Outcome.OK, None),
    ("http-nxdomain", _http_name("nx.test"), Outcome.DNS_NXDOMAIN, Phase.RESOLVE),
    ("http-servfail", _http_name("fail.test"), Outcome.DNS_SERVFAIL, Phase.RESOLVE),
    ("http-dns-refused", _http_name("refused.test"), Outcome.DNS_REFUSED, Phase.RESOLVE),
    ("http-dns-timeout", _http_name("silent.test", QUICK), Outcome.DNS_TIMEOUT, Phase.RESOLVE),
    ("http-no-address", _http_name("empty.test"), Outcome.DNS_NO_ANSWER, Phase.RESOLVE),
    ("tcp-ok", tcp_ok, Outcome.OK, None),
    ("tcp-refused", tcp_refused, Outcome.TCP_REFUSED, Phase.CONNECT),
    ("tcp-nxdomain", tcp_name_nxdomain, Outcome.DNS_NXDOMAIN, Phase.RESOLVE),
    ("tls-ok", _tls("good"), Outcome.OK, None),
    ("tls-expired", _tls("expired"), Outcome.TLS_CERT_EXPIRED, Phase.TLS),
    ("tls-wrong-name", _tls("wrong_name"), Outcome.TLS_CERT_INVALID, Phase.TLS),
    ("tls-untrusted", _tls("untrusted"), Outcome.TLS_CERT_INVALID, Phase.TLS),
    ("tls-expired-unverified", _tls("expired", verify=False), Outcome.OK, None),
    ("tls-not-tls", _tls_raw("garbage"), Outcome.TLS_HANDSHAKE_FAILED, Phase.TLS),
    ("tls-silent", _tls_raw("silent"), Outcome.TLS_TIMEOUT, Phase.TLS),
    ("tls-reset", _tls_raw("reset"), Outcome.CONNECTION_RESET, Phase.TLS),
    ("dns-ok", _dns("ok.test"), Outcome.OK, None),
    ("dns-ok-tcp", _dns("ok.test", "tcp"), Outcome.OK, None),
    ("dns-nxdomain", _dns("nx.test"), Outcome.DNS_NXDOMAIN, Phase.RESOLVE),
    ("dns-servfail", _dns("fail.test"), Outcome.DNS_SERVFAIL, Phase.RESOLVE),
    ("dns-refused", _dns("refused.test"), Outcome.DNS_REFUSED, Phase.RESOLVE),
    ("dns-timeout", _dns("silent.test"), Outcome.DNS_TIMEOUT, Phase.RESOLVE),
    ("dns-timeout-tcp", _dns("silent.test", "tcp"), Outcome.DNS_TIMEOUT, Phase.RESOLVE),
    ("dns-no-answer", _dns("empty.test"), Outcome.DNS_NO_ANSWER, Phase.RESOLVE),
    ("dns-tcp-refused", dns_tcp_refused, Outcome.TCP_REFUSED, Phase.RESOLVE),
    ("icmp-ok", icmp_ok, Outcome.OK, None),
]


@pytest.mark.parametrize(
    ("scenario", "outcome", "phase"),
    [pytest.param(s, o, p, id=name) for name, s, o, p in SCENARIOS],
)
async def test_outcome(
    scenario: Scenario, outcome: Outcome, phase: Phase | None, loopback: str, cert_kit: CertKit
) -> None:
    async with scenario(loopback, cert_kit) as setup, ProbeSet(resolver=setup.resolver) as probes:
        obs = await probes.measure(setup.spec)
    assert (obs.outcome, obs.phase) == (outcome, phase), obs
    assert obs.ok is (outcome is Outcome.OK)
    assert obs.timings["total"] <= setup.spec.timeout_s + 0.5
    if outcome is not Outcome.OK:
        assert obs.detail.get("error") or obs.detail.get("status") or "rcode" in obs.detail

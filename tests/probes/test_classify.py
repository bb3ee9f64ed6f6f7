"""The classifier table: low-level errors -> (Outcome, Phase), most specific first."""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl

import dns.exception
import dns.resolver
import pytest

from netvigil.outcome import Outcome, Phase
from netvigil.probes.classify import (
    HTTPProtocolError,
    ICMPError,
    ICMPReport,
    TooManyRedirects,
    classify,
    classify_http_status,
    classify_icmp,
    classify_rcode,
    failure,
)

V4, V6 = socket.AF_INET, socket.AF_INET6


def _verify_error(code: int) -> ssl.SSLCertVerificationError:
    exc = ssl.SSLCertVerificationError(1, "certificate verify failed")
    exc.verify_code = code
    return exc


def _icmp(err: int, family: int, icmp_type: int, code: int) -> ICMPError:
    return ICMPError(err, "unreachable", ICMPReport(family, icmp_type, code, "192.0.2.1"))


@pytest.mark.parametrize(
    ("exc", "phase", "outcome", "out_phase"),
    [
        (
            ConnectionRefusedError(errno.ECONNREFUSED, "x"),
            Phase.CONNECT,
            Outcome.TCP_REFUSED,
            Phase.CONNECT,
        ),
        (OSError(errno.EHOSTUNREACH, "x"), Phase.CONNECT, Outcome.HOST_UNREACHABLE, Phase.CONNECT),
        (OSError(errno.ENETUNREACH, "x"), Phase.CONNECT, Outcome.NET_UNREACHABLE, Phase.CONNECT),
        (
            PermissionError(errno.EACCES, "x"),
            Phase.CONNECT,
            Outcome.ADMIN_PROHIBITED,
            Phase.CONNECT,
        ),
        (TimeoutError(errno.ETIMEDOUT, "x"), Phase.CONNECT, Outcome.TCP_TIMEOUT, Phase.CONNECT),
        (
            ConnectionResetError(errno.ECONNRESET, "x"),
            Phase.RESPONSE,
            Outcome.CONNECTION_RESET,
            Phase.RESPONSE,
        ),
        (BrokenPipeError(errno.EPIPE, "x"), Phase.REQUEST, Outcome.CONNECTION_RESET, Phase.REQUEST),
        (
            ConnectionResetError(errno.ECONNRESET, "x"),
            Phase.TLS,
            Outcome.CONNECTION_RESET,
            Phase.TLS,
        ),
        # the ICMP report beats the errno: EHOSTUNREACH hides admin-prohibited
        (
            _icmp(errno.EHOSTUNREACH, V4, 3, 13),
            Phase.CONNECT,
            Outcome.ADMIN_PROHIBITED,
            Phase.CONNECT,
        ),
        (
            _icmp(errno.EHOSTUNREACH, V4, 3, 10),
            Phase.CONNECT,
            Outcome.ADMIN_PROHIBITED,
            Phase.CONNECT,
        ),
        (
            _icmp(errno.ENETUNREACH, V4, 3, 9),
            Phase.CONNECT,
            Outcome.ADMIN_PROHIBITED,
            Phase.CONNECT,
        ),
        (
            _icmp(errno.EHOSTUNREACH, V4, 3, 1),
            Phase.CONNECT,
            Outcome.HOST_UNREACHABLE,
            Phase.CONNECT,
        ),
        (_icmp(errno.ENETUNREACH, V4, 3, 0), Phase.CONNECT, Outcome.NET_UNREACHABLE, Phase.CONNECT),
        (_icmp(errno.EACCES, V6, 1, 1), Phase.CONNECT, Outcome.ADMIN_PROHIBITED, Phase.CONNECT),
        (
            _icmp(errno.EHOSTUNREACH, V6, 1, 3),
            Phase.CONNECT,
            Outcome.HOST_UNREACHABLE,
            Phase.CONNECT,
        ),
        (_icmp(errno.ENETUNREACH, V6, 1, 0), Phase.CONNECT, Outcome.NET_UNREACHABLE, Phase.CONNECT),
        (_verify_error(10), Phase.TLS, Outcome.TLS_CERT_EXPIRED, Phase.TLS),
        (_verify_error(9), Phase.TLS, Outcome.TLS_CERT_EXPIRED, Phase.TLS),
        (_verify_error(62), Phase.TLS, Outcome.TLS_CERT_INVALID, Phase.TLS),
        (_verify_error(20), Phase.TLS, Outcome.TLS_CERT_INVALID, Phase.TLS),
        (
            ssl.SSLError(1, "wrong version number"),
            Phase.TLS,
            Outcome.TLS_HANDSHAKE_FAILED,
            Phase.TLS,
        ),
        (ssl.SSLEOFError(8, "eof"), Phase.TLS, Outcome.TLS_HANDSHAKE_FAILED, Phase.TLS),
        (
            ssl.SSLError(1, "bad record mac"),
            Phase.RESPONSE,
            Outcome.CONNECTION_RESET,
            Phase.RESPONSE,
        ),
        (TimeoutError(), Phase.RESOLVE, Outcome.DNS_TIMEOUT, Phase.RESOLVE),
        (TimeoutError(), Phase.CONNECT, Outcome.TCP_TIMEOUT, Phase.CONNECT),
        (TimeoutError(), Phase.TLS, Outcome.TLS_TIMEOUT, Phase.TLS),
        (TimeoutError(), Phase.REQUEST, Outcome.HTTP_TIMEOUT, Phase.REQUEST),
        (TimeoutError(), Phase.RESPONSE, Outcome.HTTP_TIMEOUT, Phase.RESPONSE),
        (dns.resolver.NXDOMAIN(), Phase.RESOLVE, Outcome.DNS_NXDOMAIN, Phase.RESOLVE),
        (dns.exception.Timeout(), Phase.RESOLVE, Outcome.DNS_TIMEOUT, Phase.RESOLVE),
        (dns.resolver.NoNameservers(), Phase.RESOLVE, Outcome.DNS_SERVFAIL, Phase.RESOLVE),
        (
            socket.gaierror(socket.EAI_NONAME, "x"),
            Phase.RESOLVE,
            Outcome.DNS_NXDOMAIN,
            Phase.RESOLVE,
        ),
        (socket.gaierror(socket.EAI_AGAIN, "x"), Phase.RESOLVE, Outcome.DNS_TIMEOUT, Phase.RESOLVE),
        (socket.gaierror(socket.EAI_FAIL, "x"), Phase.RESOLVE, Outcome.DNS_SERVFAIL, Phase.RESOLVE),
        (HTTPProtocolError("bad"), Phase.RESPONSE, Outcome.HTTP_PROTOCOL_ERROR, Phase.RESPONSE),
        (TooManyRedirects("6"), Phase.RESPONSE, Outcome.HTTP_PROTOCOL_ERROR, Phase.RESPONSE),
        (
            asyncio.IncompleteReadError(b"", 10),
            Phase.RESPONSE,
            Outcome.CONNECTION_RESET,
            Phase.RESPONSE,
        ),
        (
            OSError(errno.EMFILE, "too many open files"),
            Phase.CONNECT,
            Outcome.UNKNOWN,
            Phase.CONNECT,
        ),
        (ValueError("odd"), Phase.RESPONSE, Outcome.UNKNOWN, Phase.RESPONSE),
    ],
)
def test_classify(exc: BaseException, phase: Phase, outcome: Outcome, out_phase: Phase) -> None:
    found = classify(exc, phase)
    assert (found.outcome, found.phase) == (outcome, out_phase)
    assert found.error


def test_unknown_keeps_error_text() -> None:
    obs = failure(ValueError("something odd"), Phase.RESPONSE, timings={"total": 0.1})
    assert obs.outcome is Outcome.UNKNOWN
    assert obs.detail["error"] == "ValueError: something odd"
    assert obs.ok is False


def test_failure_records_icmp_report() -> None:
    obs = failure(_icmp(errno.EHOSTUNREACH, V4, 3, 13), Phase.CONNECT, timings={})
    assert obs.detail["icmp"] == {"icmp_version": 4, "type": 3, "code": 13, "from": "192.0.2.1"}


@pytest.mark.parametrize(
    ("family", "icmp_type", "code", "outcome"),
    [
        (V4, 3, 0, Outcome.NET_UNREACHABLE),
        (V4, 3, 1, Outcome.HOST_UNREACHABLE),
        (V4, 3, 3, Outcome.TCP_REFUSED),
        (V4, 3, 13, Outcome.ADMIN_PROHIBITED),
        (V4, 11, 0, Outcome.NET_UNREACHABLE),
        (V4, 5, 0, Outcome.UNKNOWN),
        (V6, 1, 0, Outcome.NET_UNREACHABLE),
        (V6, 1, 1, Outcome.ADMIN_PROHIBITED),
        (V6, 1, 3, Outcome.HOST_UNREACHABLE),
        (V6, 1, 4, Outcome.TCP_REFUSED),
        (V6, 3, 0, Outcome.NET_UNREACHABLE),
    ],
)
def test_classify_icmp(family: int, icmp_type: int, code: int, outcome: Outcome) -> None:
    assert classify_icmp(family, icmp_type, code) is outcome


def test_classify_rcode() -> None:
    assert classify_rcode(0) is Outcome.OK
    assert classify_rcode(3) is Outcome.DNS_NXDOMAIN
    assert classify_rcode(2) is Outcome.DNS_SERVFAIL
    assert classify_rcode(5) is Outcome.DNS_REFUSED
    assert classify_rcode(4) is Outcome.DNS_SERVFAIL  # NOTIMP: the server cannot answer


@pytest.mark.parametrize(
    ("status", "expect", "unfollowed", "outcome"),
    [
        (200, [], False, Outcome.OK),
        (204, [], False, Outcome.OK),
        (302, [], True, Outcome.OK),
        (302, [200], True, Outcome.HTTP_CONTENT_MISMATCH),
        (404, [], False, Outcome.HTTP_4XX),
        (404, [404], False, Outcome.OK),
        (503, [], False, Outcome.HTTP_5XX),
        (503, [200], False, Outcome.HTTP_5XX),
        (200, [301], False, Outcome.HTTP_CONTENT_MISMATCH),
    ],
)
def test_classify_http_status(
    status: int, expect: list[int], unfollowed: bool, outcome: Outcome
) -> None:
    assert classify_http_status(status, expect, redirect_unfollowed=unfollowed) is outcome

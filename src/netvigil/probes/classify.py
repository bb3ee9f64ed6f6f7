"""The error classifier: the one place where low-level errors become an Outcome and a Phase.

Probes catch whatever the network throws at them (an errno, an `ssl` error, a timeout,
a DNS rcode, an ICMP error report) and hand it here with the phase they were in. The
most specific match wins:

1. an `ICMPError` (the ICMP type and code the kernel reported for this socket),
2. certificate verification errors by OpenSSL verify code (expired vs. other),
3. other `ssl` errors, DNS library errors and resolver (`gaierror`) codes,
4. errno values of `OSError`,
5. timeouts, by the phase they interrupted.

Anything else becomes `Outcome.UNKNOWN`; its text is kept in `detail["error"]`.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import ssl
from dataclasses import dataclass
from typing import Any

import dns.exception
import dns.rcode
import dns.resolver

from netvigil.model import Observation
from netvigil.outcome import Outcome, Phase

__all__ = [
    "Classified",
    "HTTPProtocolError",
    "ICMPError",
    "ICMPReport",
    "TooManyRedirects",
    "classify",
    "classify_http_status",
    "classify_icmp",
    "classify_rcode",
    "error_text",
    "failure",
]

# OpenSSL X509_V_ERR_* verify codes.
X509_V_ERR_CERT_NOT_YET_VALID = 9
X509_V_ERR_CERT_HAS_EXPIRED = 10

# ICMP destination-unreachable types.
ICMP4_DEST_UNREACH = 3
ICMP4_TIME_EXCEEDED = 11
ICMP6_DEST_UNREACH = 1
ICMP6_TIME_EXCEEDED = 3

# ICMPv4 type 3 codes (RFC 792, RFC 1812).
_ICMP4_UNREACH: dict[int, Outcome] = {
    0: Outcome.NET_UNREACHABLE,  # net unreachable
    1: Outcome.HOST_UNREACHABLE,  # host unreachable
    2: Outcome.HOST_UNREACHABLE,  # protocol unreachable
    3: Outcome.TCP_REFUSED,  # port unreachable
    5: Outcome.HOST_UNREACHABLE,  # source route failed
    6: Outcome.NET_UNREACHABLE,  # destination network unknown
    7: Outcome.HOST_UNREACHABLE,  # destination host unknown
    8: Outcome.HOST_UNREACHABLE,  # source host isolated
    9: Outcome.ADMIN_PROHIBITED,  # network administratively prohibited
    10: Outcome.ADMIN_PROHIBITED,  # host administratively prohibited
    11: Outcome.NET_UNREACHABLE,  # network unreachable for TOS
    12: Outcome.HOST_UNREACHABLE,  # host unreachable for TOS
    13: Outcome.ADMIN_PROHIBITED,  # communication administratively prohibited
    14: Outcome.ADMIN_PROHIBITED,  # host precedence violation
    15: Outcome.ADMIN_PROHIBITED,  # precedence cutoff in effect
}

# ICMPv6 type 1 codes (RFC 4443).
_ICMP6_UNREACH: dict[int, Outcome] = {
    0: Outcome.NET_UNREACHABLE,  # no route to destination
    1: Outcome.ADMIN_PROHIBITED,  # communication administratively prohibited
    2: Outcome.NET_UNREACHABLE,  # beyond scope of source address
    3: Outcome.HOST_UNREACHABLE,  # address unreachable
    4: Outcome.TCP_REFUSED,  # port unreachable
    5: Outcome.ADMIN_PROHIBITED,  # source address failed ingress/egress policy
    6: Outcome.ADMIN_PROHIBITED,  # reject route to destination
}

# errno values, independent of phase (timeouts are handled by phase below).
_ERRNO: dict[int, Outcome] = {
    errno.ECONNREFUSED: Outcome.TCP_REFUSED,
    errno.ECONNRESET: Outcome.CONNECTION_RESET,
    errno.ECONNABORTED: Outcome.CONNECTION_RESET,
    errno.EPIPE: Outcome.CONNECTION_RESET,
    errno.EHOSTUNREACH: Outcome.HOST_UNREACHABLE,
    errno.EHOSTDOWN: Outcome.HOST_UNREACHABLE,
    errno.ENONET: Outcome.HOST_UNREACHABLE,
    errno.ENETUNREACH: Outcome.NET_UNREACHABLE,
    errno.ENETDOWN: Outcome.NET_UNREACHABLE,
    # A local `prohibit` route or a local firewall REJECT/DROP on output.
    errno.EACCES: Outcome.ADMIN_PROHIBITED,
    errno.EPERM: Outcome.ADMIN_PROHIBITED,
}

# getaddrinfo() error codes (the system resolver).
_GAI: dict[int, Outcome] = {
    socket.EAI_NONAME: Outcome.DNS_NXDOMAIN,
    socket.EAI_FAIL: Outcome.DNS_SERVFAIL,
    socket.EAI_AGAIN: Outcome.DNS_TIMEOUT,
}
_EAI_NODATA = getattr(socket, "EAI_NODATA", None)
if _EAI_NODATA is not None:
    _GAI[_EAI_NODATA] = Outcome.DNS_NO_ANSWER

_TIMEOUT_BY_PHASE: dict[Phase, Outcome] = {
    Phase.RESOLVE: Outcome.DNS_TIMEOUT,
    Phase.CONNECT: Outcome.TCP_TIMEOUT,
    Phase.TLS: Outcome.TLS_TIMEOUT,
    Phase.REQUEST: Outcome.HTTP_TIMEOUT,
    Phase.RESPONSE: Outcome.HTTP_TIMEOUT,
}

_RCODE: dict[int, Outcome] = {
    dns.rcode.NOERROR: Outcome.OK,
    dns.rcode.NXDOMAIN: Outcome.DNS_NXDOMAIN,
    dns.rcode.SERVFAIL: Outcome.DNS_SERVFAIL,
    dns.rcode.REFUSED: Outcome.DNS_REFUSED,
}


@dataclass(frozen=True, slots=True)
class ICMPReport:
    """An ICMP error the kernel tied to one of our packets: family, type, code, sender."""

    family: int
    type: int
    code: int
    sender: str | None = None

    def as_detail(self) -> dict[str, object]:
        """The report as JSON-friendly detail."""
        version = 6 if self.family == socket.AF_INET6 else 4
        return {"icmp_version": version, "type": self.type, "code": self.code, "from": self.sender}


class ICMPError(OSError):
    """A socket error that came with an ICMP report (read from the socket's error queue)."""

    def __init__(self, err: int, message: str, report: ICMPReport) -> None:
        super().__init__(err, message)
        self.report = report


class HTTPProtocolError(Exception):
    """The server's reply was not valid HTTP/1.x or ended before the response was complete."""


class TooManyRedirects(HTTPProtocolError):
    """A redirect chain was longer than the target allows."""


@dataclass(frozen=True, slots=True)
class Classified:
    """The Outcome and Phase of one error, plus what detail should record about it."""

    outcome: Outcome
    phase: Phase
    error: str
    icmp: ICMPReport | None = None
    verify_code: int | None = None


def error_text(exc: BaseException) -> str:
    """A short, stable text for an exception: its type and message."""
    text = str(exc)
    name = type(exc).__name__
    return f"{name}: {text}" if text else name


def classify_icmp(family: int, icmp_type: int, code: int) -> Outcome:
    """The Outcome for an ICMP error of this family, type and code."""
    if family == socket.AF_INET6:
        if icmp_type == ICMP6_DEST_UNREACH:
            return _ICMP6_UNREACH.get(code, Outcome.HOST_UNREACHABLE)
        if icmp_type == ICMP6_TIME_EXCEEDED:
            return Outcome.NET_UNREACHABLE
        return Outcome.UNKNOWN
    if icmp_type == ICMP4_DEST_UNREACH:
        return _ICMP4_UNREACH.get(code, Outcome.HOST_UNREACHABLE)
    if icmp_type == ICMP4_TIME_EXCEEDED:
        return Outcome.NET_UNREACHABLE
    return Outcome.UNKNOWN


def classify_rcode(rcode: int) -> Outcome:
    """The Outcome for a DNS response code (NOERROR is `ok`; unlisted codes are servfail)."""
    return _RCODE.get(rcode, Outcome.DNS_SERVFAIL)


def classify_http_status(
    status: int, expect_status: list[int], *, redirect_unfollowed: bool
) -> Outcome:
    """The Outcome for a final HTTP status against what the target expects.

    Without `expect_status`, any 2xx is ok, and a 3xx is ok when it was not followed.
    With it, listed codes are ok; an unlisted 5xx/4xx is http_5xx/http_4xx and any other
    unlisted code is http_content_mismatch.
    """
    if expect_status:
        if status in expect_status:
            return Outcome.OK
    elif 200 <= status < 300 or (300 <= status < 400 and redirect_unfollowed):
        return Outcome.OK
    if status >= 500:
        return Outcome.HTTP_5XX
    if status >= 400:
        return Outcome.HTTP_4XX
    return Outcome.HTTP_CONTENT_MISMATCH


def _classify_ssl(exc: ssl.SSLError, phase: Phase) -> tuple[Outcome, Phase, int | None]:
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = exc.verify_code
        if code in (X509_V_ERR_CERT_HAS_EXPIRED, X509_V_ERR_CERT_NOT_YET_VALID):
            return Outcome.TLS_CERT_EXPIRED, Phase.TLS, code
        return Outcome.TLS_CERT_INVALID, Phase.TLS, code
    if phase is Phase.TLS:
        return Outcome.TLS_HANDSHAKE_FAILED, Phase.TLS, None
    # An ssl error after the handshake: the record layer broke mid-exchange.
    return Outcome.CONNECTION_RESET, phase, None


def _classify_dns(exc: dns.exception.DNSException, phase: Phase) -> Outcome | None:
    if isinstance(exc, dns.resolver.NXDOMAIN):
        return Outcome.DNS_NXDOMAIN
    if isinstance(exc, dns.resolver.NoAnswer):
        return Outcome.DNS_NO_ANSWER
    if isinstance(exc, dns.exception.Timeout):
        return Outcome.DNS_TIMEOUT
    if isinstance(exc, dns.resolver.NoNameservers):
        # Every server answered badly; use the rcode of the first answer that had one.
        errors = exc.kwargs.get("errors") or []
        for entry in errors:
            answer = entry[4] if len(entry) > 4 else None
            if answer is not None and hasattr(answer, "rcode"):
                return classify_rcode(int(answer.rcode()))
            inner = entry[3] if len(entry) > 3 else None
            if isinstance(inner, BaseException):
                return classify(inner, phase).outcome
        return Outcome.DNS_SERVFAIL
    return None


def classify(exc: BaseException, phase: Phase) -> Classified:
    """Map an error raised during `phase` to the most specific (Outcome, Phase) we can name."""
    text = error_text(exc)
    if isinstance(exc, ICMPError):
        outcome = classify_icmp(exc.report.family, exc.report.type, exc.report.code)
        if outcome is not Outcome.UNKNOWN:
            return Classified(outcome, phase, text, icmp=exc.report)
    if isinstance(exc, ssl.SSLError):
        outcome, ssl_phase, code = _classify_ssl(exc, phase)
        return Classified(outcome, ssl_phase, text, verify_code=code)
    if isinstance(exc, dns.exception.DNSException):
        dns_outcome = _classify_dns(exc, phase)
        if dns_outcome is not None:
            return Classified(dns_outcome, phase, text)
    if isinstance(exc, socket.gaierror):
        gai = _GAI.get(exc.errno) if exc.errno is not None else None
        return Classified(gai or Outcome.UNKNOWN, Phase.RESOLVE, text)
    if isinstance(exc, OSError) and exc.errno is not None and exc.errno != errno.ETIMEDOUT:
        found = _ERRNO.get(exc.errno)
        if found is not None:
            return Classified(found, phase, text)
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return Classified(_TIMEOUT_BY_PHASE[phase], phase, text or "TimeoutError")
    if isinstance(exc, HTTPProtocolError):
        return Classified(Outcome.HTTP_PROTOCOL_ERROR, phase, text)
    if isinstance(exc, asyncio.IncompleteReadError | EOFError) or (
        isinstance(exc, ConnectionError) and exc.errno is None
    ):
        # The peer closed the connection before the exchange was complete.
        if phase is Phase.TLS:
            return Classified(Outcome.TLS_HANDSHAKE_FAILED, phase, text)
        return Classified(Outcome.CONNECTION_RESET, phase, text)
    return Classified(Outcome.UNKNOWN, phase, text)


def failure(
    exc: BaseException,
    phase: Phase,
    *,
    timings: dict[str, float],
    detail: dict[str, Any] | None = None,
    address: str | None = None,
) -> Observation:
    """The failed Observation for `exc` raised during `phase` (error text, ICMP, verify code)."""
    found = classify(exc, phase)
    info = detail if detail is not None else {}
    info["error"] = found.error
    if found.icmp is not None:
        info["icmp"] = found.icmp.as_detail()
    if found.verify_code is not None:
        info["verify_code"] = found.verify_code
    return Observation(
        ok=False,
        outcome=found.outcome,
        phase=found.phase,
        timings=timings,
        detail=info,
        address=address,
    )

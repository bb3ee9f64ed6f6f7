"""The outcome taxonomy: what a probe saw, as a stable public name.

Outcome values are a public contract (see docs/outcomes.md): add names, never rename.
Only `netvigil.probes.classify` maps low-level errors (errno, ssl, DNS rcodes, ICMP
types) to an Outcome; everything else consumes these names.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["FAILURE_OUTCOMES", "Outcome", "Phase"]


class Outcome(StrEnum):
    """What one probe saw; `ok` or the most specific failure that could be recognised."""

    OK = "ok"
    DNS_NXDOMAIN = "dns_nxdomain"
    DNS_SERVFAIL = "dns_servfail"
    DNS_REFUSED = "dns_refused"
    DNS_TIMEOUT = "dns_timeout"
    DNS_NO_ANSWER = "dns_no_answer"
    TCP_REFUSED = "tcp_refused"
    TCP_TIMEOUT = "tcp_timeout"
    HOST_UNREACHABLE = "host_unreachable"
    NET_UNREACHABLE = "net_unreachable"
    ADMIN_PROHIBITED = "admin_prohibited"
    CONNECTION_RESET = "connection_reset"
    TLS_HANDSHAKE_FAILED = "tls_handshake_failed"
    TLS_CERT_INVALID = "tls_cert_invalid"
    TLS_CERT_EXPIRED = "tls_cert_expired"
    TLS_TIMEOUT = "tls_timeout"
    HTTP_TIMEOUT = "http_timeout"
    HTTP_5XX = "http_5xx"
    HTTP_4XX = "http_4xx"
    HTTP_CONTENT_MISMATCH = "http_content_mismatch"
    ICMP_TIMEOUT = "icmp_timeout"
    UNKNOWN = "unknown"
    HTTP_PROTOCOL_ERROR = "http_protocol_error"


class Phase(StrEnum):
    """Where in a probe's work a failure happened."""

    RESOLVE = "resolve"
    CONNECT = "connect"
    TLS = "tls"
    REQUEST = "request"
    RESPONSE = "response"


FAILURE_OUTCOMES: frozenset[Outcome] = frozenset(o for o in Outcome if o is not Outcome.OK)

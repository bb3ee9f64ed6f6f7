"""DNS probe: ask one resolver for one name; rcode, answers and time."""

from __future__ import annotations

import asyncio
import random
import socket
from time import perf_counter
from typing import Any, ClassVar, Literal

import dns.asyncquery
import dns.exception
import dns.flags
import dns.message
import dns.rcode
from pydantic import Field, field_validator

from netvigil.model import Observation
from netvigil.outcome import Outcome, Phase
from netvigil.probes.base import TargetBase
from netvigil.probes.classify import classify_rcode, failure
from netvigil.probes.connect import address_family
from netvigil.probes.context import ProbeContext

__all__ = ["DNSProbe", "DNSSpec"]

MAX_ANSWERS = 20

RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "NS", "SOA", "TXT", "PTR", "SRV", "CAA")


class DNSSpec(TargetBase):
    """A query for `qname`/`qtype` sent to `resolver` (an IP address) on `port`.

    ok when the rcode is NOERROR and the answer section holds at least one record
    (unless `expect_answer` is false).
    """

    kind: Literal["dns"] = "dns"
    resolver: str = Field(min_length=1)
    port: int = Field(default=53, ge=1, le=65535)
    qname: str = Field(min_length=1, max_length=253)
    qtype: str = "A"
    transport: Literal["udp", "tcp"] = "udp"
    expect_answer: bool = True

    @field_validator("qtype")
    @classmethod
    def _check_type(cls, value: str) -> str:
        upper = value.upper()
        if upper not in RECORD_TYPES:
            raise ValueError(f"unsupported record type {value!r}; one of {', '.join(RECORD_TYPES)}")
        return upper

    @property
    def destination(self) -> str:
        return self.resolver


_ids = random.Random()


def _next_id() -> int:
    return _ids.getrandbits(16)


async def query_udp(query: dns.message.Message, where: str, port: int) -> dns.message.Message:
    """Send `query` over UDP from a fresh connected socket and wait for its response.

    Datagrams that are not a response to this query (wrong id, source or question) are
    ignored. An ICMP port unreachable surfaces as ConnectionRefusedError. The caller
    bounds the wait. Cheaper than `dns.asyncquery.udp`, which builds a transport per query.
    """
    loop = asyncio.get_running_loop()
    sock = socket.socket(address_family(where), socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.connect((where, port))
        sock.send(query.to_wire())
        while True:
            wire = await loop.sock_recv(sock, 65535)
            try:
                response = dns.message.from_wire(wire, ignore_trailing=True)
            except dns.exception.DNSException:
                continue
            if query.is_response(response):
                return response
    finally:
        sock.close()


class DNSProbe:
    """Sends one query to one resolver over UDP or TCP and reads rcode and answers (dnspython).

    detail: `rcode`, `answers` (record texts, at most 20), `transport`.
    """

    kind: ClassVar[str] = "dns"

    def __init__(self, context: ProbeContext | None = None) -> None:
        self._context = context or ProbeContext()

    async def close(self) -> None:
        """Release nothing: every query uses its own socket."""

    async def measure(self, spec: DNSSpec) -> Observation:
        """One query, within `spec.timeout_s`; a failure is returned, never raised."""
        start = perf_counter()
        timings: dict[str, float] = {}
        detail: dict[str, Any] = {"transport": spec.transport}
        query = dns.message.make_query(spec.qname, spec.qtype, id=_next_id())
        try:
            async with asyncio.timeout(spec.timeout_s):
                if spec.transport == "tcp":
                    response = await dns.asyncquery.tcp(
                        query, spec.resolver, timeout=spec.timeout_s, port=spec.port
                    )
                else:
                    response = await query_udp(query, spec.resolver, spec.port)
        except Exception as exc:  # every failure becomes data
            timings["total"] = perf_counter() - start
            return failure(
                exc, Phase.RESOLVE, timings=timings, detail=detail, address=spec.resolver
            )
        elapsed = perf_counter() - start
        timings["resolve"] = elapsed
        timings["total"] = elapsed
        rcode = int(response.rcode())
        detail["rcode"] = dns.rcode.to_text(dns.rcode.Rcode(rcode))
        answers = [rdata.to_text() for rrset in response.answer for rdata in rrset]
        detail["answers"] = answers[:MAX_ANSWERS]
        if response.flags & dns.flags.TC:
            detail["truncated"] = True
        outcome = classify_rcode(rcode)
        if outcome is Outcome.OK and spec.expect_answer and not answers:
            outcome = Outcome.DNS_NO_ANSWER
        ok = outcome is Outcome.OK
        return Observation(
            ok=ok,
            outcome=outcome,
            phase=None if ok else Phase.RESOLVE,
            timings=timings,
            detail=detail,
            address=spec.resolver,
        )

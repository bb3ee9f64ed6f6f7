"""DNS probe: ask one resolver for one name; rcode, answers and time."""

from __future__ import annotations

import asyncio
from time import perf_counter
from typing import Any, ClassVar, Literal

import dns.asyncquery
import dns.flags
import dns.message
import dns.rcode
from pydantic import Field, field_validator

from netvigil.model import Observation
from netvigil.outcome import Outcome, Phase
from netvigil.probes.base import TargetBase
from netvigil.probes.classify import classify_rcode, failure
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


class DNSProbe:
    """Sends one query to one resolver (dnspython, UDP or TCP) and reads rcode and answers.

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
        query = dns.message.make_query(spec.qname, spec.qtype)
        try:
            async with asyncio.timeout(spec.timeout_s):
                if spec.transport == "tcp":
                    response = await dns.asyncquery.tcp(
                        query, spec.resolver, timeout=spec.timeout_s, port=spec.port
                    )
                else:
                    response = await dns.asyncquery.udp(
                        query,
                        spec.resolver,
                        timeout=spec.timeout_s,
                        port=spec.port,
                        ignore_unexpected=True,
                    )
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

"""DNS probe: ask one resolver for one name; rcode, answers and time."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from netvigil.probes.base import TargetBase

__all__ = ["DNSSpec"]

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

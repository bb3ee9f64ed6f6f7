"""Causes and evidence: what an incident looks like, and the checkable statements behind it.

These are shared domain types: detection, classification, the stores, alerts, reports and
the web all speak of an incident's cause and evidence in these words.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = ["TOPIC_ORDER", "Cause", "Evidence", "Topic"]


class Cause(StrEnum):
    """What an incident looks like; stable public names (add, never rename)."""

    VOLUMETRIC_DDOS = "volumetric_ddos"
    APPLICATION_DDOS = "application_ddos"
    SHUTDOWN = "shutdown"
    ROUTE_WITHDRAWAL = "route_withdrawal"
    DDOS_MITIGATION = "ddos_mitigation"
    """Traffic dropped or diverted to fend off an attack: RTBH, scrubbing, withdrawal."""
    SERVICE_FAILURE = "service_failure"
    DNS_FAILURE = "dns_failure"
    TLS_FAILURE = "tls_failure"
    IN_COUNTRY_FILTERING = "in_country_filtering"
    VANTAGE_PROBLEM = "vantage_problem"
    UNKNOWN = "unknown"


class Topic(StrEnum):
    """What an evidence statement is about; evidence is listed in TOPIC_ORDER."""

    MAINTENANCE = "maintenance"
    VANTAGE = "vantage"
    GEOGRAPHY = "geography"
    ROUTING = "routing"
    """The network plane: BGP visibility, withdrawals, communities, address blocks."""
    DNS = "dns"
    TCP = "tcp"
    TLS = "tls"
    HTTP = "http"
    COFATE = "cofate"
    SHAPE = "shape"


TOPIC_ORDER: tuple[Topic, ...] = tuple(Topic)
"""Vantage health first, then in-country vs abroad, routing, the layers, co-fate, shape."""


@dataclass(frozen=True, slots=True)
class Evidence:
    """One checkable statement with figures, its weight and the cause it was weighed for."""

    statement: str
    topic: Topic
    weight: float = 0.0
    cause: Cause = Cause.UNKNOWN

    def to_json(self) -> dict[str, Any]:
        """The JSON object form."""
        return {
            "statement": self.statement,
            "topic": self.topic.value,
            "weight": round(self.weight, 6),
            "cause": self.cause.value,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Evidence:
        """Rebuild from `to_json()` output."""
        return cls(
            statement=str(data["statement"]),
            topic=Topic(data["topic"]),
            weight=float(data.get("weight", 0.0)),
            cause=Cause(data.get("cause", Cause.UNKNOWN.value)),
        )

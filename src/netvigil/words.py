"""Words shared by evidence, alerts, reports and the CLI: durations, times, names, causes."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime

from netvigil.cause import Cause

__all__ = [
    "cause_label",
    "clock",
    "duration",
    "latency",
    "names",
    "outcome_mix",
    "share",
    "stamp",
]


def latency(seconds: float) -> str:
    """0.012 -> '12 ms'; 1.5 -> '1.50 s'."""
    if seconds < 1.0:
        return f"{seconds * 1000:.0f} ms"
    return f"{seconds:.2f} s"


def duration(seconds: float) -> str:
    """A span of time: '45 s', '12 min', '2.5 h'."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def share(fraction: float) -> str:
    """0.456 -> '46%'."""
    return f"{fraction * 100:.0f}%"


def clock(ts: float) -> str:
    """Epoch seconds -> '21:04:05 UTC'."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%H:%M:%S UTC")


def names(items: Iterable[str], limit: int = 5) -> str:
    """['a', 'b', 'c'] -> 'a, b, c'; longer lists end with '(+N more)'."""
    ordered = sorted(items)
    head = ", ".join(ordered[:limit])
    if len(ordered) > limit:
        head += f" (+{len(ordered) - limit} more)"
    return head


def outcome_mix(outcomes: Counter[str], wanted: Iterable[str] | None = None) -> str:
    """Counter({'tcp_timeout': 5, 'icmp_timeout': 2}) -> 'tcp_timeout 5, icmp_timeout 2'."""
    keep = set(wanted) if wanted is not None else None
    parts = [
        f"{name} {count}"
        for name, count in sorted(outcomes.items(), key=lambda kv: (-kv[1], kv[0]))
        if keep is None or name in keep
    ]
    return ", ".join(parts)


_CAUSE_LABELS: dict[Cause, str] = {
    Cause.VOLUMETRIC_DDOS: "volumetric DDoS",
    Cause.APPLICATION_DDOS: "application-layer DDoS",
    Cause.SHUTDOWN: "shutdown",
    Cause.ROUTE_WITHDRAWAL: "route withdrawal",
    Cause.SERVICE_FAILURE: "service failure",
    Cause.DNS_FAILURE: "DNS failure",
    Cause.TLS_FAILURE: "TLS failure",
    Cause.IN_COUNTRY_FILTERING: "in-country filtering",
    Cause.VANTAGE_PROBLEM: "a problem of the vantage itself",
    Cause.UNKNOWN: "unknown cause",
}


def cause_label(cause: Cause) -> str:
    """Cause.VOLUMETRIC_DDOS -> 'volumetric DDoS'."""
    return _CAUSE_LABELS.get(cause, cause.value.replace("_", " "))


def stamp(ts: float) -> str:
    """Epoch seconds -> '2022-07-16 21:04:05 UTC'."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

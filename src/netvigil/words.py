"""Words shared by evidence, alerts, reports and the CLI: durations, times, names, causes."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from importlib import resources
from typing import Any

from netvigil.cause import Cause

__all__ = [
    "VOCABULARY",
    "cause_label",
    "cause_plain",
    "cause_plain_network",
    "clock",
    "duration",
    "latency",
    "names",
    "outcome_mix",
    "share",
    "stamp",
    "state_word",
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


VOCABULARY: dict[str, Any] = json.loads(
    resources.files("netvigil").joinpath("vocabulary.json").read_text(encoding="utf-8")
)
"""The words for states and causes, defined once in `vocabulary.json` (the dashboard
imports the same file)."""


def state_word(state: str) -> str:
    """A status or health name -> its word: 'degraded' -> 'partly down'."""
    words: dict[str, str] = VOCABULARY["states"]
    return words.get(state, state.replace("_", " "))


def cause_label(cause: Cause) -> str:
    """Cause.VOLUMETRIC_DDOS -> 'volumetric DDoS'."""
    entry = VOCABULARY["causes"].get(cause.value)
    return str(entry["label"]) if entry else cause.value.replace("_", " ")


def cause_plain(cause: Cause) -> str:
    """The cause in plain words for the public: 'it looks like the network ... was cut off'."""
    entry = VOCABULARY["causes"].get(cause.value)
    return str(entry["plain"]) if entry else "the cause is not clear yet"


def cause_plain_network(cause: Cause) -> str:
    """The cause in plain words about a whole network: 'it looks like its routes were
    withdrawn from the internet' (the service words when the cause has none of its own)."""
    entry = VOCABULARY["causes"].get(cause.value)
    if entry and "network" in entry:
        return str(entry["network"])
    return cause_plain(cause)


def stamp(ts: float) -> str:
    """Epoch seconds -> '2022-07-16 21:04:05 UTC'."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

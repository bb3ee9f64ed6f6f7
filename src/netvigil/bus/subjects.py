"""Where things travel on the bus: subject names and the streams that keep them.

    netvigil.measurements.<shard>.<vantage>   one measurement per message, id in Nats-Msg-Id
    netvigil.incidents.<incident id>          one incident event per message
    netvigil.dead_letter.<reason>             a message the collector set aside, and why

The shard (`_s0000` to `_s1023`, or `_ctl`: `netvigil.bus.shards`) comes first so that a
detector can filter on its shards (`netvigil.measurements._s0417.>`), and an agent's
permission can name its vantage (`netvigil.measurements.*.<vantage>`). A vantage name
may hold dots (`tirana.1`), so a subject's vantage is everything after the shard, not
one token; a subject whose first token is not a shard names no vantage (an agent can
publish nothing that reads as another vantage). Names that NATS gives a meaning to
(`*`, `>`, spaces) are refused: the config's name pattern already keeps them out.
"""

from __future__ import annotations

from dataclasses import dataclass

from netvigil.bus.shards import is_shard

__all__ = [
    "DEAD_LETTER_PREFIX",
    "INCIDENTS_PREFIX",
    "MEASUREMENTS_PREFIX",
    "MSG_ID_HEADER",
    "REASON_HEADER",
    "SUBJECT_HEADER",
    "StreamNames",
    "dead_letter_subject",
    "incident_subject",
    "measurement_filter",
    "measurement_permission",
    "measurement_subject",
    "shard_of",
    "vantage_of",
]

MEASUREMENTS_PREFIX = "netvigil.measurements."
INCIDENTS_PREFIX = "netvigil.incidents."
DEAD_LETTER_PREFIX = "netvigil.dead_letter."

MSG_ID_HEADER = "Nats-Msg-Id"
"""JetStream drops a message whose id it has seen within the stream's duplicate window."""
REASON_HEADER = "Netvigil-Reason"
"""Why a dead-lettered message was set aside (one of the collector's reasons)."""
SUBJECT_HEADER = "Netvigil-Subject"
"""The subject a dead-lettered message was first published on."""

_FORBIDDEN = frozenset(" \t\r\n*>")


def _token(name: str, what: str) -> str:
    if not name or _FORBIDDEN & set(name) or name.startswith(".") or name.endswith("."):
        raise ValueError(f"{what} {name!r} cannot be part of a NATS subject")
    return name


def measurement_subject(vantage: str, shard: str) -> str:
    """The subject a measurement from `vantage` of a target in `shard` (a shard token) is
    published on. Raises ValueError."""
    if not is_shard(shard):
        raise ValueError(f"{shard!r} is not a shard")
    return f"{MEASUREMENTS_PREFIX}{shard}.{_token(vantage, 'vantage')}"


def measurement_permission(vantage: str) -> str:
    """The subjects (a pattern) of every measurement from `vantage`, whatever its shard:
    what the agent of `vantage` may publish. Raises ValueError."""
    return f"{MEASUREMENTS_PREFIX}*.{_token(vantage, 'vantage')}"


def measurement_filter(shard: str | None = None) -> str:
    """The subject filter of the measurements of `shard` (of every shard: None)."""
    if shard is None:
        return MEASUREMENTS_PREFIX + ">"
    if not is_shard(shard):
        raise ValueError(f"{shard!r} is not a shard")
    return f"{MEASUREMENTS_PREFIX}{shard}.>"


def incident_subject(incident_id: str) -> str:
    """The subject the events of one incident are published on. Raises ValueError."""
    return INCIDENTS_PREFIX + _token(incident_id, "incident id")


def dead_letter_subject(reason: str) -> str:
    """The subject a message set aside for `reason` goes to."""
    return DEAD_LETTER_PREFIX + _token(reason, "reason")


def _parts(subject: str) -> tuple[str, str] | None:
    if not subject.startswith(MEASUREMENTS_PREFIX):
        return None
    shard, dot, vantage = subject[len(MEASUREMENTS_PREFIX) :].partition(".")
    if not dot or not vantage or not is_shard(shard):
        return None
    return shard, vantage


def vantage_of(subject: str) -> str | None:
    """The vantage a measurement subject names, or None for any other subject."""
    parts = _parts(subject)
    return None if parts is None else parts[1]


def shard_of(subject: str) -> str | None:
    """The shard token a measurement subject names, or None for any other subject."""
    parts = _parts(subject)
    return None if parts is None else parts[0]


@dataclass(frozen=True, slots=True)
class StreamNames:
    """The JetStream streams of one deployment (defaults as `[bus]` has them)."""

    measurements: str = "NETVIGIL_MEASUREMENTS"
    incidents: str = "NETVIGIL_INCIDENTS"
    dead_letter: str = "NETVIGIL_DEAD_LETTER"

"""Where things travel on the bus: subject names and the streams that keep them.

    netvigil.measurements.<vantage>     one measurement per message, id in Nats-Msg-Id
    netvigil.incidents.<incident id>    one incident event per message
    netvigil.dead_letter.<reason>       a message the collector set aside, and why

A vantage name may hold dots (`tirana.1`), so a subject's vantage is everything after
the prefix, not one token. Names that NATS gives a meaning to (`*`, `>`, spaces) are
refused: the config's name pattern already keeps them out.
"""

from __future__ import annotations

from dataclasses import dataclass

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
    "measurement_subject",
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


def measurement_subject(vantage: str) -> str:
    """The subject measurements from `vantage` are published on. Raises ValueError."""
    return MEASUREMENTS_PREFIX + _token(vantage, "vantage")


def incident_subject(incident_id: str) -> str:
    """The subject the events of one incident are published on. Raises ValueError."""
    return INCIDENTS_PREFIX + _token(incident_id, "incident id")


def dead_letter_subject(reason: str) -> str:
    """The subject a message set aside for `reason` goes to."""
    return DEAD_LETTER_PREFIX + _token(reason, "reason")


def vantage_of(subject: str) -> str | None:
    """The vantage a measurement subject names, or None for any other subject."""
    if not subject.startswith(MEASUREMENTS_PREFIX) or subject == MEASUREMENTS_PREFIX:
        return None
    return subject[len(MEASUREMENTS_PREFIX) :]


@dataclass(frozen=True, slots=True)
class StreamNames:
    """The JetStream streams of one deployment (defaults as `[bus]` has them)."""

    measurements: str = "NETVIGIL_MEASUREMENTS"
    incidents: str = "NETVIGIL_INCIDENTS"
    dead_letter: str = "NETVIGIL_DEAD_LETTER"

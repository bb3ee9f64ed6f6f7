"""Report wording: the headline sentence, spans of time, name lists and cause phrases."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from netvigil.cause import Cause
from netvigil.incident import Incident
from netvigil.words import cause_label

__all__ = [
    "EvidenceLine",
    "alternatives",
    "cause_phrase",
    "evidence_lines",
    "headline",
    "join_names",
    "minute_stamp",
    "span",
    "title",
    "verb_for",
]

_CAUSE_PHRASES: dict[Cause, str] = {
    Cause.VOLUMETRIC_DDOS: "a volumetric DDoS attack (the network flooded)",
    Cause.APPLICATION_DDOS: "an application-layer DDoS attack (the servers overwhelmed)",
    Cause.SHUTDOWN: "a deliberate shutdown",
    Cause.ROUTE_WITHDRAWAL: "a route withdrawal (the network unreachable on the internet)",
    Cause.SERVICE_FAILURE: "a failure of the service itself",
    Cause.DNS_FAILURE: "a DNS failure (the names do not resolve)",
    Cause.TLS_FAILURE: "a TLS failure (secure connections fail)",
    Cause.IN_COUNTRY_FILTERING: "filtering inside the country",
    Cause.VANTAGE_PROBLEM: "a problem of the measuring vantage itself, not of the services",
}

_FAILING: frozenset[Cause] = frozenset(
    {Cause.APPLICATION_DDOS, Cause.SERVICE_FAILURE, Cause.DNS_FAILURE, Cause.TLS_FAILURE}
)


def span(seconds: float) -> str:
    """A duration in words a reader can picture: '45 s', '12 min', '2 h 11 min', '3 d 4 h'."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def join_names(items: Sequence[str], limit: int = 6) -> str:
    """['a', 'b', 'c'] -> 'a, b and c'; longer lists end with 'and N more'."""
    items = list(items)
    if len(items) > limit:
        return f"{', '.join(items[:limit])} and {len(items) - limit} more"
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def minute_stamp(ts: float) -> str:
    """Epoch seconds -> '2022-07-16 21:04 UTC'."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def cause_phrase(cause: Cause) -> str:
    """What an incident looks like, as the end of 'it looks like ...'."""
    return _CAUSE_PHRASES.get(cause, cause_label(cause))


def verb_for(cause: Cause) -> str:
    """'unreachable' when the host cannot be reached, 'failing' when it answers badly."""
    return "failing" if cause in _FAILING else "unreachable"


def headline(incident: Incident, *, now: float) -> str:
    """The one sentence a report opens with.

    e.g. 'e-albania, kryeministria and parlament unreachable from 3 vantages from
    2022-07-16 21:04 UTC for 2 h 11 min; it looks like a deliberate shutdown (confidence 0.82)'.
    An open incident reads 'since ... (N so far)'.
    """
    what = join_names(incident.services or incident.targets) or f"incident {incident.id}"
    if incident.vantage is not None:
        where = f" as seen from vantage {incident.vantage} only"
    elif incident.vantages:
        n = len(incident.vantages)
        where = f" from {n} vantage{'s' if n != 1 else ''}"
    else:
        where = ""
    start = minute_stamp(incident.start)
    if incident.end is not None:
        when = f"from {start} for {span(incident.end - incident.start)}"
    else:
        when = f"since {start} ({span(now - incident.start)} so far)"
    if incident.cause is Cause.UNKNOWN:
        looks = "the cause is not clear yet"
    else:
        looks = (
            f"it looks like {cause_phrase(incident.cause)} (confidence {incident.confidence:.2f})"
        )
    return f"{what} {verb_for(incident.cause)}{where} {when}; {looks}"


def title(incident: Incident) -> str:
    """The report's title: 'e-albania, parliament and pm-office unreachable'."""
    what = join_names(incident.services or incident.targets, limit=4) or incident.id
    return f"{what} {verb_for(incident.cause)}"


@dataclass(frozen=True, slots=True)
class EvidenceLine:
    """One evidence statement as netvigil wrote it, with its stance on the cause it weighs."""

    stance: str
    cause: str
    weight: float
    statement: str


def evidence_lines(incident: Incident) -> list[EvidenceLine]:
    """The incident's evidence in its recorded order: 'for'/'against' a cause, and the text."""
    return [
        EvidenceLine(
            "for" if e.weight > 0 else "against" if e.weight < 0 else "about",
            cause_label(e.cause),
            e.weight,
            e.statement,
        )
        for e in incident.evidence
    ]


def alternatives(incident: Incident, *, limit: int = 3, floor: float = 0.01) -> list[str]:
    """Other causes netvigil weighed, likeliest first: ['volumetric DDoS 0.10', ...].

    'unknown' (the share no rule explains) is left out: it is not an explanation.
    """
    ranked = sorted(incident.probabilities.items(), key=lambda kv: (-kv[1], kv[0]))
    out: list[str] = []
    for name, p in ranked:
        if name in (incident.cause.value, Cause.UNKNOWN.value) or p < floor:
            continue
        try:
            label = cause_label(Cause(name))
        except ValueError:
            label = name
        out.append(f"{label} {p:.2f}")
    return out[:limit]

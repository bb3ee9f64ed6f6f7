"""The public pages' words about incidents: one plain sentence each, nothing internal.

Shared by `/status` (what is happening now), the incident archive and the Atom feed.
Services are named by what the page calls them (their descriptions), causes in the
plain words of `vocabulary.json`, times in UTC; vantages only when the config allows.
An incident the network plane opened for a whole network (no service of it failing
yet) is told as the network being unreachable from the Internet.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

from netvigil.cause import Cause
from netvigil.incident import Incident
from netvigil.words import cause_plain, cause_plain_network, duration

__all__ = [
    "affected",
    "incident_sentence",
    "network_gone",
    "past_sentence",
    "recovering_sentence",
    "stamp",
    "why",
]


def stamp(ts: float) -> str:
    """Epoch seconds -> '2023-11-14 22:08 UTC'."""
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def name_list(items: list[str], limit: int = 5) -> str:
    """['a', 'b', 'c'] -> 'a, b and c'; more than `limit` end with 'and N more'."""
    if len(items) > limit:
        return f"{', '.join(items[:limit])} and {len(items) - limit} more"
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def affected(incident: Incident, labels: Mapping[str, str] | None = None) -> str:
    """The services an incident touched, as the page names them: 'e-Albania portal'."""
    labels = labels or {}
    return name_list([labels.get(s, s) for s in incident.services]) or "some services"


def network_gone(incident: Incident) -> bool:
    """Whether the incident is a whole network's, told by the network plane (it names
    networks and no service)."""
    return not incident.services and bool(incident.networks) and incident.vantage is None


def _network_subject(
    incident: Incident, labels: Mapping[str, str] | None, *, past: bool = False
) -> str:
    """'Government data centre is' / 'gov and media were' (labels name networks too)."""
    labels = labels or {}
    names = [labels.get(n, n) for n in incident.networks]
    one = len(names) == 1
    verb = ("was" if one else "were") if past else ("is" if one else "are")
    return f"{name_list(names)} {verb}"


def _failing(incident: Incident) -> bool:
    """Whether the servers answered badly (rather than not at all)."""
    return incident.cause in (Cause.SERVICE_FAILURE, Cause.TLS_FAILURE, Cause.APPLICATION_DDOS)


def why(incident: Incident) -> str:
    """The cause in plain words, or that it was planned maintenance."""
    if incident.maintenance:
        return "this is planned maintenance"
    if network_gone(incident):
        return cause_plain_network(incident.cause)
    return cause_plain(incident.cause)


def _where(incident: Incident, show_vantages: bool) -> str:
    if show_vantages and incident.vantages:
        return f" from {name_list(list(incident.vantages))}"
    return ""


def incident_sentence(
    incident: Incident, *, show_vantages: bool, labels: Mapping[str, str] | None = None
) -> str:
    """One plain sentence about an incident going on, with nothing internal in it.

    `labels` maps service (and network) names to what the page calls them (their
    descriptions). A network-plane incident reads "Since ..., <network> is unreachable
    from the Internet; <why>."
    """
    if network_gone(incident):
        return (
            f"Since {stamp(incident.start)}, {_network_subject(incident, labels)} unreachable"
            f" from the Internet; {why(incident)}."
        )
    verb = "are" if len(incident.services) != 1 else "is"
    state = "failing" if _failing(incident) else "unreachable"
    where = _where(incident, show_vantages)
    return (
        f"Since {stamp(incident.start)}, {affected(incident, labels)} {verb} {state}{where};"
        f" {why(incident)}."
    )


def recovering_sentence(incident: Incident, *, labels: Mapping[str, str] | None = None) -> str:
    """One plain sentence about an incident whose services answer again while it waits to
    be closed (a recovery is confirmed only after it holds for a while). A network-plane
    incident has no services to answer: it is told as going on (`incident_sentence`)."""
    if network_gone(incident):
        return incident_sentence(incident, show_vantages=False, labels=labels)
    verb = "answer" if len(incident.services) != 1 else "answers"
    return (
        f"After failing since {stamp(incident.start)}, {affected(incident, labels)} {verb}"
        " again; the incident closes once that holds."
    )


def past_sentence(
    incident: Incident, *, show_vantages: bool, labels: Mapping[str, str] | None = None
) -> str:
    """One plain sentence about an incident that ended (or, while open, `incident_sentence`)."""
    if incident.end is None:
        return incident_sentence(incident, show_vantages=show_vantages, labels=labels)
    if network_gone(incident):
        reason = "it was planned maintenance" if incident.maintenance else why(incident)

        return (
            f"From {stamp(incident.start)} to {stamp(incident.end)}"
            f" ({duration(incident.end - incident.start)}),"
            f" {_network_subject(incident, labels, past=True)} unreachable from the Internet;"
            f" {reason}."
        )
    verb = "were" if len(incident.services) != 1 else "was"
    state = "failing" if _failing(incident) else "unreachable"
    where = _where(incident, show_vantages)
    reason = "it was planned maintenance" if incident.maintenance else cause_plain(incident.cause)
    return (
        f"From {stamp(incident.start)} to {stamp(incident.end)}"
        f" ({duration(incident.end - incident.start)}), {affected(incident, labels)}"
        f" {verb} {state}{where}; {reason}."
    )

"""The public pages' words about incidents: one plain sentence each, nothing internal.

Shared by `/status` (what is happening now), the incident archive and the Atom feed.
Services are named by what the page calls them (their descriptions), causes in the
plain words of `vocabulary.json`, times in UTC; vantages only when the config allows.
An incident the network plane opened for a whole network (no service of it failing
yet) is told as the network being unreachable from the Internet.

Every sentence is said in the language of `speech` (`netvigil.web.i18n`; English when
none is given); its messages are in the catalogues under `web/locale`.

A service's name inside a sentence (after "Since ...,", "and", ...) is not capitalised
when its description begins with an article: "Since 21:03, the portal is ...", where the
description is "The portal".
"""

from __future__ import annotations

from collections.abc import Mapping

from netvigil.cause import Cause
from netvigil.incident import Incident
from netvigil.web.i18n import Speech, speech_for

__all__ = [
    "affected",
    "in_clause",
    "incident_sentence",
    "name_list",
    "network_gone",
    "past_sentence",
    "recovering_sentence",
    "stamp",
    "why",
]

ARTICLES = frozenset({"The", "A", "An", "Our", "This", "These", "Those", "Its", "Their"})
"""First words a description may begin with that are not part of a name."""


def _speech(speech: Speech | None) -> Speech:
    return speech if speech is not None else speech_for("en")


def stamp(ts: float, speech: Speech | None = None) -> str:
    """Epoch seconds -> '2023-11-14 22:08 UTC' (in the language of `speech`)."""
    return _speech(speech).stamp(ts)


def name_list(items: list[str], limit: int = 5, speech: Speech | None = None) -> str:
    """['a', 'b', 'c'] -> 'a, b and c'; more than `limit` end with 'and N more'."""
    return _speech(speech).names(items, limit)


def in_clause(label: str) -> str:
    """A service's name as said inside a sentence: 'The portal' -> 'the portal'; a name
    ('Tax office', 'e-Albania portal', 'EU portal') stays as it is."""
    first, space, rest = label.partition(" ")
    if space and first in ARTICLES:
        return first.lower() + space + rest
    return label


def affected(
    incident: Incident,
    labels: Mapping[str, str] | None = None,
    speech: Speech | None = None,
    *,
    opening: bool = False,
) -> str:
    """The services an incident touched, as the page names them: 'e-Albania portal'.

    Said inside a sentence unless `opening` (then the first name keeps its capital)."""
    labels = labels or {}
    said = _speech(speech)
    names = [in_clause(labels.get(s, s)) for s in incident.services]
    if opening and incident.services:
        names[0] = labels.get(incident.services[0], incident.services[0])
    return said.names(names) or said.gettext("some services")


def network_gone(incident: Incident) -> bool:
    """Whether the incident is a whole network's, told by the network plane (it names
    networks and no service)."""
    return not incident.services and bool(incident.networks) and incident.vantage is None


def _networks(incident: Incident, labels: Mapping[str, str] | None, said: Speech) -> str:
    """The networks of a network-plane incident, as the page names them."""
    labels = labels or {}
    return said.names([in_clause(labels.get(n, n)) for n in incident.networks])


def _failing(incident: Incident) -> bool:
    """Whether the servers answered badly (rather than not at all)."""
    return incident.cause in (Cause.SERVICE_FAILURE, Cause.TLS_FAILURE, Cause.APPLICATION_DDOS)


def why(incident: Incident, speech: Speech | None = None) -> str:
    """The cause in plain words, or that it was planned maintenance."""
    said = _speech(speech)
    if incident.maintenance:
        return said.gettext("this is planned maintenance")
    if network_gone(incident):
        return said.cause_network(incident.cause)
    return said.cause(incident.cause)


def _where(incident: Incident, show_vantages: bool, said: Speech) -> str:
    if show_vantages and incident.vantages:
        vantages = said.names(list(incident.vantages))
        return " " + said.gettext("from %(vantages)s") % {"vantages": vantages}
    return ""


def incident_sentence(
    incident: Incident,
    *,
    show_vantages: bool,
    labels: Mapping[str, str] | None = None,
    speech: Speech | None = None,
) -> str:
    """One plain sentence about an incident going on, with nothing internal in it.

    `labels` maps service names to what the page calls them (their descriptions).
    """
    said = _speech(speech)
    if network_gone(incident):
        text = said.ngettext(
            "Since %(since)s, %(networks)s is unreachable from the Internet; %(why)s.",
            "Since %(since)s, %(networks)s are unreachable from the Internet; %(why)s.",
            len(incident.networks),
        )
        return text % {
            "since": said.stamp(incident.start),
            "networks": _networks(incident, labels, said),
            "why": why(incident, said),
        }
    n = len(incident.services)
    if _failing(incident):
        text = said.ngettext(
            "Since %(since)s, %(services)s is failing%(where)s; %(why)s.",
            "Since %(since)s, %(services)s are failing%(where)s; %(why)s.",
            n,
        )
    else:
        text = said.ngettext(
            "Since %(since)s, %(services)s is unreachable%(where)s; %(why)s.",
            "Since %(since)s, %(services)s are unreachable%(where)s; %(why)s.",
            n,
        )
    return text % {
        "since": said.stamp(incident.start),
        "services": affected(incident, labels, said),
        "where": _where(incident, show_vantages, said),
        "why": why(incident, said),
    }


def recovering_sentence(
    incident: Incident, *, labels: Mapping[str, str] | None = None, speech: Speech | None = None
) -> str:
    """One plain sentence about an incident whose services answer again while it waits to
    be closed (a recovery is confirmed only after it holds for a while). A network-plane
    incident has no services to answer: it is told as going on (`incident_sentence`)."""
    if network_gone(incident):
        return incident_sentence(incident, show_vantages=False, labels=labels, speech=speech)
    said = _speech(speech)
    text = said.ngettext(
        "After failing since %(since)s, %(services)s answers again;"
        " the incident closes once that holds.",
        "After failing since %(since)s, %(services)s answer again;"
        " the incident closes once that holds.",
        len(incident.services),
    )
    return text % {
        "since": said.stamp(incident.start),
        "services": affected(incident, labels, said),
    }


def past_sentence(
    incident: Incident,
    *,
    show_vantages: bool,
    labels: Mapping[str, str] | None = None,
    speech: Speech | None = None,
) -> str:
    """One plain sentence about an incident that ended (or, while open, `incident_sentence`)."""
    if incident.end is None:
        return incident_sentence(
            incident, show_vantages=show_vantages, labels=labels, speech=speech
        )
    said = _speech(speech)
    if network_gone(incident):
        text = said.ngettext(
            "From %(start)s to %(end)s (%(duration)s), %(networks)s was unreachable from the"
            " Internet; %(why)s.",
            "From %(start)s to %(end)s (%(duration)s), %(networks)s were unreachable from the"
            " Internet; %(why)s.",
            len(incident.networks),
        )
        reason = (
            said.gettext("it was planned maintenance")
            if incident.maintenance
            else why(incident, said)
        )
        return text % {
            "start": said.stamp(incident.start),
            "end": said.stamp(incident.end),
            "duration": said.duration(incident.end - incident.start),
            "networks": _networks(incident, labels, said),
            "why": reason,
        }
    n = len(incident.services)
    if _failing(incident):
        text = said.ngettext(
            "From %(start)s to %(end)s (%(duration)s), %(services)s was failing%(where)s; %(why)s.",
            "From %(start)s to %(end)s (%(duration)s), %(services)s were failing%(where)s;"
            " %(why)s.",
            n,
        )
    else:
        text = said.ngettext(
            "From %(start)s to %(end)s (%(duration)s), %(services)s was unreachable%(where)s;"
            " %(why)s.",
            "From %(start)s to %(end)s (%(duration)s), %(services)s were unreachable%(where)s;"
            " %(why)s.",
            n,
        )
    if incident.maintenance:
        reason = said.gettext("it was planned maintenance")
    else:
        reason = said.cause(incident.cause)
    return text % {
        "start": said.stamp(incident.start),
        "end": said.stamp(incident.end),
        "duration": said.duration(incident.end - incident.start),
        "services": affected(incident, labels, said),
        "where": _where(incident, show_vantages, said),
        "why": reason,
    }

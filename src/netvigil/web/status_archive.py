"""The incident archive of the public status page: what `/status/incidents` and
`/status/incidents/{id}` show, in plain words.

The archive lists the resolved public incidents of the history's period (90 days),
newest first, each with its sentence, start, end and duration; one incident's page
says the same at more length, with a link to its full report
(`/api/v1/incidents/{id}/report.html`). Like `/status`, nothing internal is shown:
services by their public names, causes in plain words, vantages only when the config
allows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from netvigil.incident import Incident
from netvigil.web.i18n import Speech, speech_for
from netvigil.web.status_words import affected, past_sentence, why

__all__ = ["PublicView", "archive_content", "incident_content"]


@dataclass(frozen=True, slots=True)
class PublicView:
    """What the public pages may say: the title, services' public names, whether
    vantages are named, and in which language."""

    title: str
    labels: Mapping[str, str]
    show_vantages: bool
    days: int
    speech: Speech = field(default_factory=lambda: speech_for("en"), compare=False)


def _row(view: PublicView, incident: Incident) -> dict[str, Any]:
    end, said = incident.end, view.speech
    sentence = past_sentence(
        incident, show_vantages=view.show_vantages, labels=view.labels, speech=said
    )
    return {
        "id": incident.id,
        "href": f"/status/incidents/{incident.id}",
        "sentence": sentence,
        "start": said.stamp(incident.start),
        "end": said.stamp(end) if end is not None else said.gettext("still going"),
        "duration": said.duration(end - incident.start) if end is not None else "",
        "maintenance": incident.maintenance is not None,
    }


def archive_content(view: PublicView, incidents: Sequence[Incident]) -> dict[str, Any]:
    """The archive page's content: the resolved incidents among `incidents`, newest first."""
    resolved = [i for i in incidents if i.end is not None]
    resolved.sort(key=lambda i: (-i.start, i.id))
    return {
        "title": view.title,
        "days": view.days,
        "incidents": [_row(view, i) for i in resolved],
    }


def incident_content(view: PublicView, incident: Incident) -> dict[str, Any]:
    """One incident's page content: its sentence, times, services, cause and report link."""
    row = _row(view, incident)
    said = view.speech
    services = [view.labels.get(s, s) for s in incident.services]
    if incident.maintenance:
        heading = said.gettext("%(services)s: planned maintenance")
    else:
        heading = said.gettext("%(services)s: outage")
    cause = why(incident, said)
    return {
        **row,
        "title": view.title,
        "heading": heading % {"services": affected(incident, view.labels, said, opening=True)},
        "open": incident.end is None,
        "services": services,
        "why": cause[:1].upper() + cause[1:] + ".",
        "vantages": list(incident.vantages) if view.show_vantages else [],
        "report": f"/api/v1/incidents/{incident.id}/report.html",
    }

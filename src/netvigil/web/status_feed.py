"""The Atom feed of public incidents (`/status/feed.atom`, RFC 4287).

One entry per public incident open or resolved in the history's period (90 days),
newest start first. An entry's id is its page's address (`<base>/status/incidents/<id>`),
so it stays the same as the incident goes on and ends; its `updated` is the incident's
`updated` (its start when it has none), its `published` the start, its summary the
sentence the archive shows, all in the view's language (`xml:lang`). The feed's id is
the address of `/status`; its `updated` is the newest entry's (or `now` when there is
none).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from xml.etree import ElementTree as ET

from netvigil.incident import Incident
from netvigil.web.status_archive import PublicView
from netvigil.web.status_words import affected, past_sentence

__all__ = ["ATOM_NS", "atom_feed", "rfc3339"]

ATOM_NS = "http://www.w3.org/2005/Atom"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def rfc3339(ts: float) -> str:
    """Epoch seconds -> '2023-11-14T22:08:00Z'."""
    return datetime.fromtimestamp(ts, tz=UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    if text is not None:
        el.text = text
    return el


def _updated(incident: Incident) -> float:
    return incident.updated or incident.start


def _entry(feed: ET.Element, view: PublicView, incident: Incident, base: str) -> None:
    href = f"{base}/status/incidents/{incident.id}"
    entry = _sub(feed, "entry")
    _sub(entry, "id", href)
    said = view.speech
    what = affected(incident, view.labels, said, opening=True)
    if incident.maintenance:
        title = said.gettext("%(services)s: planned maintenance")
    elif incident.end is not None:
        title = said.gettext("%(services)s: resolved")
    else:
        title = said.gettext("%(services)s: ongoing")
    _sub(entry, "title", title % {"services": what})
    _sub(entry, "updated", rfc3339(_updated(incident)))
    _sub(entry, "published", rfc3339(incident.start))
    _sub(entry, "link", rel="alternate", type="text/html", href=href)
    sentence = past_sentence(
        incident, show_vantages=view.show_vantages, labels=view.labels, speech=said
    )
    _sub(entry, "summary", sentence, type="text")


def atom_feed(view: PublicView, incidents: Sequence[Incident], base: str, now: float) -> bytes:
    """The feed document (UTF-8 XML) of `incidents`; `base` is the site's address
    ('https://status.example.org', no trailing slash)."""
    said = view.speech
    feed = ET.Element("feed", {"xmlns": ATOM_NS, XML_LANG: said.code})
    _sub(feed, "id", f"{base}/status")
    _sub(feed, "title", said.gettext("%(title)s: incidents") % {"title": view.title})
    newest = max((_updated(i) for i in incidents), default=now)
    _sub(feed, "updated", rfc3339(newest))
    author = _sub(feed, "author")
    _sub(author, "name", view.title)
    _sub(feed, "link", rel="self", type="application/atom+xml", href=f"{base}/status/feed.atom")
    _sub(feed, "link", rel="alternate", type="text/html", href=f"{base}/status/incidents")
    for incident in sorted(incidents, key=lambda i: (-i.start, i.id)):
        _entry(feed, view, incident, base)
    document: bytes = ET.tostring(feed, encoding="utf-8", xml_declaration=True)
    return document

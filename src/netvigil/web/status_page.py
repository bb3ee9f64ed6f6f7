"""The public status page (`/status`): plain words, no script, cacheable, rendered from memory.

Per service: "Working", "Partly down since ...", "Down since ...", "Under maintenance"
(the words of `netvigil/vocabulary.json`, shared with alerts, the CLI and the dashboard)
or "No data yet"; its last 90 days as one bar per day with the uptime over them
(`netvigil.web.status_history` says how a day gets its state); the confirmed incidents
in one sentence each. Nothing internal is shown: no addresses, no target names, no
outcome codes, and vantage names only with `server.show_vantages_publicly`.
Vantage-problem incidents (one vantage's own trouble) are left out.

Beside it (`StatusPage` serves them all): the incident archive `/status/incidents`
and `/status/incidents/{id}` (`status_archive`), the Atom feed `/status/feed.atom`
(`status_feed`) and one SVG badge per service `/status/badge/{service}.svg`
(`status_badge`).

Language: English or Albanian, chosen by `?lang=sq|en`, else the browser's
Accept-Language, else `server.language` (`netvigil.web.i18n`); the page says which
(`<html lang>`), links to itself in the other language, and answers `Vary:
Accept-Language`. Each language is cached and rendered on its own.

Caching: what the page shows is read from the live state at most every `cache_s`; the
page is rendered again only when that (or the history, recomputed in the background at
most every `StatusHistory.refresh_s`) changed. The answer carries an ETag (a digest of
what it shows), Last-Modified (when that last changed) and `Cache-Control: public,
max-age=15`; a request with a matching If-None-Match (or an If-Modified-Since not
older than the change) gets 304.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import jinja2
from babel.numbers import format_decimal
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from netvigil.cause import Cause
from netvigil.config.model import Config, ServerConfig
from netvigil.errors import StoreError
from netvigil.incident import Incident, IncidentState
from netvigil.store.signals import signal_store_of
from netvigil.web.i18n import LANGUAGES, Speech, negotiate, speech_for
from netvigil.web.state import LiveState, ServiceView
from netvigil.web.status_archive import PublicView, archive_content, incident_content
from netvigil.web.status_badge import badge_svg
from netvigil.web.status_feed import atom_feed
from netvigil.web.status_history import (
    DAY_S,
    DayBar,
    HistorySnapshot,
    StatusHistory,
    is_public,
)
from netvigil.web.status_http import RenderCache, Rendered, answer, not_modified
from netvigil.web.status_network import PlaneCache, network_planes
from netvigil.web.status_words import incident_sentence, recovering_sentence

__all__ = ["MAX_AGE_S", "StatusPage", "incident_sentence"]

MAX_AGE_S = 15
"""How long browsers and proxies may keep the page."""

log = logging.getLogger("netvigil.web")

HTML = "text/html; charset=utf-8"
DEFAULT_TITLE = ServerConfig.model_fields["title"].default
VARY = "Accept-Language"


def _word(status: str, said: Speech) -> str:
    """A service status as the page says it: 'degraded' -> 'Partly down'."""
    word = said.state(status)
    return word[:1].upper() + word[1:]


def _uptime(ok: int, count: int, said: Speech) -> str:
    """The share of successful checks, rounded down to 0.01 %: '99.98%' ('99,98%')."""
    if count == 0:
        return said.gettext("no data")
    share = math.floor(ok / count * 10_000) / 100
    return format_decimal(share, "0.00", locale=said.locale) + "%"


def _bar_title(bar: DayBar, said: Speech) -> str:
    """'2023-11-10 to 2023-11-13: working, 99.98% of checks succeeded'."""
    when = said.day(bar.first)
    if bar.days > 1:
        when = said.gettext("%(first)s to %(last)s") % {
            "first": when,
            "last": said.day(bar.first + (bar.days - 1) * DAY_S),
        }
    if bar.state == "unknown":
        return said.gettext("%(when)s: no data") % {"when": when}
    return said.gettext("%(when)s: %(state)s, %(share)s of checks succeeded") % {
        "when": when,
        "state": said.state(bar.state),
        "share": _uptime(bar.ok_count, bar.count, said),
    }


def _summary(views: list[ServiceView], said: Speech) -> tuple[str, str]:
    """The page's overall state and its one-line summary."""
    down = sum(1 for v in views if v.status == "down")
    degraded = sum(1 for v in views if v.status == "degraded")
    total = len(views)
    if down:
        summary = said.ngettext(
            "%(count)d of %(total)d services is down.",
            "%(count)d of %(total)d services are down.",
            down,
        ) % {"count": down, "total": total}
        if degraded:
            summary += " " + said.ngettext(
                "%(count)d more has problems.", "%(count)d more have problems.", degraded
            ) % {"count": degraded}
        return "down", summary
    if degraded:
        summary = said.ngettext(
            "%(count)d of %(total)d services has problems.",
            "%(count)d of %(total)d services have problems.",
            degraded,
        ) % {"count": degraded, "total": total}
        return "degraded", summary
    if views and all(v.status == "unknown" for v in views):
        return "unknown", said.gettext("No results yet.")
    return "working", said.gettext("All services are working.")


class StatusPage:
    """Renders and serves `/status` and its companions (see the module docstring).

    `history` keeps the last 90 days (none: the page shows no history).
    """

    def __init__(
        self,
        state: LiveState,
        config: Config,
        *,
        history: StatusHistory | None = None,
        cache_s: float = 1.0,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.state = state
        self.config = config
        self.history = history
        self.cache_s = cache_s
        self.now = now
        self.renders = 0
        """How many times the page was rendered (for tests and metrics)."""
        self.cache = RenderCache()
        """The archive, incident, feed and badge answers."""
        self._pages: dict[str, tuple[float, Rendered]] = {}
        self._main = RenderCache(size=2 * len(LANGUAGES))
        """Per language, the page with plain links and with `?lang=` on them."""
        self._labels: tuple[Config | None, dict[str, str]] = (None, {})
        self._bars: dict[str, tuple[HistorySnapshot | None, dict[str, dict[str, Any]]]] = {}
        self._envs: dict[str, jinja2.Environment] = {}
        self._plane_cache = PlaneCache()
        css = importlib.resources.files("netvigil.web") / "templates" / "status.css"
        self.css = css.read_bytes()
        self.css_etag = '"' + hashlib.sha256(self.css).hexdigest()[:20] + '"'

    def _env(self, lang: str) -> jinja2.Environment:
        """The templates, their messages in `lang`."""
        env = self._envs.get(lang)
        if env is None:
            env = jinja2.Environment(
                loader=jinja2.PackageLoader("netvigil.web", "templates"),
                autoescape=True,
                trim_blocks=False,
                extensions=["jinja2.ext.i18n"],
            )
            env.install_gettext_translations(speech_for(lang).translations, newstyle=True)  # type: ignore[attr-defined]
            self._envs[lang] = env
        return env

    def _render(
        self, lang: str, query: str, name: str, content: dict[str, Any], changed: str
    ) -> bytes:
        page = self._env(lang).get_template(name)
        switch = _switch(lang)
        return page.render(
            **content, lang=lang, q=query, languages=switch, changed=changed
        ).encode()

    def language(self, request: Request) -> tuple[str, str]:
        """The language to answer `request` in (see the module docstring), and the query
        the page's links carry to keep it ('?lang=sq' when it was asked for so, else '')."""
        asked = request.query_params.get("lang")
        lang = negotiate(asked, request.headers.get("accept-language"), self.config.server.language)
        return lang, (f"?lang={lang}" if asked == lang else "")

    def title(self, said: Speech) -> str:
        """The pages' title: `server.title`, or, when that is left at its default, the
        default in the page's language."""
        title = self.config.server.title
        if title == DEFAULT_TITLE:
            return said.gettext("Service status")
        return title

    @property
    def labels(self) -> dict[str, str]:
        """Service (and network) names -> what the page calls them (their descriptions)."""
        config, labels = self._labels
        if config is not self.config:
            labels = {n.name: n.description or n.name for n in self.config.networks}
            labels.update({s.name: s.description or s.name for s in self.config.services})
            self._labels = (self.config, labels)
        return labels

    def public_view(self, lang: str = "en") -> PublicView:
        """What the companion pages may say (title, public names, vantages or not)."""
        days = self.history.days if self.history is not None else 0
        return PublicView(
            self.title(speech_for(lang)),
            self.labels,
            self.config.server.show_vantages_publicly,
            days,
            speech_for(lang),
        )

    def _service_rows(self, views: list[ServiceView], said: Speech) -> list[dict[str, Any]]:
        rows = []
        show = self.config.server.show_vantages_publicly
        labels = self.labels
        for view in views:
            words = _word(view.status, said)
            if view.status in ("degraded", "down") and view.since is not None:
                words = said.gettext("%(state)s since %(since)s") % {
                    "state": words,
                    "since": said.stamp(view.since),
                }
            detail = ""
            if show and view.status in ("degraded", "down"):
                bad = sorted({p.vantage for t in view.targets for p in t.pairs if not p.ok})
                if bad:
                    detail = said.gettext("Failing from %(vantages)s") % {
                        "vantages": said.names(bad)
                    }
            rows.append(
                {
                    "name": view.name,
                    "status": view.status,
                    "label": labels.get(view.name, view.name),
                    "words": words,
                    "detail": detail,
                }
            )
        return rows

    def _content(self, now: float, said: Speech) -> dict[str, Any]:
        views = self.state.services(now)
        working = {v.name for v in views if v.status == "working"}
        show = self.config.server.show_vantages_publicly
        sentences = [
            incident_sentence(i, show_vantages=show, labels=self.labels, speech=said)
            if not set(i.services) <= working
            else recovering_sentence(i, labels=self.labels, speech=said)
            for i in self.state.open_incidents()
            if i.state is IncidentState.CONFIRMED and i.cause is not Cause.VANTAGE_PROBLEM
        ]
        overall, summary = _summary(views, said)
        return {
            "title": self.title(said),
            "overall": overall,
            "summary": summary,
            "incidents": sentences,
            "services": self._service_rows(views, said),
        }

    def _snapshot(self) -> HistorySnapshot | None:
        return self.history.snapshot if self.history is not None else None

    def _history_rows(self, said: Speech) -> dict[str, dict[str, Any]]:
        """Per service: its bars and uptime, made once per history snapshot and language."""
        snapshot = self._snapshot()
        held, rows = self._bars.get(said.code, (None, {}))
        if snapshot is held and rows:
            return rows
        rows = {}
        if snapshot is not None:
            for name, h in snapshot.services.items():
                bars = [(b.state, b.days, _bar_title(b, said)) for b in h.bars]
                if h.count:
                    uptime = said.gettext("%(share)s of checks succeeded in %(days)d days") % {
                        "share": _uptime(h.ok_count, h.count, said),
                        "days": snapshot.days,
                    }
                else:
                    uptime = said.gettext("No data in %(days)d days") % {"days": snapshot.days}
                rows[name] = {"bars": bars, "uptime": uptime}
        self._bars[said.code] = (snapshot, rows)
        return rows

    def page(self, lang: str = "en", query: str = "") -> Rendered:
        """The current page in `lang` (its links carrying `query`): re-read at most every
        `cache_s`, re-rendered when it changed."""
        now = self.now()
        held = self._pages.get(lang + query)
        if held is not None and now - held[0] < self.cache_s:
            return held[1]
        said = speech_for(lang)
        content = self._content(now, said)
        snapshot = self._snapshot()
        version = snapshot.computed_at if snapshot is not None else None

        def render(changed: str) -> bytes:
            self.renders += 1
            days = snapshot.days if snapshot is not None else 0
            history = self._history_rows(said)
            return self._render(
                lang, query, "status.html", {**content, "history": history, "days": days}, changed
            )

        key = (lang, query, sorted(content.items()), version)
        page = self._main.get(f"status:{lang}{query}", key, render, now, said.stamp)
        self._pages[lang + query] = (now, page)
        return page

    def _refresh_history(self) -> None:
        """Start the history's background computation if due, or if the live incidents
        are not those the snapshot holds open."""
        if self.history is None:
            return
        snapshot = self.history.snapshot
        changed = False
        if snapshot is not None:
            held = {i.id for i in snapshot.incidents if i.end is None}
            live = {i.id for i in self.state.open_incidents() if is_public(i)}
            changed = held != live
        self.history.maybe_refresh(incidents_changed=changed)

    async def serve(self, request: Request) -> Response:
        """GET/HEAD /status."""
        self._refresh_history()
        return answer(request, self.page(*self.language(request)), HTML, MAX_AGE_S, vary=VARY)

    async def serve_css(self, request: Request) -> Response:
        """GET /status.css."""
        headers = {"Cache-Control": "public, max-age=3600", "ETag": self.css_etag}
        if not_modified(request, self.css_etag, None):
            return Response(status_code=304, headers=headers)
        return Response(self.css, media_type="text/css; charset=utf-8", headers=headers)

    def public_incidents(self) -> list[Incident]:
        """The public incidents of the history's period, the live open ones in their
        newest form, newest start first."""
        snapshot = self._snapshot()
        held = {i.id: i for i in snapshot.incidents} if snapshot is not None else {}
        for i in self.state.open_incidents():
            if is_public(i):
                held[i.id] = i
        return sorted(held.values(), key=lambda i: (-i.start, i.id))

    async def serve_archive(self, request: Request) -> Response:
        """GET/HEAD /status/incidents: the resolved incidents of the period, newest first."""
        self._refresh_history()
        lang, query = self.language(request)
        content = archive_content(self.public_view(lang), self.public_incidents())
        page = self.cache.get(
            f"archive:{lang}{query}",
            (lang, query, content),
            lambda changed: self._render(lang, query, "archive.html", content, changed),
            self.now(),
            speech_for(lang).stamp,
        )
        return answer(request, page, HTML, MAX_AGE_S, vary=VARY)

    async def serve_incident(self, request: Request) -> Response:
        """GET/HEAD /status/incidents/{incident_id}: one incident in plain words; 404 for
        one the public pages do not show."""
        self._refresh_history()
        wanted = request.path_params["incident_id"]
        found = next((i for i in self.public_incidents() if i.id == wanted), None)
        if found is None:
            raise HTTPException(404, f"no such incident: {wanted}")
        lang, query = self.language(request)
        content = incident_content(self.public_view(lang), found)
        content["planes"] = await self._planes(found, lang)
        page = self.cache.get(
            f"incident:{wanted}:{lang}{query}",
            (lang, query, content),
            lambda changed: self._render(lang, query, "incident.html", content, changed),
            self.now(),
            speech_for(lang).stamp,
        )
        return answer(request, page, HTML, MAX_AGE_S, vary=VARY)

    async def _planes(self, incident: Incident, lang: str) -> list[dict[str, Any]]:
        """The network plane of `incident` (`status_network`); none when it cannot be read."""
        now = self.now()
        kept = self._plane_cache.get(incident, lang, now)
        if kept is not None:
            return kept
        store = signal_store_of(self.history.store) if self.history is not None else None
        try:
            said = speech_for(lang)
            planes = await network_planes(store, incident, self.config, said, self.labels, now=now)
        except StoreError as exc:
            log.warning("network plane of %s not shown: %s", incident.id, exc)
            return []
        self._plane_cache.put(incident, lang, now, planes)
        return planes

    async def serve_feed(self, request: Request) -> Response:
        """GET/HEAD /status/feed.atom: the public incidents of the period as Atom."""
        self._refresh_history()
        lang, _ = self.language(request)
        incidents = self.public_incidents()
        base = str(request.base_url).rstrip("/")
        view, now = self.public_view(lang), self.now()
        content = (lang, base, view, [(i.id, i.updated, i.end, i.maintenance) for i in incidents])
        page = self.cache.get(
            f"feed:{lang}", content, lambda _: atom_feed(view, incidents, base, now), now
        )
        return answer(request, page, "application/atom+xml; charset=utf-8", MAX_AGE_S, vary=VARY)

    async def serve_badge(self, request: Request) -> Response:
        """GET/HEAD /status/badge/{service}.svg: the service's state word on its colour;
        404 for an unknown service."""
        name = request.path_params["service"]
        if name not in {s.name for s in self.config.services}:
            raise HTTPException(404, f"no such service: {name}")
        lang, _ = self.language(request)
        status = self.state.service(name, self.now()).status
        page = self.cache.get(
            f"badge:{name}:{lang}",
            (name, status, lang),
            lambda _: badge_svg(status, speech=speech_for(lang)),
            self.now(),
        )
        return answer(request, page, "image/svg+xml", MAX_AGE_S, vary=VARY)


def _switch(lang: str) -> list[dict[str, str]]:
    """The language switch: each other language, its name and the page's address in it."""
    return [
        {"code": code, "name": language.name, "href": f"?lang={code}"}
        for code, language in LANGUAGES.items()
        if code != lang
    ]

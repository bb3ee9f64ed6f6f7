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
import time
from collections.abc import Callable
from typing import Any

import jinja2
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from netvigil.cause import Cause
from netvigil.config.model import Config
from netvigil.incident import Incident, IncidentState
from netvigil.web.state import LiveState, ServiceView
from netvigil.web.status_archive import PublicView, archive_content, incident_content
from netvigil.web.status_badge import badge_svg
from netvigil.web.status_feed import atom_feed
from netvigil.web.status_history import (
    DAY_S,
    HistorySnapshot,
    StatusHistory,
    is_public,
    uptime_words,
)
from netvigil.web.status_http import RenderCache, Rendered, answer, not_modified
from netvigil.web.status_words import (
    incident_sentence,
    name_list,
    recovering_sentence,
    stamp,
)
from netvigil.words import state_word

__all__ = ["MAX_AGE_S", "StatusPage", "incident_sentence"]

MAX_AGE_S = 15
"""How long browsers and proxies may keep the page."""

HTML = "text/html; charset=utf-8"


def _word(status: str) -> str:
    """A service status as the page says it: 'degraded' -> 'Partly down'."""
    word = state_word(status)
    return word[:1].upper() + word[1:]


def _bar_title(first: int, days: int, state: str, ok: int, count: int) -> str:
    """'2023-11-10 to 2023-11-13: working, 99.98% of checks succeeded'."""
    when = stamp(first)[:10]
    if days > 1:
        when += f" to {stamp(first + (days - 1) * DAY_S)[:10]}"
    if state == "unknown":
        return f"{when}: no data"
    return f"{when}: {state_word(state)}, {uptime_words(ok, count)} of checks succeeded"


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
        self._checked_at = float("-inf")
        self._page: Rendered | None = None
        self._main = RenderCache(size=1)
        self._labels: tuple[Config | None, dict[str, str]] = (None, {})
        self._bars: tuple[HistorySnapshot | None, dict[str, dict[str, Any]]] = (None, {})
        env = jinja2.Environment(
            loader=jinja2.PackageLoader("netvigil.web", "templates"),
            autoescape=True,
            trim_blocks=False,
        )
        self._env = env
        self._template = env.get_template("status.html")
        css = importlib.resources.files("netvigil.web") / "templates" / "status.css"
        self.css = css.read_bytes()
        self.css_etag = '"' + hashlib.sha256(self.css).hexdigest()[:20] + '"'

    @property
    def labels(self) -> dict[str, str]:
        """Service (and network) names -> what the page calls them (their descriptions)."""
        config, labels = self._labels
        if config is not self.config:
            labels = {n.name: n.description or n.name for n in self.config.networks}
            labels.update({s.name: s.description or s.name for s in self.config.services})
            self._labels = (self.config, labels)
        return labels

    def public_view(self) -> PublicView:
        """What the companion pages may say (title, public names, vantages or not)."""
        days = self.history.days if self.history is not None else 0
        return PublicView(
            self.config.server.title,
            self.labels,
            self.config.server.show_vantages_publicly,
            days,
        )

    def _service_rows(self, views: list[ServiceView], now: float) -> list[dict[str, Any]]:
        rows = []
        show = self.config.server.show_vantages_publicly
        labels = self.labels
        for view in views:
            words = _word(view.status)
            if view.status in ("degraded", "down") and view.since is not None:
                words += f" since {stamp(view.since)}"
            detail = ""
            if show and view.status in ("degraded", "down"):
                bad = sorted({p.vantage for t in view.targets for p in t.pairs if not p.ok})
                detail = f"Failing from {name_list(bad)}" if bad else ""
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

    def _content(self, now: float) -> dict[str, Any]:
        views = self.state.services(now)
        rows = self._service_rows(views, now)
        working = {v.name for v in views if v.status == "working"}
        show = self.config.server.show_vantages_publicly
        sentences = [
            incident_sentence(i, show_vantages=show, labels=self.labels)
            if not set(i.services) <= working
            else recovering_sentence(i, labels=self.labels)
            for i in self.state.open_incidents()
            if i.state is IncidentState.CONFIRMED and i.cause is not Cause.VANTAGE_PROBLEM
        ]
        down = sum(1 for v in views if v.status == "down")
        degraded = sum(1 for v in views if v.status == "degraded")
        if down:
            overall = "down"
            summary = f"{down} of {len(views)} services {'is' if down == 1 else 'are'} down."
            if degraded:
                summary += f" {degraded} more {'has' if degraded == 1 else 'have'} problems."
        elif degraded:
            overall = "degraded"
            have = "has" if degraded == 1 else "have"
            summary = f"{degraded} of {len(views)} services {have} problems."
        elif views and all(v.status == "unknown" for v in views):
            overall, summary = "unknown", "No results yet."
        else:
            overall, summary = "working", "All services are working."
        return {
            "title": self.config.server.title,
            "overall": overall,
            "summary": summary,
            "incidents": sentences,
            "services": rows,
        }

    def _snapshot(self) -> HistorySnapshot | None:
        return self.history.snapshot if self.history is not None else None

    def _history_rows(self) -> dict[str, dict[str, Any]]:
        """Per service: its bars and uptime, made once per history snapshot."""
        snapshot = self._snapshot()
        held, rows = self._bars
        if snapshot is held:
            return rows
        rows = {}
        if snapshot is not None:
            for name, h in snapshot.services.items():
                bars = [
                    (b.state, b.days, _bar_title(b.first, b.days, b.state, b.ok_count, b.count))
                    for b in h.bars
                ]
                if h.count:
                    uptime = f"{h.uptime} of checks succeeded in {snapshot.days} days"
                else:
                    uptime = f"No data in {snapshot.days} days"
                rows[name] = {"bars": bars, "uptime": uptime}
        self._bars = (snapshot, rows)
        return rows

    def page(self) -> Rendered:
        """The current page: re-read at most every `cache_s`, re-rendered when it changed."""
        now = self.now()
        if self._page is not None and now - self._checked_at < self.cache_s:
            return self._page
        content = self._content(now)
        snapshot = self._snapshot()
        version = snapshot.computed_at if snapshot is not None else None
        self._checked_at = now

        def render(changed: str) -> bytes:
            self.renders += 1
            days = snapshot.days if snapshot is not None else 0
            history = self._history_rows()
            return self._template.render(
                **content, history=history, days=days, changed=changed
            ).encode()

        self._page = self._main.get("status", (sorted(content.items()), version), render, now)
        return self._page

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
        return answer(request, self.page(), HTML, MAX_AGE_S)

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
        content = archive_content(self.public_view(), self.public_incidents())
        page = self.cache.get(
            "archive",
            content,
            lambda changed: (
                self._env.get_template("archive.html").render(**content, changed=changed).encode()
            ),
            self.now(),
        )
        return answer(request, page, HTML, MAX_AGE_S)

    async def serve_incident(self, request: Request) -> Response:
        """GET/HEAD /status/incidents/{incident_id}: one incident in plain words; 404 for
        one the public pages do not show."""
        self._refresh_history()
        wanted = request.path_params["incident_id"]
        found = next((i for i in self.public_incidents() if i.id == wanted), None)
        if found is None:
            raise HTTPException(404, f"no such incident: {wanted}")
        content = incident_content(self.public_view(), found)
        page = self.cache.get(
            f"incident:{wanted}",
            content,
            lambda changed: (
                self._env.get_template("incident.html").render(**content, changed=changed).encode()
            ),
            self.now(),
        )
        return answer(request, page, HTML, MAX_AGE_S)

    async def serve_feed(self, request: Request) -> Response:
        """GET/HEAD /status/feed.atom: the public incidents of the period as Atom."""
        self._refresh_history()
        incidents = self.public_incidents()
        base = str(request.base_url).rstrip("/")
        view, now = self.public_view(), self.now()
        content = (base, view, [(i.id, i.updated, i.end, i.maintenance) for i in incidents])
        page = self.cache.get("feed", content, lambda _: atom_feed(view, incidents, base, now), now)
        return answer(request, page, "application/atom+xml; charset=utf-8", MAX_AGE_S)

    async def serve_badge(self, request: Request) -> Response:
        """GET/HEAD /status/badge/{service}.svg: the service's state word on its colour;
        404 for an unknown service."""
        name = request.path_params["service"]
        if name not in {s.name for s in self.config.services}:
            raise HTTPException(404, f"no such service: {name}")
        status = self.state.service(name, self.now()).status
        page = self.cache.get(
            f"badge:{name}", (name, status), lambda _: badge_svg(status), self.now()
        )
        return answer(request, page, "image/svg+xml", MAX_AGE_S)

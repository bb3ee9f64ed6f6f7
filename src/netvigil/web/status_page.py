"""The public status page (`/status`): plain words, no script, cacheable, rendered from memory.

Per service: "Working", "Partly down since ...", "Down since ...", "Under maintenance"
(the words of `netvigil/vocabulary.json`, shared with alerts, the CLI and the dashboard)
or "No data yet"; the confirmed incidents in one sentence each. Nothing internal is
shown: no addresses, no target names, no outcome codes, and vantage names only with
`server.show_vantages_publicly`. Vantage-problem incidents (one vantage's own trouble)
are left out.

Caching: what the page shows is read from the live state at most every `cache_s`; the
page is rendered again only when that changed. The answer carries an ETag (a digest of
what it shows), Last-Modified (when that last changed) and `Cache-Control: public,
max-age=15`; a request with a matching If-None-Match (or an If-Modified-Since not
older than the change) gets 304.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

import jinja2
from starlette.requests import Request
from starlette.responses import Response

from netvigil.cause import Cause
from netvigil.config.model import Config
from netvigil.incident import Incident, IncidentState
from netvigil.web.state import LiveState, ServiceView
from netvigil.words import cause_plain, state_word

__all__ = ["MAX_AGE_S", "StatusPage", "incident_sentence"]

MAX_AGE_S = 15
"""How long browsers and proxies may keep the page."""


def _word(status: str) -> str:
    """A service status as the page says it: 'degraded' -> 'Partly down'."""
    word = state_word(status)
    return word[:1].upper() + word[1:]


def _stamp(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _names(items: list[str], limit: int = 5) -> str:
    if len(items) > limit:
        return f"{', '.join(items[:limit])} and {len(items) - limit} more"
    if len(items) <= 1:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def incident_sentence(
    incident: Incident, *, show_vantages: bool, labels: Mapping[str, str] | None = None
) -> str:
    """One plain sentence about an incident, with nothing internal in it.

    `labels` maps service names to what the page calls them (their descriptions).
    """
    labels = labels or {}
    what = _names([labels.get(s, s) for s in incident.services]) or "some services"
    verb = "are" if len(incident.services) != 1 else "is"
    failing = incident.cause in (Cause.SERVICE_FAILURE, Cause.TLS_FAILURE, Cause.APPLICATION_DDOS)
    state = "failing" if failing else "unreachable"
    where = ""
    if show_vantages and incident.vantages:
        where = f" from {_names(list(incident.vantages))}"
    why = cause_plain(incident.cause)
    if incident.maintenance:
        why = "this is planned maintenance"
    return f"Since {_stamp(incident.start)}, {what} {verb} {state}{where}; {why}."


@dataclass(frozen=True, slots=True)
class _Rendered:
    digest: str
    body: bytes
    etag: str
    changed_at: float
    last_modified: str


class StatusPage:
    """Renders and serves `/status` (see the module docstring)."""

    def __init__(
        self,
        state: LiveState,
        config: Config,
        *,
        cache_s: float = 1.0,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.state = state
        self.config = config
        self.cache_s = cache_s
        self.now = now
        self.renders = 0
        """How many times the page was rendered (for tests and metrics)."""
        self._checked_at = float("-inf")
        self._page: _Rendered | None = None
        self._labels = {s.name: s.description or s.name for s in config.services}
        env = jinja2.Environment(
            loader=jinja2.PackageLoader("netvigil.web", "templates"),
            autoescape=True,
            trim_blocks=False,
        )
        self._template = env.get_template("status.html")
        css = importlib.resources.files("netvigil.web") / "templates" / "status.css"
        self.css = css.read_bytes()
        self.css_etag = '"' + hashlib.sha256(self.css).hexdigest()[:20] + '"'

    def _service_rows(self, views: list[ServiceView], now: float) -> list[dict[str, str]]:
        rows = []
        show = self.config.server.show_vantages_publicly
        for view in views:
            words = _word(view.status)
            if view.status in ("degraded", "down") and view.since is not None:
                words += f" since {_stamp(view.since)}"
            detail = ""
            if show and view.status in ("degraded", "down"):
                bad = sorted({p.vantage for t in view.targets for p in t.pairs if not p.ok})
                detail = f"Failing from {_names(bad)}" if bad else ""
            rows.append(
                {
                    "status": view.status,
                    "label": self._labels.get(view.name, view.name),
                    "words": words,
                    "detail": detail,
                }
            )
        return rows

    def _content(self, now: float) -> dict[str, Any]:
        views = self.state.services(now)
        rows = self._service_rows(views, now)
        sentences = [
            incident_sentence(
                i, show_vantages=self.config.server.show_vantages_publicly, labels=self._labels
            )
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

    def page(self) -> _Rendered:
        """The current page: re-read at most every `cache_s`, re-rendered when it changed."""
        now = self.now()
        if self._page is not None and now - self._checked_at < self.cache_s:
            return self._page
        content = self._content(now)
        digest = hashlib.sha256(repr(sorted(content.items())).encode()).hexdigest()[:20]
        self._checked_at = now
        if self._page is not None and self._page.digest == digest:
            return self._page
        changed_at = float(int(now))
        body = self._template.render(**content, changed=_stamp(changed_at)).encode()
        self.renders += 1
        modified = format_datetime(datetime.fromtimestamp(changed_at, tz=UTC), usegmt=True)
        self._page = _Rendered(digest, body, f'"{digest}"', changed_at, modified)
        return self._page

    async def serve(self, request: Request) -> Response:
        """GET/HEAD /status."""
        page = self.page()
        headers = {
            "Cache-Control": f"public, max-age={MAX_AGE_S}",
            "ETag": page.etag,
            "Last-Modified": page.last_modified,
        }
        if _not_modified(request, page.etag, page.changed_at):
            return Response(status_code=304, headers=headers)
        body = b"" if request.method == "HEAD" else page.body
        response = Response(body, media_type="text/html; charset=utf-8", headers=headers)
        if request.method == "HEAD":
            response.headers["content-length"] = str(len(page.body))
        return response

    async def serve_css(self, request: Request) -> Response:
        """GET /status.css."""
        headers = {"Cache-Control": "public, max-age=3600", "ETag": self.css_etag}
        if _not_modified(request, self.css_etag, None):
            return Response(status_code=304, headers=headers)
        return Response(self.css, media_type="text/css; charset=utf-8", headers=headers)


def _not_modified(request: Request, etag: str, changed_at: float | None) -> bool:
    match = request.headers.get("if-none-match")
    if match is not None:
        tags = {t.strip().removeprefix("W/") for t in match.split(",")}
        return etag in tags or "*" in tags
    since = request.headers.get("if-modified-since")
    if since is None or changed_at is None:
        return False
    try:
        when = parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    if when.tzinfo is None:
        return False
    return changed_at <= when.timestamp()

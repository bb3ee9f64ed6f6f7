"""How the public pages answer: rendered once per change, with ETag and Last-Modified.

`RenderCache` keeps one rendered body per key and renders again only when the digest
of what it shows changed; `answer` serves a body with `Cache-Control: public`, an
ETag (the digest) and Last-Modified (when it last changed), and answers 304 to a
matching `If-None-Match`, or to an `If-Modified-Since` not older than the change.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

__all__ = ["RenderCache", "Rendered", "answer", "digest_of", "not_modified"]


@dataclass(frozen=True, slots=True)
class Rendered:
    """One rendered answer: its digest (the ETag's value), body and when it changed."""

    digest: str
    body: bytes
    etag: str
    changed_at: float
    last_modified: str


def digest_of(content: Any) -> str:
    """A short digest of what a page shows (its repr)."""
    return hashlib.sha256(repr(content).encode()).hexdigest()[:20]


class RenderCache:
    """The last rendered body per key, rendered again only when its content changed.

    At most `size` keys are kept (the oldest is dropped first).
    """

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self.renders = 0
        """How many bodies were rendered (for tests and metrics)."""
        self._held: dict[str, Rendered] = {}

    def get(
        self,
        key: str,
        content: Any,
        render: Callable[[str], bytes],
        now: float,
        say_time: Callable[[float], str] | None = None,
    ) -> Rendered:
        """The body of `content` under `key`; `render(changed)` makes it when new, where
        `changed` is the change time in words (`say_time(epoch s)`, or '2023-11-14 22:08
        UTC')."""
        digest = digest_of(content)
        held = self._held.get(key)
        if held is not None and held.digest == digest:
            return held
        changed_at = float(int(now))
        changed = datetime.fromtimestamp(changed_at, tz=UTC)
        said = say_time(changed_at) if say_time else changed.strftime("%Y-%m-%d %H:%M UTC")
        body = render(said)
        self.renders += 1
        modified = format_datetime(changed, usegmt=True)
        rendered = Rendered(digest, body, f'"{digest}"', changed_at, modified)
        self._held.pop(key, None)
        self._held[key] = rendered
        while len(self._held) > self.size:
            del self._held[next(iter(self._held))]
        return rendered


def answer(
    request: Request, page: Rendered, media_type: str, max_age: int, *, vary: str | None = None
) -> Response:
    """GET/HEAD answer for `page`: 200 with the body, or 304 (see the module docstring).

    `vary` names the request headers the body depends on (`Vary`)."""
    headers = {
        "Cache-Control": f"public, max-age={max_age}",
        "ETag": page.etag,
        "Last-Modified": page.last_modified,
    }
    if vary:
        headers["Vary"] = vary
    if not_modified(request, page.etag, page.changed_at):
        return Response(status_code=304, headers=headers)
    body = b"" if request.method == "HEAD" else page.body
    response = Response(body, media_type=media_type, headers=headers)
    if request.method == "HEAD":
        response.headers["content-length"] = str(len(page.body))
    return response


def not_modified(request: Request, etag: str, changed_at: float | None) -> bool:
    """Whether the client's copy is current (If-None-Match first, then If-Modified-Since)."""
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

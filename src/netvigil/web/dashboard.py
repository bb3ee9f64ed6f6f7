"""The live dashboard: the page shell at `/` and `/ui/...`, and its built assets at `/static/`.

The dashboard is a single page (TypeScript in `frontend/`, built with esbuild by `make
frontend`) that reads the JSON API under `/api/v1` and its event stream. The build
writes hashed files (`app-<hash>.js`, `app-<hash>.css`) and `manifest.json` naming them
into `netvigil/web/static/`; they are committed, so an install from Python alone serves
the dashboard without Node.js.

    app.include_router(dashboard_router())

Routes:

    GET /                  the page shell (the overview)
    GET /ui/{path}         the same shell; the page's script routes on the path
    GET /static/{name}     a built asset: hashed names are cached for a year (immutable),
                           others revalidate

The shell carries no inline script or style, so it runs under `script-src 'self'`.
"""

from __future__ import annotations

import html
import json
import re
from dataclasses import dataclass
from pathlib import Path

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, HTMLResponse

__all__ = ["STATIC_DIR", "Assets", "dashboard_router", "load_assets", "render_shell"]

STATIC_DIR = Path(__file__).parent / "static"
"""Where the built assets live (inside the package)."""

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"
_HASHED = re.compile(r"^[A-Za-z0-9_]+-[A-Z0-9]{8}\.(?:js|css)$")
_SERVABLE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}\.(?:js|css|svg|png|json)$")
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".json": "application/json",
}


@dataclass(frozen=True, slots=True)
class Assets:
    """The built script and stylesheet the shell links to (file names in `static/`)."""

    script: str
    stylesheet: str


def load_assets(static_dir: Path = STATIC_DIR) -> Assets | None:
    """The assets named by `static_dir/manifest.json`, or None when the build is missing."""
    try:
        manifest = json.loads((static_dir / "manifest.json").read_text(encoding="utf-8"))
        assets = Assets(script=str(manifest["app.js"]), stylesheet=str(manifest["app.css"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    for name in (assets.script, assets.stylesheet):
        if not _HASHED.match(name) or not (static_dir / name).is_file():
            return None
    return assets


def render_shell(assets: Assets | None, title: str = "netvigil") -> str:
    """The HTML page shell: links to the assets, and what to do without JavaScript."""
    t = html.escape(title)
    if assets is None:
        body = (
            "<main><h1>Dashboard not built</h1><p>The dashboard's assets are missing from "
            "this installation: run <code>make frontend</code>. The "
            '<a href="/status">status page</a> and the <a href="/api/v1/openapi.json">API</a> '
            "work without them.</p></main>"
        )
        head = ""
    else:
        head = (
            f'<link rel="stylesheet" href="/static/{html.escape(assets.stylesheet)}">\n'
            f'<script type="module" src="/static/{html.escape(assets.script)}"></script>\n'
        )
        body = (
            '<div id="app"><noscript><p>The live dashboard needs JavaScript. The '
            '<a href="/status">status page</a> works without it.</p></noscript></div>'
        )
    return (
        "<!doctype html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="color-scheme" content="light dark">\n'
        f"<title>{t}</title>\n"
        '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">\n'
        f"{head}</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def dashboard_router(static_dir: Path = STATIC_DIR, *, title: str = "netvigil") -> APIRouter:
    """The dashboard's routes (see the module docstring), serving assets from `static_dir`.

    The manifest is read once, when the router is made.
    """
    router = APIRouter(include_in_schema=False)
    assets = load_assets(static_dir)
    shell = render_shell(assets, title)
    status = 200 if assets is not None else 503
    root = static_dir.resolve()

    def page() -> HTMLResponse:
        return HTMLResponse(shell, status_code=status, headers={"Cache-Control": REVALIDATE})

    @router.get("/")
    async def index() -> HTMLResponse:
        return page()

    @router.get("/ui")
    async def ui_root() -> HTMLResponse:
        return page()

    @router.get("/ui/{path:path}")
    async def ui(path: str) -> HTMLResponse:
        return page()

    @router.get("/static/{name}")
    async def static(name: str) -> FileResponse:
        if not _SERVABLE.match(name):
            raise HTTPException(404, f"no such asset: {name!r}")
        path = (root / name).resolve()
        if path.parent != root or not path.is_file():
            raise HTTPException(404, f"no such asset: {name!r}")
        cache = IMMUTABLE if _HASHED.match(name) else REVALIDATE
        return FileResponse(
            path,
            media_type=_TYPES.get(path.suffix, "application/octet-stream"),
            headers={"Cache-Control": cache},
        )

    return router

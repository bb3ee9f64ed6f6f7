"""The web application: the versioned JSON API under `/api/v1` and `/metrics`.

    app = create_app(store, config, metrics)           # FastAPI (ASGI) app
    server = await WebServer.start(app, port=0)          # see netvigil.web.server

Routes:

    GET  /api/v1/health    liveness, no auth: {"ok": true, "vantage": ..., "time": ...}
    POST /api/v1/ingest    agent batches, bearer token (netvigil.web.ingest)
    GET  /api/v1/...       services, targets, measurements, rollups, incidents, reports,
                           vantages, overview, the SSE stream (netvigil.web.api; docs/api.md)
    *    /api/v1/admin/... admin actions, admin bearer token (netvigil.web.api.admin)
    GET  /status           the public status page (netvigil.web.status_page)
    GET  /metrics          Prometheus text

More API routers join under `/api/v1` through `routers`. Every error any route answers
with has the one shape of `netvigil.web.errors`; every response carries the security
headers of `netvigil.web.security`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

from fastapi import APIRouter, FastAPI
from fastapi.responses import Response

from netvigil.config.model import Config
from netvigil.metrics import Metrics
from netvigil.store.base import AdminStore, AgentRecord, Store
from netvigil.web.api import WebContext, api_routers
from netvigil.web.api.models import ErrorOut
from netvigil.web.dashboard import dashboard_router
from netvigil.web.errors import install_error_handlers
from netvigil.web.ingest import DEFAULT_LIMITS, IngestLimits, ingest_router
from netvigil.web.security import AdminGuard, SecurityHeaders
from netvigil.web.state import LiveState
from netvigil.web.status_page import StatusPage
from netvigil.web.tokens import AgentRegistry, admin_store_of, call_blocking

__all__ = ["API_PREFIX", "create_app"]

API_PREFIX = "/api/v1"


def create_app(
    store: Store,
    config: Config,
    metrics: Metrics | None = None,
    *,
    limits: IngestLimits = DEFAULT_LIMITS,
    routers: Sequence[APIRouter] = (),
    now: Callable[[], float] = time.time,
    state: LiveState | None = None,
    admin: AdminStore | Literal["auto"] | None = "auto",
    poll_s: float = 2.0,
    keepalive_s: float = 15.0,
    status_cache_s: float = 1.0,
) -> FastAPI:
    """The ASGI app serving `store` to agents (ingest) and readers (API, metrics).

    `config.agents` are the remote vantages allowed to ingest (plus those added through
    the admin API); `metrics` is the registry `/metrics` renders (a fresh one when None).
    `state` is the live state the API and status page read: pass the one the monitor
    and detection feed (`LiveState.submit`, `LiveState.events`); without one, a state
    pulled from the store every `poll_s` is used. `admin` holds the admin tables: by
    default `store` itself, or the store it wraps (none for a store without them: admin
    routes then answer 401); their mutes and agents are read here, before this returns.
    `app.state` holds `store`, `config`, `metrics`, `live` and `admin`.
    """
    if metrics is None:
        metrics = Metrics()
    app = FastAPI(
        title="netvigil",
        docs_url=None,
        redoc_url=None,
        openapi_url=f"{API_PREFIX}/openapi.json",
    )
    if state is None:
        state = LiveState(config, now=now)
    if admin == "auto":
        admin = admin_store_of(store)
    added: list[AgentRecord] = []
    if admin is not None:
        state.set_mutes(call_blocking(admin.mutes))
        added = call_blocking(admin.agents)
    agents = AgentRegistry(list(config.agents), admin, added)
    ctx = WebContext(
        store=store,
        config=config,
        state=state,
        admin=admin,
        agents=agents,
        guard=AdminGuard(admin, localhost_only=config.server.admin_localhost_only),
        now=now,
        poll_s=poll_s,
        keepalive_s=keepalive_s,
    )
    app.state.store = store
    app.state.config = config
    app.state.metrics = metrics
    app.state.live = state
    app.state.admin = admin
    app.state.context = ctx
    install_error_handlers(app)
    app.add_middleware(SecurityHeaders)

    api = APIRouter(prefix=API_PREFIX)

    @api.get("/health", summary="Liveness: answers while the server runs")
    async def health() -> dict[str, Any]:
        return {"ok": True, "vantage": config.vantage.name, "time": now()}

    api.include_router(
        ingest_router(store, agents, limits=limits, metrics=metrics, now=now),
        responses=INGEST_RESPONSES,
    )
    for router in [*api_routers(ctx), *routers]:
        api.include_router(router)
    app.include_router(api)

    if config.server.public_status:
        page = StatusPage(state, config, cache_s=status_cache_s, now=now)
        app.state.status_page = page
        app.add_route("/status", page.serve, methods=["GET", "HEAD"], include_in_schema=False)
        app.add_route(
            "/status.css", page.serve_css, methods=["GET", "HEAD"], include_in_schema=False
        )

    rendered_by = metrics

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(rendered_by.render(), media_type=rendered_by.content_type)

    app.include_router(dashboard_router())
    return app


INGEST_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text}
    for code, text in (
        (400, "The body is not JSON"),
        (401, "No agent token, or an unknown one"),
        (403, "The batch names another agent"),
        (413, "The batch is too large"),
        (422, "A measurement is malformed, too old or in the future"),
        (503, "The store could not write; retry later"),
    )
}

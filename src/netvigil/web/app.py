"""The web application: the versioned JSON API under `/api/v1` and `/metrics`.

    app = create_app(store, config, metrics)           # FastAPI (ASGI) app
    server = await WebServer.start(app, port=0)          # see netvigil.web.server

Routes:

    GET  /api/v1/health    liveness, no auth: {"ok": true, "vantage": ..., "time": ...}
    POST /api/v1/ingest    agent batches, bearer token (netvigil.web.ingest)
    GET  /api/v1/...       services, targets, measurements, rollups, incidents, reports,
                           vantages, overview, the SSE stream (netvigil.web.api; docs/api.md)
    *    /api/v1/admin/... admin actions, admin bearer token (netvigil.web.api.admin)
    GET  /status           the public status page (netvigil.web.status_page), with
                           /status/incidents[/{id}], /status/feed.atom, /status/badge/{s}.svg
    GET  /metrics          Prometheus text

More API routers join under `/api/v1` through `routers`. Every error any route answers
with has the one shape of `netvigil.web.errors`; every response carries the security
headers of `netvigil.web.security`; JSON responses never hold NaN or Infinity
(`FiniteJSONResponse`), which `JSON.parse` refuses.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Literal

import orjson
from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse, Response

from netvigil.config.model import Config
from netvigil.metrics import Metrics
from netvigil.store.base import AdminStore, AgentRecord, Store
from netvigil.web.api import WebContext, api_routers
from netvigil.web.api.models import ErrorOut
from netvigil.web.dashboard import dashboard_router
from netvigil.web.errors import install_error_handlers
from netvigil.web.ingest import IngestLimits, ingest_router
from netvigil.web.ingest_policy import IngestRateLimit, TargetAllowance
from netvigil.web.security import AdminGuard, SecurityHeaders
from netvigil.web.state import LiveState
from netvigil.web.status_history import StatusHistory
from netvigil.web.status_page import StatusPage
from netvigil.web.tokens import AgentRegistry, admin_store_of, call_blocking

__all__ = ["API_PREFIX", "FiniteJSONResponse", "create_app", "reconfigure"]

API_PREFIX = "/api/v1"


def create_app(
    store: Store,
    config: Config,
    metrics: Metrics | None = None,
    *,
    limits: IngestLimits | None = None,
    routers: Sequence[APIRouter] = (),
    now: Callable[[], float] = time.time,
    state: LiveState | None = None,
    admin: AdminStore | Literal["auto"] | None = "auto",
    poll_s: float = 2.0,
    keepalive_s: float = 15.0,
    status_cache_s: float = 1.0,
    ingest: bool = True,
    on_mark: Callable[[str, float], object] | None = None,
) -> FastAPI:
    """The ASGI app serving `store` to agents (ingest) and readers (API, metrics).

    `config.agents` are the remote vantages allowed to ingest (plus those added through
    the admin API); `metrics` is the registry `/metrics` renders (a fresh one when None).
    `limits` bound one ingest request (by default `IngestLimits` with the config's
    `max_clock_skew_s`). `state` is the live state the API and status page read: pass the
    one the monitor and detection feed (`LiveState.submit`, `LiveState.events`); without
    one, a state pulled from the store every `poll_s` is used. `admin` holds the admin
    tables: by default `store` itself, or the store it wraps (none for a store without
    them: admin routes then answer 401); their mutes and agents are read here, before this
    returns. Without `ingest` (a process that only serves: `netvigil web`), the ingest
    route answers 503 and stores nothing. `on_mark(agent, mark)` hears of each agent's
    mark (`netvigil.web.ingest`) after the batch it came with. `app.state` holds `store`,
    `config`, `metrics`, `live` and `admin`.
    """
    if metrics is None:
        metrics = Metrics()
    if limits is None:
        limits = IngestLimits(max_future_s=config.server.max_clock_skew_s)
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
    app = FastAPI(
        title="netvigil",
        docs_url=None,
        redoc_url=None,
        openapi_url=f"{API_PREFIX}/openapi.json",
        default_response_class=FiniteJSONResponse,
    )
    app.state.store = store
    app.state.config = config
    app.state.metrics = metrics
    app.state.live = state
    app.state.admin = admin
    app.state.context = ctx
    install_error_handlers(app)
    app.add_middleware(SecurityHeaders)
    allowance = TargetAllowance((t.name for t in config.targets), store)
    app.state.target_allowance = allowance
    app.state.reload = None
    if ingest:
        taking = _ingest_router(
            store, config, agents, limits, metrics, now, state, allowance, on_mark
        )
    else:
        taking = _no_ingest_router()
    app.include_router(_api_router(ctx, taking, routers))
    if config.server.public_status:
        history = StatusHistory(store, config, now=now)
        page = StatusPage(state, config, history=history, cache_s=status_cache_s, now=now)
        _add_status_page(app, page)
    _add_metrics(app, metrics)
    app.include_router(dashboard_router())
    return app


def reconfigure(app: FastAPI, config: Config) -> None:
    """Take a reloaded config: targets, services, networks, organizations, maintenance
    windows and agents; what the server listens on and how it stores stay as they are."""
    app.state.config = config
    ctx = app.state.context
    ctx.config = config
    ctx.agents.configured = list(config.agents)
    app.state.target_allowance.known = frozenset(t.name for t in config.targets)
    page = getattr(app.state, "status_page", None)
    if page is not None:
        page.config = config
        if page.history is not None:
            page.history.configure(config)
    app.state.live.configure(config)


class FiniteJSONResponse(JSONResponse):
    """JSON that is always valid: NaN and ±Infinity, which JSON lacks, become `null`.

    The default response class of every route (orjson, which never writes NaN)."""

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def _ingest_router(
    store: Store,
    config: Config,
    agents: AgentRegistry,
    limits: IngestLimits,
    metrics: Metrics,
    now: Callable[[], float],
    state: LiveState,
    allowance: TargetAllowance,
    on_mark: Callable[[str, float], object] | None,
) -> APIRouter:
    """The ingest route under the config's trust boundary: known targets, rate per agent;
    each batch taken tells the current state how the agent's clock runs."""
    server = config.server
    return ingest_router(
        store,
        agents,
        targets=allowance,
        rate_limit=IngestRateLimit(server.ingest_rate_per_agent, server.ingest_burst),
        limits=limits,
        metrics=metrics,
        now=now,
        on_accepted=state.current.observe_clock,
        on_mark=on_mark,
    )


NO_INGEST = (
    'this server only serves: agents publish to the NATS bus ([bus] kind = "nats")'
    " or ship to the server that runs `netvigil run`"
)


def _no_ingest_router() -> APIRouter:
    """The ingest route of a server that takes no measurements: 503, nothing stored (an
    agent keeps its batch and tries again, so a misdirected agent loses nothing)."""
    router = APIRouter()

    @router.post("/ingest", summary="Not taken here: this server only serves")
    async def ingest() -> None:
        raise HTTPException(503, NO_INGEST)

    return router


def _api_router(ctx: WebContext, ingest: APIRouter, routers: Sequence[APIRouter]) -> APIRouter:
    """Everything under `/api/v1`: health, ingest, the read API and any extra `routers`."""
    api = APIRouter(prefix=API_PREFIX)
    vantage = ctx.config.vantage.name
    now = ctx.now

    @api.get("/health", summary="Liveness: answers while the server runs")
    async def health() -> dict[str, Any]:
        return {"ok": True, "vantage": vantage, "time": now()}

    api.include_router(ingest, responses=INGEST_RESPONSES)
    for router in [*api_routers(ctx), *routers]:
        api.include_router(router)
    return api


def _add_status_page(app: FastAPI, page: StatusPage) -> None:
    app.state.status_page = page
    app.add_route("/status", page.serve, methods=["GET", "HEAD"], include_in_schema=False)
    app.add_route("/status.css", page.serve_css, methods=["GET", "HEAD"], include_in_schema=False)
    for path, endpoint in (
        ("/status/incidents", page.serve_archive),
        ("/status/incidents/{incident_id}", page.serve_incident),
        ("/status/feed.atom", page.serve_feed),
        ("/status/badge/{service}.svg", page.serve_badge),
    ):
        app.add_route(path, endpoint, methods=["GET", "HEAD"], include_in_schema=False)


def _add_metrics(app: FastAPI, metrics: Metrics) -> None:
    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        body, headers = await metrics.scrape(request.headers.get("accept-encoding"))
        return Response(body, media_type=metrics.content_type, headers=headers)


INGEST_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut, "description": text}
    for code, text in (
        (400, "The body is not JSON"),
        (401, "No agent token, or an unknown one"),
        (403, "The batch names another agent"),
        (413, "The batch is too large"),
        (
            422,
            "A measurement is malformed, not finite, too old, too far ahead, or of a target"
            " this agent may not report",
        ),
        (429, "This agent sends too often; retry after Retry-After seconds"),
        (503, "The store could not write; retry later"),
    )
}

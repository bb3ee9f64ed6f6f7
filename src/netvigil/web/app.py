"""The web application: the versioned JSON API under `/api/v1` and `/metrics`.

    app = create_app(store, config, metrics)           # FastAPI (ASGI) app
    server = await WebServer.start(app, port=0)          # see netvigil.web.server

Routes:

    GET  /api/v1/health    liveness, no auth: {"ok": true, "vantage": ..., "time": ...}
    POST /api/v1/ingest    agent batches, bearer token (netvigil.web.ingest)
    GET  /metrics          Prometheus text

More API routers (the dashboard's) join under `/api/v1` through `routers`. Every error
any route answers with has the one shape of `netvigil.web.errors`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.responses import Response

from netvigil.config.model import Config
from netvigil.metrics import Metrics
from netvigil.store.base import Store
from netvigil.web.errors import install_error_handlers
from netvigil.web.ingest import DEFAULT_LIMITS, IngestLimits, ingest_router

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
) -> FastAPI:
    """The ASGI app serving `store` to agents (ingest) and readers (API, metrics).

    `config.agents` are the remote vantages allowed to ingest; `metrics` is the
    registry `/metrics` renders (a fresh one when None). `app.state` holds `store`,
    `config` and `metrics` for routers that need them.
    """
    if metrics is None:
        metrics = Metrics()
    app = FastAPI(
        title="netvigil",
        docs_url=None,
        redoc_url=None,
        openapi_url=f"{API_PREFIX}/openapi.json",
    )
    app.state.store = store
    app.state.config = config
    app.state.metrics = metrics
    install_error_handlers(app)

    api = APIRouter(prefix=API_PREFIX)

    @api.get("/health", summary="Liveness: answers while the server runs")
    async def health() -> dict[str, Any]:
        return {"ok": True, "vantage": config.vantage.name, "time": now()}

    api.include_router(ingest_router(store, config.agents, limits=limits, metrics=metrics, now=now))
    for router in routers:
        api.include_router(router)
    app.include_router(api)

    rendered_by = metrics

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(rendered_by.render(), media_type=rendered_by.content_type)

    return app

"""The read API for the dashboard and the admin API, one module per resource.

`api_routers(ctx)` returns every router, to mount under `/api/v1`.
"""

from __future__ import annotations

from fastapi import APIRouter

from netvigil.web.api.admin import admin_router
from netvigil.web.api.context import WebContext
from netvigil.web.api.incidents import incidents_router
from netvigil.web.api.measurements import measurements_router
from netvigil.web.api.networks import networks_router
from netvigil.web.api.services import services_router
from netvigil.web.api.stream import stream_router
from netvigil.web.api.targets import targets_router
from netvigil.web.api.vantages import vantages_router

__all__ = ["WebContext", "api_routers"]


def api_routers(ctx: WebContext) -> list[APIRouter]:
    """Every API router bound to `ctx` (targets before measurements: same path prefix)."""
    return [
        services_router(ctx),
        targets_router(ctx),
        measurements_router(ctx),
        incidents_router(ctx),
        vantages_router(ctx),
        networks_router(ctx),
        stream_router(ctx),
        admin_router(ctx),
    ]

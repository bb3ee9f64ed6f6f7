"""Services and the overview grid: `/services`, `/services/{name}`, `/overview`."""

from __future__ import annotations

from collections import Counter

from fastapi import APIRouter, HTTPException, Response

from netvigil.web.api.context import WebContext
from netvigil.web.api.models.common import ERROR_RESPONSES, json_response
from netvigil.web.api.models.services import (
    Overview,
    OverviewRow,
    ServiceDetail,
    ServiceOut,
    target_out,
)
from netvigil.web.state import LiveState, ServiceView

__all__ = ["services_router"]


def _service_out(ctx: WebContext, view: ServiceView) -> ServiceOut:
    svc = ctx.services.get(view.name)
    return ServiceOut(
        name=view.name,
        description="" if svc is None else svc.description,
        organization=None if svc is None else svc.organization,
        network=None if svc is None else svc.network,
        country=None if svc is None else svc.country,
        status=view.status,
        since=view.since,
        targets=[t.name for t in view.targets],
        open_incidents=view.incidents,
    )


def overview(state: LiveState, now: float) -> Overview:
    """The services x vantages grid from the live state."""
    vantages = state.vantage_names()
    rows = []
    counts: Counter[str] = Counter()
    for name in state.service_names():
        whole = state.service(name, now)
        counts[whole.status] += 1
        cells = [state.service(name, now, vantage=v).status for v in vantages]
        rows.append(OverviewRow(service=name, status=whole.status, since=whole.since, cells=cells))
    return Overview(generated_at=now, vantages=vantages, counts=dict(counts), services=rows)


def services_router(ctx: WebContext) -> APIRouter:
    """The routes of this module, bound to `ctx`."""
    router = APIRouter(tags=["services"], responses=ERROR_RESPONSES)

    @router.get(
        "/services",
        summary="Every configured service and its status now",
        response_model=list[ServiceOut],
    )
    async def list_services() -> Response:
        state = await ctx.live()
        return json_response([_service_out(ctx, v) for v in state.services()])

    @router.get(
        "/services/{name}",
        summary="One service, with its targets' state",
        response_model=ServiceDetail,
    )
    async def get_service(name: str) -> Response:
        state = await ctx.live()
        if name not in state.service_names():
            raise HTTPException(404, f"no such service: {name!r}")
        view = state.service(name)
        return json_response(
            ServiceDetail(
                **_service_out(ctx, view).model_dump(),
                target_states=[target_out(t, ctx.targets.get(t.name)) for t in view.targets],
            )
        )

    @router.get(
        "/overview",
        summary="Services x vantages: each service's status overall and from each vantage",
        response_model=Overview,
    )
    async def get_overview() -> Response:
        state = await ctx.live()
        return json_response(overview(state, ctx.now()))

    return router

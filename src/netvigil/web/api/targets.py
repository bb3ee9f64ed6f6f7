"""Targets and their state now: `/targets`, `/targets/{name}`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response

from netvigil.web.api.context import WebContext
from netvigil.web.api.models.common import ERROR_RESPONSES, json_response
from netvigil.web.api.models.services import TargetOut, target_out
from netvigil.web.state import TargetStatus

__all__ = ["targets_router"]


def targets_router(ctx: WebContext) -> APIRouter:
    """The routes of this module, bound to `ctx`."""
    router = APIRouter(tags=["targets"], responses=ERROR_RESPONSES)

    @router.get("/targets", summary="Every target and how it looks now from each vantage")
    async def list_targets(
        service: Annotated[str | None, Query(description="Only this service's targets")] = None,
        status: Annotated[
            TargetStatus | None, Query(description="Only targets in this status")
        ] = None,
    ) -> list[TargetOut]:
        state = await ctx.live()
        now = ctx.now()
        out = []
        for name in state.target_names():
            view = state.target(name, now)
            if service is not None and view.service != service:
                continue
            if status is not None and view.status != status:
                continue
            out.append(target_out(view, ctx.targets.get(name)))
        return out

    @router.get(
        "/targets/{name}",
        summary="One target and how it looks now from each vantage",
        response_model=TargetOut,
    )
    async def get_target(name: str) -> Response:
        state = await ctx.live()
        if not state.is_known_target(name):
            raise HTTPException(404, f"no such target: {name!r}")
        return json_response(target_out(state.target(name), ctx.targets.get(name)))

    return router

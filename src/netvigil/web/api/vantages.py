"""Vantages: where measurements come from, when each was last heard from, its health.

Health: `silent` (nothing for 3 minutes, or never), `impaired` (one of its control
targets fails from it: its own network is suspect), `healthy` otherwise.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Response

from netvigil.web.api.context import WebContext
from netvigil.web.api.models import ERROR_RESPONSES, VantageOut, json_response

__all__ = ["vantages_router"]


def vantages_router(ctx: WebContext) -> APIRouter:
    """The routes of this module, bound to `ctx`."""
    router = APIRouter(tags=["vantages"], responses=ERROR_RESPONSES)

    def agent_names() -> list[str]:
        return [a.name for a in ctx.agents()]

    @router.get(
        "/vantages",
        summary="Every vantage with its last-seen time and health",
        response_model=list[VantageOut],
    )
    async def list_vantages() -> Response:
        state = await ctx.live()
        return json_response([VantageOut.of(v) for v in state.vantages(extra=agent_names())])

    @router.get("/vantages/{name}", summary="One vantage")
    async def get_vantage(name: str) -> VantageOut:
        state = await ctx.live()
        for v in state.vantages(extra=agent_names()):
            if v.name == name:
                return VantageOut.of(v)
        raise HTTPException(404, f"no such vantage: {name!r}")

    return router

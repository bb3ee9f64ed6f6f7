"""Raw measurements and per-minute rollups by target, vantage and time range, paged.

    GET /measurements?target=T&vantage=V&since=S&until=U&limit=N&after=ID
    GET /rollups?target=T&vantage=V&since=S&until=U&limit=N
    GET /targets/{name}/measurements    (the same, for one target)
    GET /targets/{name}/rollups

Measurements default to the last hour, rollups to the last 24 hours; a page holds at
most `limit` (measurements: up to 10,000; rollups: up to 20,000). The next page of
measurements starts `after` the last id; of rollups, at `next_since` (a page never
splits a minute, unless one minute alone overfills it).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query, Response

from netvigil.store.base import MeasurementQuery, RollupQuery
from netvigil.web.api.context import WebContext, check_range
from netvigil.web.api.models import (
    ERROR_RESPONSES,
    MeasurementOut,
    MeasurementPage,
    RollupOut,
    RollupPage,
    json_response,
)

__all__ = ["measurements_router"]

MEASUREMENT_WINDOW_S = 3600.0
ROLLUP_WINDOW_S = 86_400.0
MAX_MEASUREMENTS = 10_000
MAX_ROLLUPS = 20_000

Since = Annotated[
    float | None,
    Query(ge=0, lt=1e11, allow_inf_nan=False, description="Start, epoch s (inclusive)"),
]
Until = Annotated[
    float | None,
    Query(gt=0, lt=1e11, allow_inf_nan=False, description="End, epoch s (exclusive)"),
]
Targets = Annotated[
    list[str] | None, Query(max_length=1000, description="Target name; repeat for several")
]
Vantages = Annotated[
    list[str] | None, Query(max_length=1000, description="Vantage name; repeat for several")
]
After = Annotated[
    str | None, Query(max_length=64, description="Page on: the last id of the previous page")
]
MeasurementLimit = Annotated[int, Query(ge=1, le=MAX_MEASUREMENTS)]
RollupLimit = Annotated[int, Query(ge=1, le=MAX_ROLLUPS)]


def measurements_router(ctx: WebContext) -> APIRouter:
    """The routes of this module, bound to `ctx`."""
    router = APIRouter(tags=["measurements"], responses=ERROR_RESPONSES)

    def known(name: str) -> None:
        if name not in ctx.targets and not ctx.state.is_known_target(name):
            raise HTTPException(404, f"no such target: {name!r}")

    async def read_measurements(
        targets: list[str] | None,
        vantages: list[str] | None,
        since: float | None,
        until: float | None,
        limit: int,
        after: str | None,
    ) -> MeasurementPage:
        check_range(since, until)
        if since is None and after is None:
            since = (until if until is not None else ctx.now()) - MEASUREMENT_WINDOW_S
        found = await ctx.store.measurements(
            MeasurementQuery(
                since=since,
                until=until,
                targets=targets,
                vantages=vantages,
                limit=limit,
                after_id=after,
            )
        )
        next_after = found[-1].id if len(found) == limit else None
        return MeasurementPage(items=[MeasurementOut.of(m) for m in found], next_after=next_after)

    async def read_rollups(
        targets: list[str] | None,
        vantages: list[str] | None,
        since: float | None,
        until: float | None,
        limit: int,
    ) -> RollupPage:
        check_range(since, until)
        if since is None:
            since = (until if until is not None else ctx.now()) - ROLLUP_WINDOW_S
        found = await ctx.store.rollups(
            RollupQuery(since=since, until=until, targets=targets, vantages=vantages, limit=limit)
        )
        next_since: int | None = None
        if len(found) == limit:
            last = found[-1].minute
            whole = [r for r in found if r.minute != last]
            if whole:  # leave the last minute, maybe cut short, to the next page
                found, next_since = whole, last
            else:
                next_since = last + 60
        return RollupPage(items=[RollupOut.of(r) for r in found], next_since=next_since)

    @router.get(
        "/measurements",
        summary="Raw measurements, oldest first, paged",
        response_model=MeasurementPage,
    )
    async def list_measurements(
        target: Targets = None,
        vantage: Vantages = None,
        since: Since = None,
        until: Until = None,
        limit: MeasurementLimit = 1000,
        after: After = None,
    ) -> Response:
        return json_response(await read_measurements(target, vantage, since, until, limit, after))

    @router.get(
        "/rollups", summary="Per-minute rollups, oldest first, paged", response_model=RollupPage
    )
    async def list_rollups(
        target: Targets = None,
        vantage: Vantages = None,
        since: Since = None,
        until: Until = None,
        limit: RollupLimit = 1440,
    ) -> Response:
        return json_response(await read_rollups(target, vantage, since, until, limit))

    @router.get(
        "/targets/{name}/measurements",
        summary="One target's raw measurements, paged",
        response_model=MeasurementPage,
    )
    async def target_measurements(
        name: str,
        vantage: Vantages = None,
        since: Since = None,
        until: Until = None,
        limit: MeasurementLimit = 1000,
        after: After = None,
    ) -> Response:
        known(name)
        return json_response(await read_measurements([name], vantage, since, until, limit, after))

    @router.get(
        "/targets/{name}/rollups",
        summary="One target's per-minute rollups, paged",
        response_model=RollupPage,
    )
    async def target_rollups(
        name: str,
        vantage: Vantages = None,
        since: Since = None,
        until: Until = None,
        limit: RollupLimit = 1440,
    ) -> Response:
        known(name)
        return json_response(await read_rollups([name], vantage, since, until, limit))

    return router

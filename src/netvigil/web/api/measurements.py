"""Raw measurements and per-minute rollups by target, vantage and time range, paged.

    GET /measurements?target=T&vantage=V&since=S&until=U&limit=N&after=ID
    GET /rollups?target=T&vantage=V&since=S&until=U&limit=N&step=SECONDS
    GET /targets/{name}/measurements    (the same, for one target)
    GET /targets/{name}/rollups

Measurements default to the last hour, rollups to the last 24 hours; a page holds at
most `limit` (measurements: up to 10,000; rollups: up to 20,000). The next page of
measurements starts `after` the last id; of rollups, at `next_since` (a page never
splits a minute, unless one minute alone overfills it). Rollups come per minute, or
summed into buckets of `step` seconds (a multiple of 60, aligned to the epoch) for
charts of long ranges: a week in half-hours is 336 rows instead of 10,080.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, HTTPException, Query, Request, Response

from netvigil.model import Measurement
from netvigil.store.base import MeasurementQuery
from netvigil.web.api.context import WebContext, check_range
from netvigil.web.api.models.common import ERROR_RESPONSES
from netvigil.web.api.models.measurements import MeasurementPage, RollupPage
from netvigil.web.api.rollup_pages import json_reader

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
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not modified: If-None-Match named the page's ETag"}
}
MeasurementLimit = Annotated[int, Query(ge=1, le=MAX_MEASUREMENTS)]
RollupLimit = Annotated[int, Query(ge=1, le=MAX_ROLLUPS)]
MAX_STEP_S = 86_400
Step = Annotated[
    int,
    Query(
        ge=60,
        le=MAX_STEP_S,
        multiple_of=60,
        description="Seconds per row: 60 (per minute) or a multiple of 60 up to a day",
    ),
]


def _measurement_json(m: Measurement) -> dict[str, Any]:
    """A measurement as MeasurementOut's JSON object (orjson encodes the enums)."""
    return {
        "id": m.id,
        "ts": m.ts,
        "vantage": m.vantage,
        "target": m.target,
        "kind": m.kind,
        "ok": m.ok,
        "outcome": m.outcome,
        "phase": m.phase,
        "timings": m.timings,
        "detail": m.detail,
        "address": m.address,
    }


def measurements_router(ctx: WebContext) -> APIRouter:
    """The routes of this module, bound to `ctx`."""
    router = APIRouter(tags=["measurements"], responses=ERROR_RESPONSES)
    _add_listing_routes(router, ctx)
    _add_target_routes(router, ctx)
    return router


def _check_known(ctx: WebContext, name: str) -> None:
    """Raises HTTPException 404 unless `name` is a configured or a known target."""
    if name not in ctx.targets and not ctx.state.is_known_target(name):
        raise HTTPException(404, f"no such target: {name!r}")


async def _read_measurements(
    ctx: WebContext,
    targets: list[str] | None,
    vantages: list[str] | None,
    since: float | None,
    until: float | None,
    limit: int,
    after: str | None,
) -> Response:
    """A MeasurementPage as JSON: the database writes the rows' JSON when it can."""
    check_range(since, until)
    if since is None and after is None:
        since = (until if until is not None else ctx.now()) - MEASUREMENT_WINDOW_S
    query = MeasurementQuery(
        since=since,
        until=until,
        targets=targets,
        vantages=vantages,
        limit=limit,
        after_id=after,
    )
    reader = json_reader(ctx.store, "measurements_json")
    if reader is not None:  # the database writes the JSON
        rows: list[tuple[str, str]] = await reader.measurements_json(query)
        items = ",".join([text for _, text in rows])
        next_after = rows[-1][0] if len(rows) == limit else None
    else:
        found = await ctx.store.measurements(query)
        items = ",".join([orjson.dumps(_measurement_json(m)).decode() for m in found])
        next_after = found[-1].id if len(found) == limit else None
    tail = orjson.dumps(next_after).decode()
    body = f'{{"items":[{items}],"next_after":{tail}}}'.encode()
    return Response(body, media_type="application/json")


async def _read_rollups(
    ctx: WebContext,
    request: Request,
    targets: list[str] | None,
    vantages: list[str] | None,
    since: float | None,
    until: float | None,
    limit: int,
    step: int,
) -> Response:
    """A RollupPage as JSON with its ETag; 304 when If-None-Match names that ETag."""
    check_range(since, until)
    if since is None:
        since = (until if until is not None else ctx.now()) - ROLLUP_WINDOW_S
    page = await ctx.rollups.read(targets, vantages, since, until, limit, step)
    etag = await page.etag()
    headers = {"ETag": etag}
    if page.settled:  # closed minutes only: changed only by data arriving late
        headers["Cache-Control"] = "public, max-age=300"
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(page.body, media_type="application/json", headers=headers)


def _add_listing_routes(router: APIRouter, ctx: WebContext) -> None:
    """GET /measurements and GET /rollups, over any targets and vantages."""

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
        return await _read_measurements(ctx, target, vantage, since, until, limit, after)

    @router.get(
        "/rollups",
        summary="Per-minute rollups (or buckets of `step` s), oldest first, paged",
        response_model=RollupPage,
    )
    async def list_rollups(
        request: Request,
        target: Targets = None,
        vantage: Vantages = None,
        since: Since = None,
        until: Until = None,
        limit: RollupLimit = 1440,
        step: Step = 60,
    ) -> Response:
        return await _read_rollups(ctx, request, target, vantage, since, until, limit, step)


def _add_target_routes(router: APIRouter, ctx: WebContext) -> None:
    """GET /targets/{name}/measurements and /targets/{name}/rollups (404 for no such name)."""

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
        _check_known(ctx, name)
        return await _read_measurements(ctx, [name], vantage, since, until, limit, after)

    @router.get(
        "/targets/{name}/rollups",
        summary="One target's per-minute rollups (or buckets of `step` s), paged",
        response_model=RollupPage,
        responses=NOT_MODIFIED,
    )
    async def target_rollups(
        request: Request,
        name: str,
        vantage: Vantages = None,
        since: Since = None,
        until: Until = None,
        limit: RollupLimit = 1440,
        step: Step = 60,
    ) -> Response:
        _check_known(ctx, name)
        return await _read_rollups(ctx, request, [name], vantage, since, until, limit, step)

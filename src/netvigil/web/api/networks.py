"""Networks over time: `GET /api/v1/networks/{name}/series`, the network plane's series.

    GET /networks/{name}/series?since=S&until=U&step=SECONDS

Per bucket of `step` seconds from `since` to `until` (default: the last 6 hours, in
360 buckets): the network's BGP visibility and peer counts, the share of its address
blocks that answer, and the withdrawals, announcements and blackholes seen; per prefix,
the peers routing it; and the events of the range. Read from the signals the store
keeps (`netvigil.store.signals`, written by `netvigil run`), so it survives a restart,
in buckets the database computes (`netvigil.network_series.read_network_series`); a
store keeping none answers with every value null (`stored: false`).

A bad range or step is a 400 naming what is wrong; a network the config does not name
is a 404.
"""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from netvigil.network_series import MAX_BUCKETS, read_network_series, series_of
from netvigil.store.signals import signal_store_of
from netvigil.web.api.context import WebContext
from netvigil.web.api.models import ERROR_RESPONSES
from netvigil.web.api.models.networks import NetworkSeriesOut

__all__ = ["DEFAULT_RANGE_S", "MAX_RANGE_S", "networks_router"]

DEFAULT_RANGE_S = 6 * 3600.0
"""The range shown when `since` is not given."""
DEFAULT_BUCKETS = 360
"""Buckets in a range when `step` is not given."""
MAX_RANGE_S = 92 * 86_400.0
"""The longest range one answer covers (a quarter: the buckets are grouped in SQL, so a
long range costs its buckets, not its samples)."""
MIN_STEP_S = 1.0
EVENTS_LIMIT = 500
"""At most this many events in one answer (the newest of the range)."""


def _window(
    since: float | None, until: float | None, step: float | None, now: float
) -> tuple[float, float, float]:
    """The range and step asked for, with defaults; HTTPException(400) when they are bad."""
    for name, value in (("since", since), ("until", until), ("step", step)):
        if value is not None and not math.isfinite(value):
            raise HTTPException(400, f"{name} must be a finite number")
    end = now if until is None else until
    start = end - DEFAULT_RANGE_S if since is None else since
    if end <= start:
        raise HTTPException(400, f"until ({end:g}) must be after since ({start:g})")
    span = end - start
    if span > MAX_RANGE_S:
        raise HTTPException(
            400, f"the range is {span:g} s long; at most {MAX_RANGE_S:g} s (92 days)"
        )
    if step is None:
        step = max(MIN_STEP_S, math.ceil(span / DEFAULT_BUCKETS))
    if step < MIN_STEP_S:
        raise HTTPException(400, f"step ({step:g}) must be at least {MIN_STEP_S:g} s")
    if math.ceil(span / step) > MAX_BUCKETS:
        raise HTTPException(
            400,
            f"step {step:g} s makes {math.ceil(span / step)} buckets of a {span:g} s range;"
            f" at most {MAX_BUCKETS} (a step of at least {math.ceil(span / MAX_BUCKETS)} s)",
        )
    return start, end, step


def networks_router(ctx: WebContext) -> APIRouter:
    """The route of this module, reading the signals kept by `ctx.store`."""
    router = APIRouter(tags=["networks"], responses=ERROR_RESPONSES)

    @router.get(
        "/networks/{name}/series",
        summary="One network's BGP visibility, blocks up and control-plane events over time",
    )
    async def network_series(
        name: str,
        since: Annotated[
            float | None, Query(description="Start (epoch s; default until - 6 h)")
        ] = None,
        until: Annotated[float | None, Query(description="End (epoch s; default now)")] = None,
        step: Annotated[
            float | None,
            Query(description="Seconds per bucket (default: the range in 360 buckets)"),
        ] = None,
    ) -> NetworkSeriesOut:
        if all(n.name != name for n in ctx.config.networks):
            raise HTTPException(404, f"no network {name!r} in the config")
        start, end, step_s = _window(since, until, step, ctx.now())
        store = signal_store_of(ctx.store)
        if store is None:
            series = series_of(
                name, start, end, step_s, buckets=[], before={}, counts=[], events=[]
            )
        else:
            series = await read_network_series(
                store, name, start, end, step_s, events_limit=EVENTS_LIMIT
            )
        return NetworkSeriesOut.of(series, stored=store is not None, events_limit=EVENTS_LIMIT)

    return router

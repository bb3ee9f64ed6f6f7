"""Incidents: list, one with its timeline, cause history, evidence and notes, and reports.

GET /incidents?open=true&service=S&since=..&until=..&state=..&limit=N
GET /incidents/{id}
GET /incidents/{id}/report.html           one self-contained page (netvigil.report)
GET /incidents/{id}/report.md             Markdown; figures at report-files/<name>.png
GET /incidents/{id}/report-files/{name}.png
"""

from __future__ import annotations

import asyncio
import re
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from netvigil.incident import Incident, IncidentEvent, IncidentState
from netvigil.store.base import IncidentQuery
from netvigil.web.api.context import WebContext, check_range
from netvigil.web.api.models.common import ERROR_RESPONSES, ErrorOut, json_response
from netvigil.web.api.models.incidents import IncidentDetail, IncidentEventOut, IncidentSummary

if TYPE_CHECKING:
    from netvigil.report import Chart, Report

__all__ = ["REPORT_CSP", "incidents_router"]

REPORT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data: 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
"""A report is one self-contained page with inline styles and images, and no script."""

REPORT_CACHE_S = 30.0
"""A report's figures are drawn again after this long (or when the incident changes)."""
REPORT_CACHE_SIZE = 8

_FIGURE = re.compile(r"^[a-z0-9_\-]{1,64}$")


def open_incidents(live: list[Incident], query: IncidentQuery) -> list[Incident]:
    """The open incidents of the live state that `query` keeps, as the store would list them.

    The live state holds every unresolved incident (fed by detection, or pulled from
    the store every `poll_s`), so listing open ones never reads or decodes stored rows.
    """
    found = [i for i in live if i.state is not IncidentState.RESOLVED and query.matches(i)]
    found.sort(key=lambda i: (i.start, i.id), reverse=True)
    return found[: query.limit]


def incidents_router(ctx: WebContext) -> APIRouter:
    """The routes of this module, bound to `ctx`."""
    router = APIRouter(tags=["incidents"], responses=ERROR_RESPONSES)
    _add_incident_routes(router, ctx)
    _add_report_routes(router, _ReportCache(ctx))
    return router


async def _find(ctx: WebContext, incident_id: str) -> Incident:
    """The stored incident `incident_id`. Raises HTTPException 404 when there is none."""
    found = await ctx.store.incident(incident_id)
    if found is None:
        raise HTTPException(404, f"no such incident: {incident_id!r}")
    return found


def _timeline(events: list[IncidentEvent]) -> list[IncidentEventOut]:
    """An incident's stored events as timeline entries."""
    return [
        IncidentEventOut(
            kind=e.kind,
            ts=e.ts,
            state=e.incident.state,
            cause=e.incident.cause,
            confidence=e.incident.confidence,
            quiet=e.quiet,
        )
        for e in events
    ]


def _add_incident_routes(router: APIRouter, ctx: WebContext) -> None:
    """GET /incidents (the listing) and GET /incidents/{id} (one in detail)."""

    @router.get(
        "/incidents", summary="Incidents, newest first", response_model=list[IncidentSummary]
    )
    async def list_incidents(
        open: Annotated[bool, Query(description="Only unresolved incidents")] = False,
        state: Annotated[IncidentState | None, Query()] = None,
        service: Annotated[str | None, Query(max_length=200)] = None,
        since: Annotated[float | None, Query(ge=0, lt=1e11, allow_inf_nan=False)] = None,
        until: Annotated[float | None, Query(gt=0, lt=1e11, allow_inf_nan=False)] = None,
        include_withdrawn: Annotated[
            bool, Query(description="Also those resolved without being confirmed")
        ] = False,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> Response:
        check_range(since, until)
        query = IncidentQuery(
            state=state,
            open_only=open,
            since=since,
            until=until,
            service=service,
            include_withdrawn=include_withdrawn,
            limit=limit,
        )
        if open or state in (IncidentState.SUSPECTED, IncidentState.CONFIRMED):
            found = open_incidents((await ctx.live()).open_incidents(), query)
        else:
            found = await ctx.store.incidents(query)
        return json_response([IncidentSummary.of(i) for i in found])

    @router.get(
        "/incidents/{incident_id}",
        summary="One incident: timeline, cause history, evidence, acknowledgements and notes",
    )
    async def get_incident(incident_id: str) -> IncidentDetail:
        incident = await _find(ctx, incident_id)
        timeline = _timeline(await ctx.store.incident_events(incident_id))
        notes = [] if ctx.admin is None else await ctx.admin.notes(incident_id)
        return IncidentDetail.build(incident, timeline, notes)


class _ReportCache:
    """The reports of incidents and their figures, drawn at most once per REPORT_CACHE_S.

    Keeps the REPORT_CACHE_SIZE most recently drawn; a changed incident (a new
    `updated`) is drawn again.
    """

    def __init__(self, ctx: WebContext) -> None:
        self._ctx = ctx
        self._drawn: dict[str, tuple[float, Report, list[Chart]]] = {}

    async def get(self, incident_id: str) -> tuple[Report, list[Chart]]:
        """The report and its figures. Raises HTTPException (404 no such incident, 501)."""
        try:
            from netvigil.report import build_report, draw_figures
        except ImportError as exc:  # pragma: no cover - the report package ships with netvigil
            raise HTTPException(501, "reports are not available in this build") from exc
        ctx, drawn = self._ctx, self._drawn
        incident = await _find(ctx, incident_id)
        now = ctx.now()
        key = f"{incident.id}@{incident.updated}"
        cached = drawn.get(key)
        if cached is not None and abs(now - cached[0]) < REPORT_CACHE_S:
            return cached[1], cached[2]
        report = await build_report(incident, ctx.store, ctx.config, now=now)
        charts = await asyncio.to_thread(draw_figures, report)
        if len(drawn) >= REPORT_CACHE_SIZE:
            drawn.pop(next(iter(drawn)))
        drawn[key] = (now, report, charts)
        return report, charts


def _add_report_routes(router: APIRouter, reports: _ReportCache) -> None:
    """The report of an incident as an HTML page, as Markdown, and its figures."""
    report_responses: dict[int | str, dict[str, Any]] = {
        501: {"model": ErrorOut, "description": "Reports are not available"}
    }

    @router.get(
        "/incidents/{incident_id}/report.html",
        summary="The incident report as one self-contained HTML page",
        response_class=HTMLResponse,
        responses=report_responses,
    )
    async def report_html(incident_id: str) -> HTMLResponse:
        from netvigil.report.html import html_text

        report, charts = await reports.get(incident_id)
        text = html_text(report, charts)
        return HTMLResponse(text, headers={"Content-Security-Policy": REPORT_CSP})

    @router.get(
        "/incidents/{incident_id}/report.md",
        summary="The incident report as Markdown (figures under report-files/)",
        response_class=PlainTextResponse,
        responses=report_responses,
    )
    async def report_md(incident_id: str) -> PlainTextResponse:
        from netvigil.report.markdown import markdown_text

        report, charts = await reports.get(incident_id)
        text = markdown_text(report, charts, "report-files/")
        return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")

    @router.get(
        "/incidents/{incident_id}/report-files/{figure}.png",
        summary="One figure of the incident report (PNG)",
        response_class=Response,
        responses={200: {"content": {"image/png": {}}}, **report_responses},
    )
    async def report_figure(incident_id: str, figure: str) -> Response:
        if not _FIGURE.match(figure):
            raise HTTPException(404, f"no such figure: {figure!r}")
        _, charts = await reports.get(incident_id)
        for chart in charts:
            if chart.name == figure:
                return Response(chart.png, media_type="image/png")
        raise HTTPException(404, f"no such figure: {figure!r}")

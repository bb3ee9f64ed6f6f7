"""The live stream of changes, as server-sent events: `GET /stream`.

    event: state            a target turned up or down from a vantage (or was first seen)
    id: 42
    data: {"target": "portal", "vantage": "tirana", "ok": false, "outcome": "tcp_timeout", ...}

    event: incident         an incident opened, was confirmed, changed cause, updated, resolved
    id: 43
    data: {"kind": "confirmed", "id": "...", "state": "confirmed", "cause": "shutdown", ...}

    : keep-alive            a comment line every `keepalive_s` while nothing happens

    event: reset            the client fell too far behind and is cut off: reload, reconnect
    data: {"reason": "..."}

The stream opens with a `hello` event carrying the change counter. Each client has a
bounded queue (`WebContext.stream_queue` changes); `max_s` closes the stream after that
many seconds (a client reconnects; EventSource does so by itself).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from netvigil.web.api.context import WebContext
from netvigil.web.api.models import ERROR_RESPONSES
from netvigil.web.state import Change

__all__ = ["format_event", "stream_router"]


def format_event(event: str, data: object, event_id: int | None = None) -> bytes:
    """One server-sent event as bytes."""
    head = f"event: {event}\n" + (f"id: {event_id}\n" if event_id is not None else "")
    return f"{head}data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def stream_router(ctx: WebContext) -> APIRouter:
    """The routes of this module, bound to `ctx`."""
    router = APIRouter(tags=["stream"], responses=ERROR_RESPONSES)

    @router.get(
        "/stream",
        summary="Server-sent events: `state` (up/down changes) and `incident` (incident events)",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def stream(
        max_s: Annotated[
            float | None,
            Query(gt=0, le=86_400, allow_inf_nan=False, description="Close after this long"),
        ] = None,
    ) -> StreamingResponse:
        state = await ctx.live()
        sub = state.subscribe(ctx.stream_queue)
        clock = asyncio.get_running_loop().time

        async def events() -> AsyncIterator[bytes]:
            deadline = None if max_s is None else clock() + max_s
            last_sent = clock()
            try:
                yield format_event("hello", {"version": state.version, "time": ctx.now()})
                while True:
                    step = ctx.keepalive_s if state.fed else min(ctx.keepalive_s, ctx.poll_s)
                    if deadline is not None:
                        if clock() >= deadline:
                            return
                        step = min(step, deadline - clock())
                    await state.sync(ctx.store, every_s=ctx.poll_s)
                    change: Change | None = await sub.get(step)
                    if sub.overflowed:
                        reason = f"more than {ctx.stream_queue} changes behind; reload, reconnect"
                        yield format_event("reset", {"reason": reason})
                        return
                    if change is not None:
                        yield format_event(change.kind, change.data, change.seq)
                        last_sent = clock()
                    elif clock() - last_sent >= ctx.keepalive_s:
                        yield b": keep-alive\n\n"
                        last_sent = clock()
            finally:
                state.unsubscribe(sub)

        return StreamingResponse(
            events(),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return router

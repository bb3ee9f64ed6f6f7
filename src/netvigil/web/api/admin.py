"""The admin API (`/admin/...`): bearer token required; see `netvigil.web.security`.

    GET    /admin/whoami                       the admin token's name
    POST   /admin/incidents/{id}/ack           acknowledge (optional note)
    POST   /admin/incidents/{id}/notes         annotate
    GET    /admin/mutes                        targets muted for maintenance
    PUT    /admin/mutes/{target}               mute until a time
    DELETE /admin/mutes/{target}               lift the mute
    GET    /admin/tokens                       admin tokens (names and times only)
    POST   /admin/tokens                       new admin token (shown once)
    DELETE /admin/tokens/{name}                revoke
    GET    /admin/agents                       remote vantages allowed to ingest
    POST   /admin/agents                       new agent and its token (shown once)
    DELETE /admin/agents/{name}                revoke an agent added here
    POST   /admin/reload                       read the config file again and apply it

Agents of the config file are listed but cannot be changed here (edit the file).
A mute, stored in the admin tables, also reaches live detection through the live
state's mute listeners: until it is lifted or expires, the incidents of muted targets
are labelled maintenance and not alerted. In a scale-out (`netvigil web`), the app's
`mute_feed` (`app.state.mute_feed`, a `MuteAnnouncer`) then tells every other process.
"""

from __future__ import annotations

from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Depends, HTTPException, Request, Response

from netvigil.maintenance import Mute
from netvigil.store.base import AdminStore
from netvigil.web.api.context import WebContext
from netvigil.web.api.models import (
    ERROR_RESPONSES,
    AckIn,
    AgentCreated,
    AgentIn,
    AgentOut,
    ErrorOut,
    MuteIn,
    MuteOut,
    NoteIn,
    NoteOut,
    TokenCreated,
    TokenIn,
    TokenOut,
)
from netvigil.web.tokens import hash_token, new_token

__all__ = ["admin_router"]

ADMIN_RESPONSES: dict[int | str, dict[str, Any]] = {
    **ERROR_RESPONSES,
    401: {"model": ErrorOut, "description": "No admin token, or an unknown one"},
    403: {"model": ErrorOut, "description": "Admin is only served on loopback"},
    409: {"model": ErrorOut, "description": "The name is taken"},
}


async def admin_name(request: Request) -> str:
    """The dependency every admin route has: the app's AdminGuard; the admin token's name."""
    ctx: WebContext = request.app.state.context
    return await ctx.guard(request)


Admin = Annotated[str, Depends(admin_name)]


def admin_router(ctx: WebContext) -> APIRouter:
    """The routes of this module, bound to `ctx`; every one needs an admin token."""
    router = APIRouter(
        prefix="/admin",
        tags=["admin"],
        responses=ADMIN_RESPONSES,
        dependencies=[Depends(admin_name)],
    )

    @router.get("/whoami", summary="The name of the admin token used")
    async def whoami(admin: Admin) -> dict[str, str]:
        return {"name": admin}

    @router.post(
        "/reload",
        summary="Read the config file again and apply it (as SIGHUP does)",
        responses={422: {"model": ErrorOut, "description": "The file is not a valid config"}},
    )
    async def reload(request: Request, admin: Admin) -> dict[str, Any]:
        hook = getattr(request.app.state, "reload", None)
        if hook is None:
            raise HTTPException(409, "this server was not started from a config file")
        outcome = await hook(f"the admin API ({admin})")
        if not outcome.ok:
            raise HTTPException(422, f"nothing changed: {outcome.error}")
        return {"ok": True, **outcome.to_json()}

    _add_note_routes(router, ctx)
    _add_mute_routes(router, ctx)
    _add_token_routes(router, ctx)
    _add_agent_routes(router, ctx)
    return router


def _tables(ctx: WebContext) -> AdminStore:
    """The admin tables; 503 without them (the guard refuses first)."""
    if ctx.admin is None:
        raise HTTPException(503, "admin tables are not available")
    return ctx.admin


def _add_note_routes(router: APIRouter, ctx: WebContext) -> None:
    """Acknowledge and annotate incidents."""

    async def known_incident(incident_id: str) -> None:
        if await ctx.store.incident(incident_id) is None:
            raise HTTPException(404, f"no such incident: {incident_id!r}")

    @router.post("/incidents/{incident_id}/ack", status_code=201, summary="Acknowledge an incident")
    async def ack(incident_id: str, body: AckIn, admin: Admin) -> NoteOut:
        await known_incident(incident_id)
        note = await _tables(ctx).add_note(incident_id, "ack", admin, body.note)
        return NoteOut.of(note)

    @router.post("/incidents/{incident_id}/notes", status_code=201, summary="Annotate an incident")
    async def annotate(incident_id: str, body: NoteIn, admin: Admin) -> NoteOut:
        await known_incident(incident_id)
        note = await _tables(ctx).add_note(incident_id, "note", admin, body.text)
        return NoteOut.of(note)


class MuteAnnouncer(Protocol):
    """Tells the other processes of a scale-out of a mute set or lifted here
    (`netvigil.cluster.mute_sync.MuteFeed`, set as `app.state.mute_feed`)."""

    async def muted(self, mute: Mute) -> None: ...

    async def unmuted(self, target: str) -> None: ...


def _announcer(request: Request) -> MuteAnnouncer | None:
    found: MuteAnnouncer | None = getattr(request.app.state, "mute_feed", None)
    return found


def _add_mute_routes(router: APIRouter, ctx: WebContext) -> None:
    """List, set and lift maintenance mutes (stored, and told to the live state)."""

    @router.get("/mutes", summary="Targets muted for maintenance (in force now)")
    async def list_mutes() -> list[MuteOut]:
        return [MuteOut.of(m) for m in ctx.state.mutes()]

    @router.put("/mutes/{target}", summary="Mute a target for maintenance until a time")
    async def mute(target: str, body: MuteIn, request: Request) -> MuteOut:
        if target not in ctx.targets and not ctx.state.is_known_target(target):
            raise HTTPException(404, f"no such target: {target!r}")
        if body.until <= ctx.now():
            raise HTTPException(422, "until must be in the future (epoch seconds)")
        stored = await _tables(ctx).set_mute(target, body.until, body.note)
        ctx.state.mute(stored)
        if (announcer := _announcer(request)) is not None:
            await announcer.muted(stored)
        return MuteOut.of(stored)

    @router.delete("/mutes/{target}", status_code=204, summary="Lift a target's mute")
    async def unmute(target: str, request: Request) -> Response:
        found = await _tables(ctx).lift_mute(target)
        found = ctx.state.unmute(target) or found
        if not found:
            raise HTTPException(404, f"target {target!r} is not muted")
        if (announcer := _announcer(request)) is not None:
            await announcer.unmuted(target)
        return Response(status_code=204)


def _add_token_routes(router: APIRouter, ctx: WebContext) -> None:
    """List, create and revoke admin tokens."""

    @router.get("/tokens", summary="Admin tokens (names and times, never the tokens)")
    async def list_tokens() -> list[TokenOut]:
        found = await _tables(ctx).admin_tokens()
        return [TokenOut(name=t.name, created=t.created, last_used=t.last_used) for t in found]

    @router.post("/tokens", status_code=201, summary="Create an admin token (shown once)")
    async def create_token(body: TokenIn) -> TokenCreated:
        token, digest = new_token("nva_")
        try:
            await _tables(ctx).add_admin_token(body.name, digest)
        except ValueError as exc:
            raise HTTPException(409, str(exc)) from exc
        return TokenCreated(name=body.name, token=token)

    @router.delete("/tokens/{name}", status_code=204, summary="Revoke an admin token")
    async def revoke_token(name: str) -> Response:
        if not await _tables(ctx).revoke_admin_token(name):
            raise HTTPException(404, f"no admin token named {name!r}")
        return Response(status_code=204)


def _add_agent_routes(router: APIRouter, ctx: WebContext) -> None:
    """List, add and revoke remote vantages (those of the config file are read-only)."""

    @router.get("/agents", summary="Remote vantages allowed to ingest")
    async def list_agents() -> list[AgentOut]:
        added = await _tables(ctx).agents()
        out = [
            AgentOut(
                name=a.name,
                country=a.country,
                in_country=a.in_country,
                configured=True,
                created=None,
            )
            for a in ctx.agents.configured
        ]
        out += [
            AgentOut(
                name=a.name,
                country=a.country,
                in_country=a.in_country,
                configured=False,
                created=a.created,
            )
            for a in added
        ]
        return out

    @router.post(
        "/agents", status_code=201, summary="Add a remote vantage; its token is shown once"
    )
    async def create_agent(body: AgentIn) -> AgentCreated:
        if body.name == ctx.config.vantage.name or ctx.agents.is_configured(body.name):
            raise HTTPException(409, f"the name {body.name!r} is taken by the config")
        token, digest = new_token("nv_")
        try:
            await _tables(ctx).add_agent(
                body.name, digest, country=body.country, in_country=body.in_country
            )
        except ValueError as exc:
            raise HTTPException(409, str(exc)) from exc
        await ctx.agents.reload()
        return AgentCreated(name=body.name, token=token, token_sha256=hash_token(token))

    @router.delete("/agents/{name}", status_code=204, summary="Revoke an agent added here")
    async def revoke_agent(name: str) -> Response:
        if ctx.agents.is_configured(name):
            raise HTTPException(409, f"agent {name!r} is in the config file; remove it there")
        if not await _tables(ctx).revoke_agent(name):
            raise HTTPException(404, f"no agent named {name!r}")
        await ctx.agents.reload()
        return Response(status_code=204)

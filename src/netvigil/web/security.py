"""Web security: response headers on everything, and the gate in front of the admin API.

`SecurityHeaders` (ASGI middleware) adds to every response that has not set its own:

    Content-Security-Policy   default-src 'self'; script-src 'self'; ... (no inline script)
    X-Frame-Options           DENY
    X-Content-Type-Options    nosniff
    Referrer-Policy           no-referrer
    Cross-Origin-Opener-Policy same-origin

`AdminGuard` is the FastAPI dependency of every `/api/v1/admin/...` route:

    403  the server is set to `admin_localhost_only` and the client is not on loopback
    401  no `Authorization: Bearer <token>`, or a token that is not an admin token

Admin actions take a bearer token only, never a cookie, and the app sends no CORS
headers: a page on another site cannot make a browser send the token, so the admin
API needs no CSRF token (there are no HTML admin forms; any added later must carry a
synchronizer token, see `csrf_token`/`check_csrf`).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets
from collections.abc import Mapping

from fastapi import HTTPException, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from netvigil.store.base import AdminStore
from netvigil.web.tokens import hash_token

__all__ = [
    "CSP",
    "SECURITY_HEADERS",
    "AdminGuard",
    "SecurityHeaders",
    "check_csrf",
    "csrf_token",
    "is_loopback",
]

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)
"""The Content-Security-Policy of every page: no inline or foreign script, no framing."""

SECURITY_HEADERS: Mapping[str, str] = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cross-origin-opener-policy": "same-origin",
}


class SecurityHeaders:
    """ASGI middleware adding SECURITY_HEADERS to every HTTP response lacking them."""

    def __init__(self, app: ASGIApp, headers: Mapping[str, str] = SECURITY_HEADERS) -> None:
        self.app = app
        self._headers = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {k.lower() for k, _ in headers}
                headers.extend((k, v) for k, v in self._headers if k not in present)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)


def is_loopback(host: str | None) -> bool:
    """Whether `host` (a client address) is on loopback: 127.0.0.0/8, ::1, ::ffff:127.x."""
    if not host:
        return False
    try:
        addr = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped.is_loopback
    return addr.is_loopback


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header. Raises HTTPException (401)."""
    challenge = {"WWW-Authenticate": 'Bearer realm="netvigil-admin"'}
    if not authorization:
        raise HTTPException(
            401,
            "missing Authorization header; admin actions need 'Authorization: Bearer <token>'",
            headers=challenge,
        )
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(401, "Authorization header must be 'Bearer <token>'", headers=challenge)
    return token


class AdminGuard:
    """FastAPI dependency admitting admin requests; returns the admin token's name.

    With `localhost_only`, clients not on loopback get 403 whatever their token.
    """

    def __init__(self, store: AdminStore | None, *, localhost_only: bool) -> None:
        self.store = store
        self.localhost_only = localhost_only

    async def __call__(self, request: Request) -> str:
        client = request.client.host if request.client is not None else None
        if self.localhost_only and not is_loopback(client):
            raise HTTPException(
                403, "the admin API only answers on loopback (server.admin_localhost_only)"
            )
        token = bearer_token(request.headers.get("authorization"))
        if self.store is None:
            raise HTTPException(
                401,
                "this server has no admin tokens (its store is not an SQLite file)",
                headers={"WWW-Authenticate": 'Bearer realm="netvigil-admin"'},
            )
        name = await self.store.use_admin_token(hash_token(token))
        if name is None:
            raise HTTPException(
                401,
                "unknown admin token",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
        return name


def csrf_token(secret: bytes, session: str) -> str:
    """A synchronizer token binding a form to `session` (for HTML forms, if ever added)."""
    nonce = secrets.token_urlsafe(16)
    mac = hmac.new(secret, f"{session}:{nonce}".encode(), hashlib.sha256).hexdigest()
    return f"{nonce}.{mac}"


def check_csrf(secret: bytes, session: str, token: str) -> bool:
    """Whether `token` was made by `csrf_token(secret, session)`."""
    nonce, _, mac = token.partition(".")
    want = hmac.new(secret, f"{session}:{nonce}".encode(), hashlib.sha256).hexdigest()
    return bool(nonce) and hmac.compare_digest(mac, want)

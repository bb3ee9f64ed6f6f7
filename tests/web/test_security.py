"""Security headers everywhere, admin auth (401), loopback-only admin (403), token hygiene."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from apidata import NOW, fill, make_config

from netvigil.store.sqlite import SQLiteStore
from netvigil.web.app import create_app
from netvigil.web.security import CSP, check_csrf, csrf_token, is_loopback
from netvigil.web.server import WebServer
from netvigil.web.tokens import create_admin_token

REMOTE = ("203.0.113.7", 40000)
"""A client address off loopback (documentation range), as the ASGI scope reports it."""


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = await SQLiteStore.open(tmp_path / "sec.db")
    await fill(s)
    yield s
    await s.close()


def client(
    store: SQLiteStore, *, peer: tuple[str, int] = ("127.0.0.1", 5000), **server: Any
) -> httpx.AsyncClient:
    app = create_app(store, make_config(**server), now=lambda: NOW)
    transport = httpx.ASGITransport(app=app, client=peer)
    return httpx.AsyncClient(transport=transport, base_url="http://nv.test")


PATHS = [
    "/status",
    "/status.css",
    "/api/v1/services",
    "/api/v1/nothing",
    "/api/v1/admin/whoami",
    "/metrics",
]


async def test_every_response_has_security_headers(store: SQLiteStore) -> None:
    assert "script-src 'self'" in CSP
    assert "'unsafe-inline'" not in CSP
    for needed in ("frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"):
        assert needed in CSP
    async with client(store) as c:
        for path in PATHS:
            resp = await c.get(path)
            assert resp.headers["content-security-policy"] == CSP, path
            assert resp.headers["x-frame-options"] == "DENY", path
            assert resp.headers["x-content-type-options"] == "nosniff", path
            assert resp.headers["referrer-policy"] == "no-referrer", path
            assert "access-control-allow-origin" not in resp.headers, path


ADMIN_CALLS = [
    ("GET", "/api/v1/admin/whoami", None),
    ("POST", "/api/v1/admin/incidents/inc-1/ack", {"note": "x"}),
    ("PUT", "/api/v1/admin/mutes/portal-tcp", {"until": NOW + 60}),
    ("POST", "/api/v1/admin/tokens", {"name": "mallory"}),
    ("DELETE", "/api/v1/admin/agents/x", None),
]


async def test_admin_needs_a_token(store: SQLiteStore) -> None:
    create_admin_token(store, "alice")
    async with client(store) as c:
        for method, path, body in ADMIN_CALLS:
            missing = await c.request(method, path, json=body)
            wrong = await c.request(
                method, path, json=body, headers={"Authorization": "Bearer nope"}
            )
            basic = await c.request(
                method, path, json=body, headers={"Authorization": "Basic eDp5"}
            )
            for resp in (missing, wrong, basic):
                assert resp.status_code == 401, (path, resp.text)
                assert resp.headers["www-authenticate"].startswith("Bearer")
                assert resp.json()["ok"] is False
            assert "Authorization" in missing.json()["error"]
            assert wrong.json()["error"] == "unknown admin token"


async def test_admin_is_refused_off_loopback_when_so_set(store: SQLiteStore) -> None:
    token = create_admin_token(store, "alice")
    auth = {"Authorization": f"Bearer {token}"}
    async with client(store, peer=REMOTE, admin_localhost_only=True) as c:
        refused = await c.get("/api/v1/admin/whoami", headers=auth)
        public = await c.get("/api/v1/services")
        status = await c.get("/status")
    assert refused.status_code == 403
    assert "loopback" in refused.json()["error"]
    assert public.status_code == 200
    assert status.status_code == 200
    async with client(store, peer=REMOTE, admin_localhost_only=False) as c:
        allowed = await c.get("/api/v1/admin/whoami", headers=auth)
    assert allowed.json() == {"name": "alice"}
    async with client(store, peer=("::1", 5000)) as c:
        assert (await c.get("/api/v1/admin/whoami", headers=auth)).status_code == 200


async def test_admin_over_a_real_loopback_server(store: SQLiteStore) -> None:
    token = create_admin_token(store, "alice")
    app = create_app(store, make_config(admin_localhost_only=True), now=lambda: NOW)
    async with await WebServer.start(app) as server, httpx.AsyncClient(base_url=server.url) as c:
        ok = await c.get("/api/v1/admin/whoami", headers={"Authorization": f"Bearer {token}"})
        no = await c.get("/api/v1/admin/whoami")
    assert ok.json() == {"name": "alice"}
    assert no.status_code == 401


def test_loopback_addresses() -> None:
    for host in ("127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"):
        assert is_loopback(host), host
    for host in ("203.0.113.7", "2001:db8::1", "::ffff:192.0.2.1", "", None, "nv.test"):
        assert not is_loopback(host), host


def test_csrf_synchronizer_tokens() -> None:
    secret = b"k" * 32
    token = csrf_token(secret, "session-1")
    assert check_csrf(secret, "session-1", token)
    assert not check_csrf(secret, "session-2", token)
    assert not check_csrf(secret, "session-1", token + "x")
    assert not check_csrf(b"other" * 8, "session-1", token)

"""An aiohttp test server on a pre-bound loopback socket, plain or with TLS.

Routes:
    /ok                 200, body "hello from netvigil test server"
    /status/{code}      that status
    /redirect/{n}       302 to /redirect/{n-1}; /redirect/0 redirects to /ok
    /big/{size}         200 with `size` bytes of "x" (Content-Length)
    /chunked/{size}     200 with `size` bytes of "y" in 1 KiB chunks (chunked encoding)
    /slow/{delay}       waits `delay` seconds before the response head
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web

OK_BODY = b"hello from netvigil test server"


async def _ok(request: web.Request) -> web.Response:
    return web.Response(body=OK_BODY, content_type="text/plain")


async def _status(request: web.Request) -> web.Response:
    return web.Response(status=int(request.match_info["code"]), text="status")


async def _redirect(request: web.Request) -> web.Response:
    n = int(request.match_info["n"])
    target = "/ok" if n <= 0 else f"/redirect/{n - 1}"
    raise web.HTTPFound(target)


async def _big(request: web.Request) -> web.Response:
    return web.Response(body=b"x" * int(request.match_info["size"]))


async def _chunked(request: web.Request) -> web.StreamResponse:
    size = int(request.match_info["size"])
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    await response.prepare(request)
    sent = 0
    while sent < size:
        part = min(1024, size - sent)
        try:
            await response.write(b"y" * part)
        except (ConnectionError, RuntimeError):
            return response
        sent += part
    await response.write_eof()
    return response


async def _slow(request: web.Request) -> web.Response:
    await asyncio.sleep(float(request.match_info["delay"]))
    return web.Response(body=OK_BODY)


def make_app() -> web.Application:
    """The test application."""
    app = web.Application()
    app.router.add_get("/ok", _ok)
    app.router.add_get("/status/{code}", _status)
    app.router.add_get("/redirect/{n}", _redirect)
    app.router.add_get("/big/{size}", _big)
    app.router.add_get("/chunked/{size}", _chunked)
    app.router.add_get("/slow/{delay}", _slow)
    return app


def bound_socket(host: str = "127.0.0.1") -> socket.socket:
    """A TCP socket bound to `host` on a free port, listening."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    sock.listen(128)
    sock.setblocking(False)
    return sock


def url_host(host: str) -> str:
    """`host` as it appears in a URL (IPv6 in brackets)."""
    return f"[{host}]" if ":" in host else host


@asynccontextmanager
async def serve_http(
    host: str = "127.0.0.1", ssl_context: ssl.SSLContext | None = None
) -> AsyncIterator[str]:
    """Serve the test app on `host`; yields the base URL (no trailing slash)."""
    sock = bound_socket(host)
    port = sock.getsockname()[1]
    runner = web.AppRunner(make_app(), access_log=None, shutdown_timeout=0.1)
    await runner.setup()
    site = web.SockSite(runner, sock, ssl_context=ssl_context)
    await site.start()
    scheme = "https" if ssl_context is not None else "http"
    try:
        yield f"{scheme}://{url_host(host)}:{port}"
    finally:
        await runner.cleanup()

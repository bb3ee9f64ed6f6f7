"""Serve an ASGI app with uvicorn as a task inside an already running asyncio loop.

    server = await WebServer.start(app, host="127.0.0.1", port=0)   # binds, then serves
    print(server.url)                                                # http://127.0.0.1:40123
    await server.stop()                                              # graceful, bounded

    sock = bind_socket("127.0.0.1", 0)                               # or bind first,
    server = await WebServer.start(app, sock=sock)                   # then hand it over

The listening socket is always bound here, before uvicorn sees it, so the bound port is
known (port 0 picks a free one) and a stopped server can be started again on the same
port. uvicorn's own logging setup and signal handlers are left out: the program that
owns the loop owns logging and signals.

Every connection is served under `limits` (`netvigil.web.connections`): a bounded request
head, read in bounded time, and at most `server.gate.capacity` connections at once, that
number leaving `limits.fd_reserve` file descriptors to the rest of the process.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator
from types import TracebackType
from typing import Any, Self

import uvicorn

from netvigil.web.connections import (
    ConnectionGate,
    ConnectionLimits,
    connection_cap,
    raise_open_files_limit,
)

__all__ = ["WebServer", "bind_socket"]


def bind_socket(host: str = "127.0.0.1", port: int = 0, *, backlog: int = 2048) -> socket.socket:
    """A listening TCP socket on host:port (port 0: any free port). Raises OSError."""
    infos = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP, flags=socket.AI_PASSIVE
    )
    if not infos:  # pragma: no cover - getaddrinfo raises instead
        raise OSError(f"cannot resolve {host!r}")
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(backlog)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class _EmbeddedServer(uvicorn.Server):
    """uvicorn's server without its signal handlers (the host program keeps its own)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class WebServer:
    """A uvicorn server running as a task in the current event loop; see the module docs."""

    def __init__(self, server: uvicorn.Server, sock: socket.socket, gate: ConnectionGate) -> None:
        self._server = server
        self.gate = gate
        name = sock.getsockname()
        self.host: str = str(name[0])
        self.port: int = int(name[1])
        self._task: asyncio.Task[None] | None = None
        self._sock = sock

    @classmethod
    async def start(
        cls,
        app: Any,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        sock: socket.socket | None = None,
        limits: ConnectionLimits | None = None,
        log_level: str = "warning",
        graceful_s: float = 5.0,
        startup_timeout_s: float = 10.0,
        **uvicorn_options: Any,
    ) -> Self:
        """Bind (unless `sock` is given) and serve `app` until `stop()`. Raises OSError.

        Returns once the server accepts connections. `limits` bound what each client may
        hold (the defaults of `[server]` when None); the soft open-files limit is raised
        to the hard one first. Extra keywords go to `uvicorn.Config` (e.g. `ssl_certfile`).
        """
        if limits is None:
            limits = ConnectionLimits()
        gate = ConnectionGate(limits, connection_cap(limits, raise_open_files_limit()))
        if sock is None:
            sock = bind_socket(host, port)
        config = uvicorn.Config(
            app,
            http=gate.protocol_factory(),  # type: ignore[arg-type]  # a class is expected
            ws="none",
            log_config=None,
            log_level=log_level,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=int(max(1.0, graceful_s)),
            **uvicorn_options,
        )
        web = cls(_EmbeddedServer(config), sock, gate)
        web._task = asyncio.create_task(web._server.serve(sockets=[sock]), name="web-server")
        deadline = asyncio.get_running_loop().time() + startup_timeout_s
        while not web._server.started:
            if web._task.done():
                sock.close()
                web._task.result()  # raises what stopped it
                raise OSError(f"web server on {web.url} stopped while starting")
            if asyncio.get_running_loop().time() > deadline:
                await web.stop()
                raise OSError(f"web server on {web.url} did not start in {startup_timeout_s} s")
            await asyncio.sleep(0.005)
        return web

    @property
    def url(self) -> str:
        """The base URL, e.g. `http://127.0.0.1:40123`."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def running(self) -> bool:
        """Whether the server task is still running."""
        return self._task is not None and not self._task.done()

    async def stop(self, *, timeout_s: float = 10.0) -> None:
        """Stop accepting, let requests in flight finish (bounded), then close."""
        task = self._task
        if task is None:
            return
        self._server.should_exit = True
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout_s)
        except TimeoutError:
            self._server.force_exit = True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        finally:
            self._sock.close()
            self._task = None

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

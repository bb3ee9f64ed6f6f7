"""Limits on web clients: head size, head and body read time, connections at once.

    limits = ConnectionLimits.from_config(config)          # or ConnectionLimits(...)
    gate = ConnectionGate(limits, capacity=connection_cap(limits, raise_open_files_limit()))
    uvicorn.Config(app, http=gate.protocol_factory())      # what WebServer.start does

The web server shares its process, event loop and file descriptors with the probes, so
no client may be able to take more than its share of any of them:

| limit              | what happens to a client past it                                    |
|--------------------|---------------------------------------------------------------------|
| `max_header_bytes` | request line plus headers longer than this: 431, connection closed  |
| `header_timeout_s` | no whole request head this long after the connection opened (or     |
|                    | after the request's first byte): 408, connection closed             |
| `body_timeout_s`   | body not fully arrived this long after the head: connection closed  |
| `capacity`         | connections open at once; at capacity a new connection closes the   |
|                    | oldest one waiting for a head or idle, or is itself closed at once  |

uvicorn offers none of these for its default parser, httptools: its only head limit
(`h11_max_incomplete_event_size`) belongs to the slower h11 parser, `limit_concurrency`
answers 503 but still accepts, and so still holds, every connection, and
`timeout_keep_alive` applies only between requests. `GuardedHttpToolsProtocol` is
therefore uvicorn's httptools protocol with these checks added around its own parser
callbacks; the parsing and the ASGI cycle are uvicorn's, unchanged.

The capacity leaves file descriptors for the rest of the process: `connection_cap`
is `min(max_connections, open-files limit - fd_reserve)`, after
`raise_open_files_limit` has raised the soft limit to the hard one.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import resource
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Self

from uvicorn.config import Config as UvicornConfig
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from netvigil.config.model import Config

__all__ = [
    "ConnectionGate",
    "ConnectionLimits",
    "GateStats",
    "GuardedHttpToolsProtocol",
    "connection_cap",
    "raise_open_files_limit",
]

log = logging.getLogger(__name__)

MIN_CONNECTIONS = 16
"""The capacity never drops below this, however few file descriptors there are."""

_NR_OPEN_DEFAULT = 1_048_576
"""Linux's default ceiling on open files, tried when the hard limit is 'unlimited'."""


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """What one web client may hold; the defaults are those of `[server]` in the config."""

    max_header_bytes: int = 16_384
    header_timeout_s: float = 10.0
    body_timeout_s: float = 30.0
    max_connections: int = 1000
    fd_reserve: int = 512 + 128

    @classmethod
    def from_config(cls, config: Config) -> Self:
        """The limits `[server]` sets (`probe_fd_reserve` defaults from the scheduler)."""
        server = config.server
        reserve = server.probe_fd_reserve
        if reserve is None:
            reserve = config.scheduler.concurrency + 128
        return cls(
            max_header_bytes=server.max_header_bytes,
            header_timeout_s=server.header_timeout_s,
            body_timeout_s=server.body_timeout_s,
            max_connections=server.max_connections,
            fd_reserve=reserve,
        )


def raise_open_files_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit if allowed; return the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = _NR_OPEN_DEFAULT if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
        except (ValueError, OSError) as exc:
            log.info("open-files limit stays at %d (raising it to %d: %s)", soft, wanted, exc)
        else:
            soft = wanted
    return _NR_OPEN_DEFAULT if soft == resource.RLIM_INFINITY else soft


def connection_cap(limits: ConnectionLimits, open_files: int) -> int:
    """How many web connections may be open at once with `open_files` descriptors."""
    return max(MIN_CONNECTIONS, min(limits.max_connections, open_files - limits.fd_reserve))


@dataclass(slots=True)
class GateStats:
    """What the gate and the guarded connections did, counted since the start."""

    admitted: int = 0
    refused: int = 0
    evicted: int = 0
    head_too_large: int = 0
    head_timeouts: int = 0
    body_timeouts: int = 0


@dataclass(eq=False, slots=True)
class ConnectionGate:
    """Admits at most `capacity` connections at once (see the module docs)."""

    limits: ConnectionLimits
    capacity: int
    stats: GateStats = field(default_factory=GateStats)
    _open: dict[GuardedHttpToolsProtocol, None] = field(default_factory=dict)

    def __len__(self) -> int:
        """How many connections are open now."""
        return len(self._open)

    def admit(self, conn: GuardedHttpToolsProtocol) -> bool:
        """Take `conn` in, closing the oldest waiting or idle one if full; or refuse it."""
        if len(self._open) >= self.capacity:
            victim = next((c for c in self._open if c.evictable), None)
            if victim is None:
                self.stats.refused += 1
                return False
            self.release(victim)
            victim.evict()
            self.stats.evicted += 1
        self._open[conn] = None
        self.stats.admitted += 1
        return True

    def release(self, conn: GuardedHttpToolsProtocol) -> None:
        """`conn` is closed: its place is free."""
        self._open.pop(conn, None)

    def protocol_factory(self) -> Callable[..., asyncio.Protocol]:
        """What to give `uvicorn.Config(http=...)`: guarded protocols bound to this gate."""
        return functools.partial(GuardedHttpToolsProtocol, gate=self)


def _error_bytes(status: int, message: str) -> bytes:
    """A whole HTTP response in the API's error shape, closing the connection."""
    body = json.dumps({"ok": False, "error": message, "errors": [], "status": status}).encode()
    head = (
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}\r\n"
        "content-type: application/json\r\n"
        f"content-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol under a `ConnectionGate` and its limits."""

    def __init__(
        self,
        config: UvicornConfig,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        gate: ConnectionGate,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.gate = gate
        self._limits = gate.limits
        self._admitted = False
        self._reading_head = True
        self._heads_seen = 0
        self._head_bytes = 0
        self._head_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None

    @property
    def evictable(self) -> bool:
        """Whether no request is being served: the connection waits for a head or idles."""
        cycle = self.cycle
        return not self.pipeline and (cycle is None or cycle.response_complete)

    def evict(self) -> None:
        """Close at once, to make room for a newer connection."""
        log.debug("closing connection from %s: the server is at capacity", self.client)
        self._cancel_timers()
        if self.transport is not None:
            self.transport.abort()

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        if not self.gate.admit(self):
            transport.abort()
            return
        self._admitted = True
        super().connection_made(transport)
        self._arm_head_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self._admitted:
            return
        self.gate.release(self)
        self._cancel_timers()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.transport.is_closing():
            return
        was_reading_head = self._reading_head
        heads_before = self._heads_seen
        super().data_received(data)
        if was_reading_head and self._heads_seen == heads_before:
            # Still in the same head: llhttp keeps all of it, so it is limited here.
            self._head_bytes += len(data)
            if self._head_bytes > self._limits.max_header_bytes:
                self.gate.stats.head_too_large += 1
                self._refuse(
                    431, f"request head over {self._limits.max_header_bytes} bytes; refused"
                )

    # httptools parser callbacks

    def on_message_begin(self) -> None:
        self._arm_head_timer()
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._reading_head = False
        self._heads_seen += 1
        self._head_bytes = 0
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        self._body_timer = self.loop.call_later(self._limits.body_timeout_s, self._body_too_slow)
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._reading_head = True
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None
        super().on_message_complete()

    # limits

    def _arm_head_timer(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(
                self._limits.header_timeout_s, self._head_too_slow
            )

    def _cancel_timers(self) -> None:
        for timer in (self._head_timer, self._body_timer):
            if timer is not None:
                timer.cancel()
        self._head_timer = self._body_timer = None

    def _head_too_slow(self) -> None:
        self._head_timer = None
        self.gate.stats.head_timeouts += 1
        if self.evictable:
            self._refuse(408, f"no whole request head in {self._limits.header_timeout_s:g} s")
        else:  # a response is under way; the next request's head is late: close after it
            self.cycle.keep_alive = False

    def _body_too_slow(self) -> None:
        self._body_timer = None
        self.gate.stats.body_timeouts += 1
        log.debug("closing connection from %s: request body too slow", self.client)
        if not self.transport.is_closing():
            self.transport.close()

    def _refuse(self, status: int, message: str) -> None:
        log.debug("closing connection from %s: %s", self.client, message)
        self._cancel_timers()
        if not self.transport.is_closing():
            self.transport.write(_error_bytes(status, message))
            self.transport.close()

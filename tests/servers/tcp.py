"""Scripted TCP servers on loopback that misbehave in one chosen way.

Behaviours:
    reset       accept, then close with SO_LINGER 0 (the peer sees a TCP RST)
    silent      accept and never send anything
    close       read the request, then close without a reply (FIN)
    garbage     answer anything with bytes that are neither HTTP nor TLS
    raw         answer the first request with given bytes, then close
    stall_body  send an HTTP head promising a body, then nothing
"""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field

from servers.http import bound_socket


@dataclass
class ScriptedServer:
    """A loopback TCP server; `port`, `host` and `connections` (accepted count)."""

    host: str
    port: int
    connections: int = 0
    requests: list[bytes] = field(default_factory=list)
    _held: list[asyncio.StreamWriter] = field(default_factory=list)


def free_port(host: str = "127.0.0.1") -> int:
    """A port on `host` that nothing listens on (bound, then released)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
    return port


@asynccontextmanager
async def serve_tcp(
    behaviour: str, host: str = "127.0.0.1", payload: bytes = b""
) -> AsyncIterator[ScriptedServer]:
    """Serve `behaviour` on a free loopback port."""
    sock = bound_socket(host)
    server_state = ScriptedServer(host=host, port=sock.getsockname()[1])

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server_state.connections += 1
        server_state._held.append(writer)
        if behaviour == "reset":
            raw = writer.get_extra_info("socket")
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            writer.transport.abort()
            return
        if behaviour == "silent":
            return
        with suppress(ConnectionError, asyncio.IncompleteReadError):
            server_state.requests.append(await reader.read(4096))
            if behaviour == "close":
                pass
            elif behaviour == "garbage":
                writer.write(b"\x00\x01garbage, not a protocol\r\n\r\n")
            elif behaviour == "raw":
                writer.write(payload)
            elif behaviour == "stall_body":
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nabc")
                await writer.drain()
                return
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, sock=sock)
    try:
        yield server_state
    finally:
        server.close()
        for writer in server_state._held:
            writer.transport.abort()
        with suppress(Exception):
            await asyncio.wait_for(server.wait_closed(), 1)

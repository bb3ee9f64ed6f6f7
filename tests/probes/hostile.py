"""A hostile HTTP server on loopback, and one HTTP probe against it with its costs measured.

A `Reply` scripts what the server does on a connection: bytes written in pieces with a
pause between them, then optionally one block written over and over (an endless head or
body, bounded by a byte count), then how the connection ends: `close` (FIN), `reset`
(SO_LINGER 0, a TCP RST) or `hang` (nothing more until the test ends). It also carries
what the probe may report for it. `probe_once` runs one HTTP probe against a fresh server
playing a reply and returns the observation, the wall time and the peak of the memory
allocated (tracemalloc) while the probe ran.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import time
import tracemalloc
from contextlib import suppress
from dataclasses import dataclass
from typing import Any, Literal

from netvigil.model import Observation
from netvigil.outcome import Outcome
from netvigil.probes import HTTPProbe, HTTPSpec
from servers.http import bound_socket

Ending = Literal["close", "reset", "hang"]

WAIT_S = 0.5
"""The probe's timeout when the reply may leave it waiting (the test waits that long)."""
QUICK_S = 3.0
"""The probe's timeout when the reply ends by itself (so a slow machine cannot time it out)."""

ENDED_EARLY: dict[Ending, Outcome] = {
    "close": Outcome.HTTP_PROTOCOL_ERROR,
    "reset": Outcome.CONNECTION_RESET,
    "hang": Outcome.HTTP_TIMEOUT,
}
"""What the probe must report when the reply stops, still valid, before it is complete."""


@dataclass(frozen=True)
class Reply:
    """What the hostile server does on a connection, and the outcomes that are right for it.

    `timeout_s` is the probed target's timeout. `body_bytes` and `truncated`, when set,
    are what an `ok` observation must report.
    """

    case: str
    expect: frozenset[Outcome]
    pieces: tuple[bytes, ...] = ()
    gap_s: float = 0.0
    flood: bytes = b""
    flood_bytes: int = 0
    ending: Ending = "close"
    read_request: bool = True
    timeout_s: float = QUICK_S
    body_bytes: int | None = None
    truncated: bool | None = None

    @property
    def offered_bytes(self) -> int:
        """The most bytes the server would send if the probe read everything."""
        return sum(map(len, self.pieces)) + self.flood_bytes

    def __repr__(self) -> str:  # hypothesis prints a failing case: keep huge bytes short
        pieces = ", ".join(_short(piece) for piece in self.pieces)
        return (
            f"Reply({self.case!r}, expect={sorted(self.expect)}, pieces=({pieces}),"
            f" gap_s={self.gap_s}, flood={_short(self.flood)} x {self.flood_bytes} bytes,"
            f" ending={self.ending!r}, read_request={self.read_request},"
            f" timeout_s={self.timeout_s})"
        )

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        printer.text(repr(self))


def _short(data: bytes) -> str:
    return repr(data) if len(data) <= 120 else f"{data[:100]!r}...({len(data)} bytes)"


def broken(
    case: str, ending: Ending, *pieces: bytes, flood: bytes = b"", flood_bytes: int = 0
) -> Reply:
    """A reply the probe can tell is not valid HTTP/1.x as soon as it reads it."""
    expect = {Outcome.HTTP_PROTOCOL_ERROR}
    if ending == "reset":
        # The RST may overtake the bad bytes in the probe's reading.
        expect.add(Outcome.CONNECTION_RESET)
    return Reply(
        case, frozenset(expect), pieces, flood=flood, flood_bytes=flood_bytes, ending=ending
    )


def unfinished(case: str, ending: Ending, *pieces: bytes, read_request: bool = True) -> Reply:
    """A reply that is valid as far as it goes but stops before the response is complete."""
    expect = frozenset({ENDED_EARLY[ending]})
    timeout_s = WAIT_S if ending == "hang" else QUICK_S
    return Reply(
        case, expect, pieces, ending=ending, read_request=read_request, timeout_s=timeout_s
    )


@dataclass(frozen=True)
class ProbeRun:
    """One probe against a hostile server: what it saw, how long it took, what it held,
    and what reached the event loop's exception handler meanwhile (callbacks that raised).
    """

    observation: Observation
    elapsed_s: float
    peak_bytes: int
    loop_errors: list[dict[str, Any]]


async def _play(
    reply: Reply, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, stop: asyncio.Event
) -> None:
    if reply.read_request:
        await reader.readuntil(b"\r\n\r\n")
    for index, piece in enumerate(reply.pieces):
        if index and reply.gap_s:
            await asyncio.sleep(reply.gap_s)
        writer.write(piece)
        await writer.drain()
    sent = 0
    while sent < reply.flood_bytes and not stop.is_set():
        writer.write(reply.flood)
        await writer.drain()
        sent += len(reply.flood)
        await asyncio.sleep(0)  # the probe shares this loop: let it read
    if reply.ending == "hang":
        await stop.wait()
    elif reply.ending == "reset":
        raw = writer.get_extra_info("socket")
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
    else:
        writer.close()


async def probe_once(reply: Reply, *, max_body: int) -> ProbeRun:
    """Serve `reply` on 127.0.0.1:0 and run one HTTP probe against it.

    Memory is traced (tracemalloc) only while the probe runs, server included.
    """
    sock = bound_socket("127.0.0.1")
    port = sock.getsockname()[1]
    stop = asyncio.Event()
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        with suppress(OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            await _play(reply, reader, writer, stop)

    loop = asyncio.get_running_loop()
    loop_errors: list[dict[str, Any]] = []
    previous_handler = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: loop_errors.append(context))
    server = await asyncio.start_server(handle, sock=sock)
    spec = HTTPSpec(
        name="hostile",
        url=f"http://127.0.0.1:{port}/",
        timeout_s=reply.timeout_s,
        max_body_bytes=max_body,
    )
    probe = HTTPProbe()
    try:
        tracemalloc.start()
        start = time.monotonic()
        try:
            observation = await probe.measure(spec)
            elapsed = time.monotonic() - start
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    finally:
        stop.set()
        server.close()
        for writer in writers:
            writer.transport.abort()
        with suppress(TimeoutError):
            await asyncio.wait_for(server.wait_closed(), 1.0)
        await probe.close()
        loop.set_exception_handler(previous_handler)
    return ProbeRun(observation, elapsed, peak, loop_errors)

"""The loopback services a local cluster watches: one tiny server per process.

    python .../netvigil/cluster_local/services.py http 24205   # answers every request 200
    python .../netvigil/cluster_local/services.py tcp 24208    # accepts and closes

Each service is a process of its own so that a fault is real: stopping the process
closes its port (the probes see `tcp_refused`), and starting it again on the same port
brings the service back. Standard library only, and run as a script (not with `-m`,
which would import the netvigil package first), so that it starts in a blink. It listens
on 127.0.0.1 only and stops on SIGTERM or SIGINT.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import Sequence

__all__ = ["SERVICE_KINDS", "main", "serve"]

SERVICE_KINDS = ("http", "tcp")
HOST = "127.0.0.1"
HTTP_ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n"
    b"Connection: close\r\n\r\nok\n"
)
READ_LIMIT = 65_536
READ_TIMEOUT_S = 5.0


async def _answer_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Read the request head (bounded in size and time) and answer 200 "ok"."""
    with contextlib.suppress(OSError, TimeoutError, asyncio.IncompleteReadError, ValueError):
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), READ_TIMEOUT_S)
        writer.write(HTTP_ANSWER)
        await writer.drain()
    writer.close()


async def _accept_and_close(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


async def serve(kind: str, port: int) -> None:
    """Serve `kind` on 127.0.0.1:`port` until SIGTERM or SIGINT."""
    handler = _answer_http if kind == "http" else _accept_and_close
    server = await asyncio.start_server(handler, HOST, port, limit=READ_LIMIT)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    """`KIND PORT`: serve until stopped; exit status 2 for bad arguments."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 2 or args[0] not in SERVICE_KINDS or not args[1].isdigit():
        sys.stderr.write("usage: services.py {http|tcp} PORT\n")
        return 2
    asyncio.run(serve(args[0], int(args[1])))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A lab web service: an aiohttp server with a bounded pool of workers.

At most `workers` requests are handled at once, each taking `work_s`; up to `backlog`
more wait their turn, and beyond that the server answers 503 at once. A flood of
requests therefore shows as a slow first byte and 503s while the host still answers
ping and accepts TCP connections.

With TLS, SIGUSR1 makes the server present its expired certificate to new
connections and SIGUSR2 restores the valid one.

    python -m netvigil.lab.httpd --name e-albania --port 443 --cert c.pem --key c.key \
        --expired-cert x.pem --expired-key x.key
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field

from aiohttp import web

from netvigil.shutdown import stop_event

__all__ = ["WorkerPool", "main", "make_app"]


@dataclass(slots=True)
class WorkerPool:
    """The server's capacity: workers, a bounded queue, and what happened to requests."""

    workers: int
    backlog: int
    work_s: float
    waiting: int = 0
    served: int = 0
    rejected: int = 0
    _sem: asyncio.Semaphore = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._sem = asyncio.Semaphore(self.workers)

    async def run(self) -> bool:
        """Do one request's work; False when the queue is full (the caller answers 503)."""
        if self._sem.locked() and self.waiting >= self.backlog:
            self.rejected += 1
            return False
        self.waiting += 1
        try:
            await self._sem.acquire()
        finally:
            self.waiting -= 1
        try:
            await asyncio.sleep(self.work_s)
        finally:
            self._sem.release()
        self.served += 1
        return True


def make_app(name: str, keyword: str, pool: WorkerPool) -> web.Application:
    """The service's application: `/` is its page, `/healthz` bypasses the worker pool."""

    async def page(request: web.Request) -> web.Response:
        if not await pool.run():
            return web.Response(status=503, text="503 Service Unavailable: overloaded\n")
        body = f"<html><head><title>{keyword}</title></head><body>{keyword} ({name})</body></html>"
        return web.Response(text=body, content_type="text/html")

    async def health(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "name": name,
                "served": pool.served,
                "rejected": pool.rejected,
                "waiting": pool.waiting,
            }
        )

    app = web.Application()
    app.router.add_get("/healthz", health)
    app.router.add_get("/{tail:.*}", page)
    return app


async def serve(args: argparse.Namespace) -> None:
    """Serve until SIGTERM/SIGINT."""
    pool = WorkerPool(args.workers, args.backlog, args.work_s)
    app = make_app(args.name, args.keyword or args.name, pool)
    ctx: ssl.SSLContext | None = None
    loop = asyncio.get_running_loop()
    if args.cert:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(args.cert, args.key)
        if args.expired_cert:
            expired = (args.expired_cert, args.expired_key)
            loop.add_signal_handler(signal.SIGUSR1, ctx.load_cert_chain, *expired)
        loop.add_signal_handler(signal.SIGUSR2, ctx.load_cert_chain, args.cert, args.key)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host=args.host, port=args.port, ssl_context=ctx, backlog=1024)
    await site.start()
    await stop_event().wait()
    await runner.cleanup()


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry: parse arguments and serve."""
    parser = argparse.ArgumentParser(prog="netvigil.lab.httpd")
    parser.add_argument("--name", required=True)
    parser.add_argument("--keyword")
    parser.add_argument("--host", default=None, help="address to bind (all when unset)")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--backlog", type=int, default=16)
    parser.add_argument("--work-s", type=float, default=0.05)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--expired-cert")
    parser.add_argument("--expired-key")
    asyncio.run(serve(parser.parse_args(argv)))


if __name__ == "__main__":
    main()

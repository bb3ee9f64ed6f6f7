"""Whether each process of a local cluster is ready, checked from outside.

    await wait_ready([Readiness(record, listening(port)), ...], timeout_s=60)

A check is an async predicate, asked every `POLL_S` until it holds. Readiness also
watches the process: one that exits while it is awaited fails the wait at once, with
the end of its log. What "ready" means per process:

- a server (nats-server, PostgreSQL, a loopback service): it takes connections;
- a collector or the detector: its log says it is reading the stream (it has set up its
  consumer and opened the store);
- the web: `GET /api/v1/incidents` answers 200;
- an agent: the store holds a measurement of its vantage, so the whole way (agent,
  NATS, a collector, PostgreSQL) works.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from netvigil.cluster_local.layout import HOST, LocalClusterError, ProcessRecord
from netvigil.cluster_local.processes import alive, tail
from netvigil.store.base import Store

__all__ = [
    "Check",
    "Readiness",
    "http_ok",
    "listening",
    "log_says",
    "vantage_stored",
    "wait_ready",
]

POLL_S = 0.2
Check = Callable[[], Awaitable[bool]]


def listening(port: int, host: str = HOST) -> Check:
    """Ready once `host:port` takes a TCP connection."""

    async def check() -> bool:
        try:
            _, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 1.0)
        except (OSError, TimeoutError):
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True

    return check


def log_says(path: str | Path, pattern: str) -> Check:
    """Ready once the log at `path` has a line matching `pattern`."""
    compiled = re.compile(pattern)

    async def check() -> bool:
        try:
            text = await asyncio.to_thread(Path(path).read_text, errors="replace")
        except OSError:
            return False
        return compiled.search(text) is not None

    return check


def http_ok(url: str) -> Check:
    """Ready once `GET url` answers 200."""

    async def check() -> bool:
        timeout = aiohttp.ClientTimeout(total=2.0)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as session,
                session.get(url) as response,
            ):
                return response.status == 200
        except (aiohttp.ClientError, TimeoutError, OSError):
            return False

    return check


def vantage_stored(store: Store, vantage: str) -> Check:
    """Ready once `store` holds a measurement from `vantage`."""

    async def check() -> bool:
        return any(m.vantage == vantage for m in await store.latest())

    return check


@dataclass(frozen=True, slots=True)
class Readiness:
    """A process and the check that says it is ready."""

    process: ProcessRecord
    check: Check
    what: str = "ready"


async def wait_ready(
    waits: Sequence[Readiness],
    *,
    timeout_s: float,
    on_ready: Callable[[Readiness, float], None] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> None:
    """Wait until every check holds (`on_ready` is told of each, with the seconds it took).
    Raises LocalClusterError naming the first process that exited, or every process not
    ready after `timeout_s`, each with the end of its log."""
    started = clock()
    pending = list(waits)
    while pending:
        for wait in list(pending):
            if await wait.check():
                pending.remove(wait)
                if on_ready is not None:
                    on_ready(wait, clock() - started)
            elif not alive(wait.process):
                p = wait.process
                said = tail(p.log) or "no output"
                raise LocalClusterError(f"{p.name} exited before it was {wait.what}: {said}")
        if not pending:
            return
        if clock() - started > timeout_s:
            late = "; ".join(
                f"{w.process.name} ({tail(w.process.log, 2) or 'no output yet'})" for w in pending
            )
            raise LocalClusterError(f"not {pending[0].what} within {timeout_s:g} s: {late}")
        await asyncio.sleep(POLL_S)

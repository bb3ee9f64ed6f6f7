"""Helpers for the web and alerter process tests: configs, processes, events, SSE readers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from netvigil.cause import Cause
from netvigil.incident import EventKind, Incident, IncidentEvent, IncidentState

SERVICES = ("portal", "registry")
SERVING = re.compile(r"serving (http://127\.0\.0\.1:\d+) from")


def write_config(path: Path, *, nats_url: str, dsn: str, extra: str = "") -> Path:
    """A netvigil.toml with two services, the PostgreSQL store and the NATS bus."""
    lines = [
        '[vantage]\nname = "local"',
        f'[bus]\nkind = "nats"\nurl = "{nats_url}"\nack_wait_s = 2.0',
        f'[store]\nkind = "postgres"\ndsn = "{dsn}"',
        *(f'[[services]]\nname = "{s}"' for s in SERVICES),
        *(
            f'[[targets]]\nkind = "tcp"\nname = "{s}-tcp"\nservice = "{s}"\n'
            'host = "127.0.0.1"\nport = 9\ninterval_s = 5.0'
            for s in SERVICES
        ),
        extra,
    ]
    path.write_text("\n\n".join(lines) + "\n")
    return path


def incident_event(
    incident_id: str,
    kind: EventKind,
    *,
    ts: float,
    service: str = "portal",
    cause: Cause = Cause.SHUTDOWN,
) -> IncidentEvent:
    """An event of a confirmed (or, for `resolved`, ended) incident of `service`."""
    state = IncidentState.RESOLVED if kind is EventKind.RESOLVED else IncidentState.CONFIRMED
    incident = Incident(
        id=incident_id,
        state=state,
        start=ts - 60,
        confirmed_at=ts - 30,
        end=ts if state is IncidentState.RESOLVED else None,
        cause=cause,
        confidence=0.9,
        services=[service],
        targets=[f"{service}-tcp"],
        vantages=["local"],
        updated=ts,
    )
    return IncidentEvent(kind, ts, incident)


def start_process(args: Sequence[str], log_path: Path) -> subprocess.Popen[bytes]:
    """`python -m netvigil ARGS`, its output to `log_path`, in a session of its own."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "netvigil", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
            start_new_session=True,
        )


async def wait_for_log(
    process: subprocess.Popen[bytes], log_path: Path, pattern: re.Pattern[str], timeout_s: float
) -> re.Match[str]:
    """The first match of `pattern` in the process's log, waiting for it to appear."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = pattern.search(log_path.read_text(errors="replace"))
        if found is not None:
            return found
        if process.poll() is not None:
            break
        await asyncio.sleep(0.1)
    tail = log_path.read_text(errors="replace")[-3000:]
    raise AssertionError(f"{pattern.pattern!r} not in the log (exit {process.poll()}):\n{tail}")


def stop_process(process: subprocess.Popen[bytes], timeout_s: float = 15.0) -> int:
    """SIGTERM, then SIGKILL the process group after `timeout_s`; the exit code."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=5)
    return process.returncode


@dataclass
class EventReader:
    """The incident events one SSE client of `/api/v1/stream` has received."""

    url: str
    incidents: list[dict[str, object]] = field(default_factory=list)
    hello: asyncio.Event = field(default_factory=asyncio.Event)

    async def read(self, client: httpx.AsyncClient) -> None:
        async with client.stream("GET", f"{self.url}/api/v1/stream") as response:
            response.raise_for_status()
            kind = ""
            async for line in response.aiter_lines():
                if line.startswith("event: "):
                    kind = line.removeprefix("event: ")
                elif line.startswith("data: "):
                    if kind == "hello":
                        self.hello.set()
                    elif kind == "incident":
                        self.incidents.append(json.loads(line.removeprefix("data: ")))

    def seen(self, incident_id: str, kind: str) -> bool:
        return any(e.get("id") == incident_id and e.get("kind") == kind for e in self.incidents)


@contextlib.asynccontextmanager
async def reading(urls: Sequence[str]) -> AsyncIterator[list[EventReader]]:
    """One SSE reader per URL, connected (their `hello` received) before this yields."""
    readers = [EventReader(u) for u in urls]
    async with httpx.AsyncClient(timeout=httpx.Timeout(30.0, read=None)) as client:
        tasks = [asyncio.create_task(r.read(client)) for r in readers]
        try:
            async with asyncio.timeout(15):
                for reader in readers:
                    await reader.hello.wait()
            yield readers
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, httpx.HTTPError):
                    await task


async def eventually(check: object, timeout_s: float, what: str) -> None:
    """Wait until `check()` (sync or async) is true."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert callable(check)
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")

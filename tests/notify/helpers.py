"""Helpers for the alert tests: incident events and real loopback receivers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiosmtpd.smtp import SMTP, Envelope, Session

from netvigil.cause import Cause, Evidence, Topic
from netvigil.incident import CauseChange, EventKind, Incident, IncidentEvent, IncidentState
from netvigil.notify.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, verify_signature

SECRET = "s3cret-shared-with-the-receiver"
START = 1658005445.0  # 2022-07-16 21:04:05 UTC


def make_event(
    kind: EventKind = EventKind.CONFIRMED,
    *,
    incident_id: str = "inc-1",
    cause: Cause = Cause.SHUTDOWN,
    confidence: float = 0.82,
    quiet: bool = False,
    ts: float = START + 60,
    history: list[Cause] | None = None,
) -> IncidentEvent:
    """An event for an incident on the government network, seen from three vantages."""
    state = {
        EventKind.OPENED: IncidentState.SUSPECTED,
        EventKind.RESOLVED: IncidentState.RESOLVED,
    }.get(kind, IncidentState.CONFIRMED)
    causes = history if history is not None else [cause]
    incident = Incident(
        id=incident_id,
        state=state,
        start=START,
        confirmed_at=None if state is IncidentState.SUSPECTED else START + 45,
        end=START + 3600 if state is IncidentState.RESOLVED else None,
        cause=cause,
        confidence=confidence,
        services=["parlament", "e-albania", "kryeministria"],
        targets=["parlament-https", "e-albania-https", "kryeministria-https"],
        networks=["akshi"],
        vantages=["tirana", "frankfurt", "vienna"],
        evidence=[
            Evidence("every vantage fails: 3 of 3", Topic.VANTAGE, 1.0, Cause.SHUTDOWN),
            Evidence("all 3 services on network akshi failed within 4 s", Topic.COFATE, 2.0, cause),
        ],
        cause_history=[CauseChange(START + 45 + i, c, confidence) for i, c in enumerate(causes)],
        maintenance="planned works" if quiet else None,
    )
    return IncidentEvent(kind, ts, incident, quiet=quiet)


def bound_socket() -> socket.socket:
    """A TCP socket listening on 127.0.0.1 on a port the kernel chose."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    sock.setblocking(False)
    return sock


@dataclass
class Delivery:
    """One request the receiver accepted with a valid signature."""

    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.body)
        return data


@dataclass
class Receiver:
    """A loopback HTTP server that checks webhook signatures and records what came."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    """Statuses to answer with, in order, before answering 200."""
    delay_s: float = 0.0
    deliveries: list[Delivery] = field(default_factory=list)
    requests: int = 0
    bad_signatures: int = 0
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle(self, request: web.Request) -> web.Response:
        self.requests += 1
        body = await request.read()
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        if self.statuses:
            return web.Response(status=self.statuses.pop(0))
        ok = verify_signature(
            SECRET,
            request.headers.get(TIMESTAMP_HEADER, ""),
            body,
            request.headers.get(SIGNATURE_HEADER, ""),
            tolerance_s=60,
        )
        if not ok:
            self.bad_signatures += 1
            return web.Response(status=401, text="bad signature")
        self.deliveries.append(Delivery(dict(request.headers), body))
        self.arrived.set()
        return web.Response(status=204)

    async def wait_for(self, count: int, timeout_s: float = 5.0) -> list[Delivery]:
        """Wait until `count` deliveries arrived; the deliveries so far."""
        async with asyncio.timeout(timeout_s):
            while len(self.deliveries) < count:
                self.arrived.clear()
                await self.arrived.wait()
        return self.deliveries


@dataclass
class Mailbox:
    """What a loopback SMTP server received."""

    port: int = 0
    messages: list[Envelope] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.messages.append(envelope)
        self.arrived.set()
        return "250 Message accepted for delivery"


@contextlib.asynccontextmanager
async def serving_receiver(*paths: str) -> AsyncIterator[Receiver]:
    """A `Receiver` served on 127.0.0.1 at POST `/hook` (and any other `paths`), its `url`
    the hook's; stopped on exit."""
    rec = Receiver()
    app = web.Application()
    for path in ("/hook", *paths):
        app.router.add_post(path, rec.handle)
    runner = web.AppRunner(app, handle_signals=False)
    await runner.setup()
    sock = bound_socket()
    await web.SockSite(runner, sock).start()
    rec.url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    try:
        yield rec
    finally:
        await runner.cleanup()

"""Fixtures for the BGP tests: the shared real dumps and a RIS Live replay server on loopback."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web


@pytest.fixture(scope="session")
def bgp_data(shared_data: Path) -> Path:
    return shared_data / "bgp_mrt"


def ris_message_of_bgpkit(doc: dict[str, Any]) -> dict[str, Any]:
    """bgpkit's parsed RIS Live fixture (meta + elems) as the `ris_message` it came from.

    Every element of the fixture shares the message's path, communities and next hop, as
    the elements of one BGP UPDATE do.
    """
    meta, elems = doc["meta"], doc["elems"]
    first = elems[0]
    return {
        "type": "ris_message",
        "data": {
            "timestamp": meta["timestamp"],
            "peer": meta["peer"],
            "peer_asn": str(meta["peerAsn"]),
            "id": meta["id"],
            "host": meta["host"],
            "type": "UPDATE",
            "path": first["as_path"],
            "community": [c["Custom"] for c in first["communities"]],
            "origin": first["origin"].lower(),
            "announcements": [
                {"next_hop": first["next_hop"], "prefixes": [e["prefix"] for e in elems]}
            ],
        },
    }


@pytest.fixture(scope="session")
def ris_stream(bgp_data: Path) -> list[str]:
    """Real RIS Live server messages: libbgpstream's stream lines, then bgpkit's UPDATE."""
    lines = (bgp_data / "libbgpstream/test/ris-live-stream.json").read_text().splitlines()
    doc = json.loads(
        (bgp_data / "bgpkit-parser/src/wasm/test/fixtures/ris_live_raw_full.json").read_text()
    )
    return [line for line in lines if line.strip()] + [json.dumps(ris_message_of_bgpkit(doc))]


@dataclass
class RisReplay:
    """A RIS Live stand-in: records what clients send, replays `messages` to each.

    `refuse`: answer 503 instead of a websocket. `close_after_replay`: close each
    connection once the messages are sent (else keep it open until the client leaves).
    """

    messages: list[str] = field(default_factory=list)
    refuse: bool = False
    close_after_replay: bool = True
    url: str = ""
    connections: int = 0
    refused: int = 0
    queries: list[dict[str, str]] = field(default_factory=list)
    subscriptions: list[dict[str, Any]] = field(default_factory=list)
    open_sockets: set[web.WebSocketResponse] = field(default_factory=set)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if self.refuse:
            self.refused += 1
            return web.Response(status=503, text="down for the test")
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connections += 1
        self.queries.append(dict(request.query))
        self.open_sockets.add(ws)
        try:
            self.subscriptions.append(json.loads(await ws.receive_str(timeout=5)))
            while True:  # the rest of the subscriptions, sent together
                try:
                    self.subscriptions.append(json.loads(await ws.receive_str(timeout=0.1)))
                except TimeoutError:
                    break
            for message in self.messages:
                await ws.send_str(message)
            if self.close_after_replay:
                await ws.close()
            else:
                async for frame in ws:
                    self.subscriptions.append(json.loads(frame.data))
        finally:
            self.open_sockets.discard(ws)
        return ws

    async def drop_all(self) -> None:
        """Close every open connection from the server side."""
        for ws in list(self.open_sockets):
            await ws.close()


@pytest.fixture
async def ris_replay(ris_stream: list[str]) -> AsyncIterator[RisReplay]:
    """A websocket server on 127.0.0.1 replaying the real RIS Live messages."""
    replay = RisReplay(messages=list(ris_stream))
    app = web.Application()
    app.router.add_get("/v1/ws/", replay.handle)
    runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=1)
    await runner.setup()
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    sock.setblocking(False)
    await web.SockSite(runner, sock).start()
    replay.url = f"ws://127.0.0.1:{sock.getsockname()[1]}/v1/ws/"
    try:
        yield replay
    finally:
        await replay.drop_all()
        await runner.cleanup()


async def wait_for(condition: Any, timeout_s: float = 5.0) -> None:
    """Poll `condition()` until true; fail after `timeout_s`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"not true within {timeout_s} s: {condition}")
        await asyncio.sleep(0.01)

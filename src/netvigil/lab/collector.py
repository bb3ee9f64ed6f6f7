"""The lab's route collector feed: BIRD's route changes served as a RIS Live websocket.

    python -m netvigil.lab.collector --socket bird/collector.ctl --listen 203.0.113.9 \\
        --port 8765 --host collector --peer peer4=203.0.113.1,64496

Runs on the collector host, next to the collector's BIRD (which holds eBGP sessions with
the transit router, importing everything and exporting nothing, the way a RIPE RIS
route collector peers). Every `interval_s` it reads BIRD's table over the control socket
(`show route all`, `show protocols`), compares it with the last one and sends each
change to the subscribed clients as RIS Live messages at `ws://ADDR:PORT/v1/ws/`:

- `ris_message` of `data.type = "UPDATE"` with `announcements: [{next_hop, prefixes}]`
  and the `path`, `community` and `origin` they came with, or with `withdrawals`;
- `ris_message` of `data.type = "RIS_PEER_STATE"` (`state`: `connected` or `down`) when
  a session comes up or goes down;
- `ris_subscribe_ok` for each `ris_subscribe`, `pong` for each `ping`, `ris_error` for a
  message it cannot read.

A client gets nothing before it subscribes; `ris_subscribe` takes the RIS Live filters
`host`, `type`, `peer`, `path` (ASNs separated by commas, `^` anchoring the first and
`$` the last), `prefix` (one or a list) with `moreSpecific` (default true) and
`lessSpecific` (default false); `{}` subscribes to everything. Right after
`ris_subscribe_ok` a subscription gets what the table holds that passes it: a
RIS_PEER_STATE `connected` for each session up and the routes as UPDATE announcements
(stamped with the time of the last reading), the way a BGP speaker sends its table when
a session opens. RIPE's RIS Live sends no table (a client reads a RIB dump for that);
without it a client that subscribes after the lab has converged would know no route, so
the first withdrawal would tell it nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import logging
import signal
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from ipaddress import ip_network
from typing import Any

from aiohttp import WSMsgType, web

from netvigil.lab.birdroutes import (
    BirdControl,
    Peer,
    Route,
    parse_routes,
    peer_state,
    session_states,
    updates,
)

__all__ = ["Collector", "Subscription", "main"]

log = logging.getLogger("netvigil.lab.collector")
QUEUE_LIMIT = 10_000
"""Messages kept for a slow client; beyond this it is disconnected."""


@dataclass(frozen=True, slots=True)
class Subscription:
    """One `ris_subscribe` filter."""

    host: str | None = None
    type: str | None = None
    peer: str | None = None
    path: str | None = None
    prefixes: tuple[str, ...] = ()
    more_specific: bool = True
    less_specific: bool = False

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Subscription:
        """Read a `ris_subscribe`'s data. Raises ValueError on a bad prefix or path."""
        prefix = data.get("prefix")
        prefixes = tuple(prefix if isinstance(prefix, list) else [prefix] if prefix else [])
        for p in prefixes:
            ip_network(str(p), strict=False)
        path = data.get("path")
        if path is not None:
            _path_asns(str(path))
        return cls(
            host=data.get("host"),
            type=data.get("type"),
            peer=data.get("peer"),
            path=None if path is None else str(path),
            prefixes=tuple(str(p) for p in prefixes),
            more_specific=bool(data.get("moreSpecific", True)),
            less_specific=bool(data.get("lessSpecific", False)),
        )

    def matches(self, data: Mapping[str, Any]) -> bool:
        """Whether a `ris_message`'s data passes this filter."""
        if self.host is not None and data.get("host") != self.host:
            return False
        if self.type is not None and data.get("type") != self.type:
            return False
        if self.peer is not None and data.get("peer") != self.peer:
            return False
        if self.path is not None and not _path_matches(self.path, data.get("path", [])):
            return False
        if self.prefixes and data.get("type") == "UPDATE":
            seen = [p for a in data.get("announcements", []) for p in a["prefixes"]]
            seen += data.get("withdrawals", [])
            return any(self._prefix_matches(p) for p in seen)
        return True

    def _prefix_matches(self, prefix: str) -> bool:
        net = ip_network(prefix, strict=False)
        for wanted in self.prefixes:
            w = ip_network(wanted, strict=False)
            if w.version != net.version:
                continue
            if net == w:
                return True
            if self.more_specific and net.subnet_of(w):  # type: ignore[arg-type]
                return True
            if self.less_specific and w.subnet_of(net):  # type: ignore[arg-type]
                return True
        return False


def _path_asns(path: str) -> list[int]:
    return [int(a) for a in path.strip("^$").split(",") if a.strip()]


def _path_matches(pattern: str, path: list[int]) -> bool:
    wanted = _path_asns(pattern)
    n = len(wanted)
    spots = [i for i in range(len(path) - n + 1) if path[i : i + n] == wanted]
    if pattern.startswith("^"):
        spots = [i for i in spots if i == 0]
    if pattern.endswith("$"):
        spots = [i for i in spots if i + n == len(path)]
    return bool(spots)


@dataclass(eq=False)
class _Client:
    socket: web.WebSocketResponse
    queue: asyncio.Queue[dict[str, Any]] = field(default_factory=lambda: asyncio.Queue(QUEUE_LIMIT))
    subscriptions: list[Subscription] = field(default_factory=list)


class Collector:
    """Polls the collector's BIRD and fans the changes out to websocket clients."""

    def __init__(
        self,
        control: BirdControl,
        peers: Mapping[str, Peer],
        *,
        host: str,
        interval_s: float = 0.5,
        clock: Any = time.time,
    ) -> None:
        self.control = control
        self.peers = dict(peers)
        self.host = host
        self.interval_s = interval_s
        self.clock = clock
        self.table: dict[tuple[str, str], Route] = {}
        self.states: dict[str, bool] = {}
        self.clients: set[_Client] = set()
        self.read_at: float | None = None
        """When the table was last read (None: not yet)."""
        self._counter: Iterator[int] = itertools.count(1)

    async def poll_once(self) -> list[dict[str, Any]]:
        """Read BIRD's table once, publish what changed since the last read; the messages."""
        routes = parse_routes(await self.control.command("show route all"))
        states = session_states(await self.control.command("show protocols"))
        now = self.clock()
        messages: list[dict[str, Any]] = []
        for proto, peer in sorted(self.peers.items()):
            up = states.get(proto, False)
            if self.states.get(proto) != up:
                messages.append(
                    peer_state(peer, up=up, host=self.host, now=now, number=next(self._counter))
                )
        messages += updates(
            self.table, routes, self.peers, host=self.host, now=now, counter=self._counter
        )
        self.table = routes
        self.states = {proto: states.get(proto, False) for proto in self.peers}
        self.read_at = now
        self.publish(messages)
        return messages

    def snapshot(
        self, subscription: Subscription, already: Sequence[Subscription] = ()
    ) -> list[dict[str, Any]]:
        """What the last reading holds that passes `subscription` and none of `already`
        (the client's earlier ones, which brought it): a `connected` peer state per
        session up, then its routes as announcements."""
        if self.read_at is None:
            return []
        now = self.read_at
        messages = [
            peer_state(peer, up=True, host=self.host, now=now, number=next(self._counter))
            for proto, peer in sorted(self.peers.items())
            if self.states.get(proto)
        ]
        messages += updates(
            {}, self.table, self.peers, host=self.host, now=now, counter=self._counter
        )
        return [
            m
            for m in messages
            if subscription.matches(m["data"]) and not any(s.matches(m["data"]) for s in already)
        ]

    def publish(self, messages: list[dict[str, Any]]) -> None:
        """Queue each message for every client with a subscription it passes."""
        for client in list(self.clients):
            for message in messages:
                if any(s.matches(message["data"]) for s in client.subscriptions):
                    try:
                        client.queue.put_nowait(message)
                    except asyncio.QueueFull:
                        log.warning("client too slow; disconnecting it")
                        self.clients.discard(client)
                        break

    async def run(self, stop: asyncio.Event) -> None:
        """Poll every `interval_s` until `stop` is set (a failed read is logged and retried)."""
        while not stop.is_set():
            started = time.monotonic()
            try:
                await self.poll_once()
            except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
                log.warning("cannot read BIRD: %s", exc)
            left = self.interval_s - (time.monotonic() - started)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, left))

    async def handle(self, request: web.Request) -> web.WebSocketResponse:
        """One websocket client at /v1/ws/."""
        ws = web.WebSocketResponse(heartbeat=30.0)
        await ws.prepare(request)
        client = _Client(ws)
        self.clients.add(client)
        sender = asyncio.create_task(self._send(client))
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    continue
                # Replies go through the client's queue, so a subscription's table follows
                # its `ris_subscribe_ok` and comes before any later change.
                for reply in self._answer(client, msg.data):
                    try:
                        client.queue.put_nowait(reply)
                    except asyncio.QueueFull:
                        log.warning("client too slow; disconnecting it")
                        self.clients.discard(client)
                        break
        finally:
            self.clients.discard(client)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
        return ws

    def _answer(self, client: _Client, text: str) -> list[dict[str, Any]]:
        """The messages that answer one client message, in order."""
        try:
            request = json.loads(text)
            kind, data = request.get("type"), request.get("data") or {}
            if kind == "ping":
                return [{"type": "pong", "data": None}]
            if kind == "ris_subscribe":
                subscription = Subscription.from_data(data)
                table = self.snapshot(subscription, client.subscriptions)
                client.subscriptions.append(subscription)
                ok = {"type": "ris_subscribe_ok", "data": {"subscription": data,
                                                           "socketOptions": {}}}  # fmt: skip
                return [ok, *table]
            if kind == "ris_unsubscribe":
                gone = Subscription.from_data(data)
                client.subscriptions = [s for s in client.subscriptions if s != gone]
                return []
            return [{"type": "ris_error", "data": {"message": f"unknown message type {kind!r}"}}]
        except (ValueError, AttributeError, TypeError) as exc:
            return [{"type": "ris_error", "data": {"message": f"cannot read message: {exc}"}}]

    async def _send(self, client: _Client) -> None:
        while True:
            message = await client.queue.get()
            if client not in self.clients:
                await client.socket.close()
                return
            await client.socket.send_json(message)


def _peer(text: str) -> tuple[str, Peer]:
    name, _, rest = text.partition("=")
    address, _, asn = rest.partition(",")
    return name, Peer(address, int(asn))


async def serve(args: argparse.Namespace) -> None:
    """Serve the feed until SIGTERM or SIGINT."""
    collector = Collector(
        BirdControl(args.socket),
        dict(_peer(p) for p in args.peer),
        host=args.host,
        interval_s=args.interval,
    )
    app = web.Application()
    app.router.add_get("/v1/ws/", collector.handle)
    app.router.add_get("/v1/ws", collector.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    await web.TCPSite(runner, args.listen, args.port).start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await collector.run(stop)
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="RIS Live-compatible feed of a BIRD collector")
    parser.add_argument("--socket", required=True, help="the collector BIRD's control socket")
    parser.add_argument("--listen", required=True)
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--host", default="collector", help="the collector's name (`host`)")
    parser.add_argument(
        "--peer", action="append", default=[], help="SESSION=ADDRESS,ASN: a session and its peer"
    )
    parser.add_argument("--interval", type=float, default=0.5)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    asyncio.run(serve(args))


if __name__ == "__main__":
    main()

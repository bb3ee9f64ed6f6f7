"""A RIS Live websocket client: subscribe, read route changes, reconnect when cut off.

    client = RisLiveClient(url, subscriptions(networks), on_item, state)
    await client.run(stop)    # until `stop` is set; never raises for a network failure
    client.watch(subscriptions(new_networks))   # a reload: on the open connection

It connects (aiohttp's websocket client, `?client=<name>` added to the URL as RIS Live
asks), sends the `ris_subscribe` messages, hands each element and peer state to
`on_item`, and when the connection fails or the server closes it, marks the feed down
and tries again after a bounded, jittered exponential delay (`Backoff`). The delay
starts over once a connection has delivered a route message.

`watch` changes the subscriptions while the client runs (a config reload): on an open
connection it sends `ris_unsubscribe` for each subscription no longer wanted and
`ris_subscribe` for each new one, without reconnecting; the next connection subscribes
to the new set.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
import orjson
from yarl import URL

from netvigil.bgp.feed_state import FeedState
from netvigil.bgp.model import BgpItem
from netvigil.bgp.ris_messages import decode_ris_message

__all__ = ["DEFAULT_RIS_LIVE_URL", "Backoff", "RisLiveClient"]

DEFAULT_RIS_LIVE_URL = "wss://ris-live.ripe.net/v1/ws/"

log = logging.getLogger("netvigil.bgp")


@dataclass(frozen=True, slots=True)
class Backoff:
    """How long to wait before reconnect attempt `n` (0 first): `initial_s * 2**n`, at most
    `max_s`, less a random share of up to `jitter` of it (so clients cut off together do
    not come back together)."""

    initial_s: float = 1.0
    max_s: float = 60.0
    jitter: float = 0.5

    def delay(self, attempt: int, rng: Callable[[], float] = random.random) -> float:
        """The wait before attempt `attempt`, in seconds."""
        base = min(self.max_s, self.initial_s * 2.0 ** min(attempt, 30))
        return base * (1.0 - self.jitter * rng())


class RisLiveClient:
    """One RIS Live connection that keeps itself up until stopped.

    `on_item` gets every element and peer state (of `collectors` only, when given); it
    must not block. `state` is told when the feed connects, goes down and hears a
    message. `heartbeat_s`: websocket pings that detect a dead connection.
    """

    def __init__(
        self,
        url: str,
        subscribe: Sequence[dict[str, Any]],
        on_item: Callable[[BgpItem], None],
        state: FeedState,
        *,
        client_name: str = "netvigil",
        collectors: Sequence[str] = (),
        backoff: Backoff | None = None,
        rng: Callable[[], float] = random.random,
        heartbeat_s: float = 30.0,
        connect_timeout_s: float = 10.0,
    ) -> None:
        target = URL(url)
        if "client" not in target.query:
            target = target.update_query(client=client_name)
        self.url = str(target)
        self.subscribe = list(subscribe)
        self.on_item = on_item
        self.state = state
        self.collectors = frozenset(collectors)
        self.backoff = backoff or Backoff()
        self.rng = rng
        self.heartbeat_s = heartbeat_s
        self.connect_timeout_s = connect_timeout_s
        self._sent: list[dict[str, Any]] = []
        """The subscriptions the open connection has (none while there is none)."""
        self._changed = asyncio.Event()
        self.messages = 0
        """Server messages read, of every type."""
        self.malformed = 0
        """Messages that were not RIS Live JSON (skipped)."""

    def watch(self, subscribe: Sequence[dict[str, Any]]) -> None:
        """Subscribe to `subscribe` from now on, in place of the subscriptions before:
        an open connection is told the difference at once, without reconnecting."""
        self.subscribe = list(subscribe)
        self._changed.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Connect, read and reconnect until `stop` is set."""
        attempt = 0
        async with aiohttp.ClientSession() as session:
            while not stop.is_set():
                delivered = False
                try:
                    delivered = await self._connection(session, stop)
                    error = "the server closed the connection"
                except (aiohttp.ClientError, TimeoutError, OSError) as exc:
                    error = _describe(exc)
                if stop.is_set():
                    break
                self.state.down(error)
                attempt = 0 if delivered else attempt + 1
                delay = self.backoff.delay(max(0, attempt - 1), self.rng)
                log.warning("RIS Live %s: %s; again in %.1f s", self.url, error, delay)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)

    async def _connection(self, session: aiohttp.ClientSession, stop: asyncio.Event) -> bool:
        """One connection, read to its end; whether it delivered any route message."""
        timeout = aiohttp.ClientWSTimeout(ws_close=self.connect_timeout_s)
        async with session.ws_connect(
            self.url,
            heartbeat=self.heartbeat_s,
            timeout=timeout,
            autoping=True,
        ) as ws:
            self._sent = list(self.subscribe)
            for message in self._sent:
                await ws.send_str(_dumps(message))
            follower = asyncio.create_task(self._follow(ws))
            self.state.up()
            closer = asyncio.create_task(_close_when(stop, ws))
            try:
                return await self._read(ws)
            finally:
                closer.cancel()
                follower.cancel()
                self._sent = []

    async def _follow(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        """Keep the connection's subscriptions those wanted (`watch`) while it is open; a
        send that fails closes the connection (the client then connects again)."""
        while True:
            await self._changed.wait()
            self._changed.clear()
            wanted = list(self.subscribe)
            gone, new = _missing(self._sent, wanted), _missing(wanted, self._sent)
            if not gone and not new:
                continue
            try:
                for message in gone:
                    await ws.send_str(_dumps({**message, "type": "ris_unsubscribe"}))
                for message in new:
                    await ws.send_str(_dumps(message))
            except (aiohttp.ClientError, OSError) as exc:
                log.warning("RIS Live %s: could not change the subscriptions: %s", self.url,
                            _describe(exc))  # fmt: skip
                await ws.close()
                return
            self._sent = wanted
            log.info("RIS Live %s: %d subscriptions ended, %d new", self.url, len(gone), len(new))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> bool:
        delivered = False
        async for frame in ws:
            if frame.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                break  # an error or close frame ends the connection
            self.messages += 1
            self.state.heard()
            try:
                message = decode_ris_message(frame.data)
            except ValueError as exc:
                self.malformed += 1
                log.debug("RIS Live: skipped a message: %s", exc)
                continue
            if message.error:
                log.warning("RIS Live says: %s", message.error)
            for item in message.items:
                if not self.collectors or item.collector in self.collectors:
                    self.on_item(item)
            delivered = delivered or message.type == "ris_message"
        if ws.exception() is not None:
            raise aiohttp.ClientError(_describe(ws.exception()))
        return delivered


async def _close_when(stop: asyncio.Event, ws: aiohttp.ClientWebSocketResponse) -> None:
    await stop.wait()
    await ws.close()


def _missing(
    these: Sequence[dict[str, Any]], there: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The messages of `these` whose filter is in none of `there`, in order."""
    known = {_key(m) for m in there}
    return [m for m in these if _key(m) not in known]


def _key(message: dict[str, Any]) -> bytes:
    return orjson.dumps(message.get("data"), option=orjson.OPT_SORT_KEYS)


def _dumps(message: dict[str, Any]) -> str:
    return orjson.dumps(message).decode()


def _describe(exc: BaseException | None) -> str:
    """An error in one line: its type when it has no text."""
    if exc is None:
        return "unknown error"
    text = str(exc).strip()
    return text or type(exc).__name__

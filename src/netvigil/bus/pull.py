"""Batches of a durable pull consumer, fetched through one inbox subscription.

    puller = await BatchPuller.open(nc, stream="NETVIGIL_MEASUREMENTS", durable="collector")
    msgs = await puller.fetch(5000, wait_s=1.0)   # [] when nothing came within wait_s
    ... ack each message once its work is durable ...
    await puller.close()

It asks what nats-py's `PullSubscription.fetch` asks (one JetStream pull request that
waits until the batch is full or the wait is over), at a fraction of the cost per
message: nats-py's fetch waits for every message of a batch in a task of its
own with a timer (about 15 µs of CPU per message), where this keeps the messages a
subscription callback hands over in a list and wakes the fetch once per burst of
arrivals.

Each pull request has a reply subject of its own (`<inbox>.<n>`). The server delivers
a request's messages under their own subjects, and ends a request it could not fill
with a status message on the request's subject: `404` (nothing more now), `408` (its
time ran out) or `409` (the consumer refused it: the fetch then waits out its wait, so
that a refusal repeated at once is not asked again in a busy loop). A fetch returns
once its request is answered: the batch full, or the server's word that nothing more
comes for it. So a fetch leaves no request waiting on the server, and nothing is
delivered to this process between fetches; a message that arrives late all the same
(its request's answer lost in a reconnection) is kept for the next fetch, never
dropped. A status of an earlier request is ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

__all__ = ["BatchPuller", "PullRefused"]

_STATUS = "Status"
_DESCRIPTION = "Description"
_HEARTBEAT = "100"
_DONE = frozenset({"404", "408", "409"})
"""Statuses ending a pull request: no messages, request timeout, conflict."""
_ANSWER_GRACE_S = 1.0
"""How long past a waiting request's expiry the fetch waits for the server's answer."""


class PullRefused(nats.errors.Error):
    """The server refused a pull request (no JetStream, a bad request, ...)."""


class BatchPuller:
    """Fetches batches of the durable consumer `durable` on `stream`; see the module docs.

    Messages are acked, kept alive and read as nats-py's `Msg` (with its JetStream
    `metadata`). Not safe for two fetches at once.
    """

    def __init__(self, nc: Client, *, stream: str, durable: str) -> None:
        self.nc = nc
        self.stream = stream
        self.durable = durable
        self._request_subject = f"$JS.API.CONSUMER.MSG.NEXT.{stream}.{durable}"
        self._inbox = nc.new_inbox()
        self._arrived: deque[Msg] = deque()
        self._woken = asyncio.Event()
        self._requests = 0
        self._sub: Subscription | None = None

    @classmethod
    async def open(cls, nc: Client, *, stream: str, durable: str) -> BatchPuller:
        """Subscribe to the puller's inbox (`<inbox prefix>.<random>.*`)."""
        puller = cls(nc, stream=stream, durable=durable)
        puller._sub = await nc.subscribe(f"{puller._inbox}.*", cb=puller._arrive)
        return puller

    async def close(self) -> None:
        """Unsubscribe; messages delivered and not fetched are left unacked."""
        if self._sub is not None:
            sub, self._sub = self._sub, None
            with contextlib.suppress(nats.errors.Error):
                await sub.unsubscribe()

    async def _arrive(self, msg: Msg) -> None:
        self._arrived.append(msg)
        self._woken.set()

    async def fetch(self, batch: int, *, wait_s: float) -> list[Msg]:
        """Up to `batch` messages: the batch once it is full, or what came within
        `wait_s` (a message that arrived after an earlier fetch had returned is taken
        first, and then only what the server has at once is added to it).

        Raises PullRefused when the server refuses the request, and nats errors when
        the request cannot be sent (the connection closed).
        """
        if batch < 1 or wait_s <= 0:
            raise ValueError("batch must be at least 1 and wait_s positive")
        msgs = self._leftovers(batch)
        if msgs and len(msgs) < batch:
            await self._pull(msgs, batch, {"no_wait": True}, wait_s)
        elif not msgs:
            started = asyncio.get_running_loop().time()
            expires = max(int(wait_s * 1e9) - 100_000, 1_000_000)
            status = await self._pull(msgs, batch, {"expires": expires}, wait_s + _ANSWER_GRACE_S)
            if not msgs and status in ("404", "409"):  # refused at once: no busy loop
                left = started + wait_s - asyncio.get_running_loop().time()
                await asyncio.sleep(max(left, 0.0))
        return msgs

    def _leftovers(self, batch: int) -> list[Msg]:
        """Messages that arrived after their fetch had returned (statuses dropped)."""
        msgs: list[Msg] = []
        while self._arrived and len(msgs) < batch:
            msg = self._arrived.popleft()
            if not (msg.headers and _STATUS in msg.headers):
                msgs.append(msg)
        return msgs

    async def _pull(
        self, msgs: list[Msg], batch: int, options: dict[str, object], answer_s: float
    ) -> str | None:
        """Send one pull request for what `msgs` lacks of `batch` and add its messages
        to `msgs`, until it is filled or the server ends it (returned: the status), or
        `answer_s` passed without an answer (None)."""
        self._requests += 1
        reply = f"{self._inbox}.{self._requests}"
        request = json.dumps({"batch": batch - len(msgs), **options}).encode()
        self._woken.clear()
        await self.nc.publish(self._request_subject, request, reply=reply)
        deadline = asyncio.get_running_loop().time() + answer_s
        arrived = self._arrived
        while True:
            while arrived:
                msg = arrived.popleft()
                headers = msg.headers
                status = headers.get(_STATUS) if headers else None
                if status is None:
                    msgs.append(msg)
                    if len(msgs) >= batch:
                        return None
                elif status == _HEARTBEAT or msg.subject != reply:
                    continue  # a heartbeat, or the end of an earlier request
                elif status in _DONE:
                    return status
                else:
                    description = headers.get(_DESCRIPTION, "") if headers else ""
                    raise PullRefused(f"pull request refused: {status} {description}".strip())
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return None
            self._woken.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(left):
                    await self._woken.wait()

"""A batch published to JetStream, waiting for the stream's acknowledgement of each message.

    acks = await BatchAcks.open(nc)                       # once per connection
    new, duplicates = await acks.publish([(subject, data, msg_id), ...], timeout_s=5.0)

The messages of a batch are written one after another (the stream keeps their order),
each with its id as `Nats-Msg-Id` and the reply subject `<inbox>.<batch number>`; the
stream answers each one there (its PubAck: stored, stored before as a duplicate, or an
error). `publish` returns once every message of the batch is answered.

It does what nats-py's `publish_async` and a gather of its futures do, at a fraction of
the cost per message: no reply subject, future, timer or PubAck object of its own per
message; one subscription counts the answers of the batch under way. An answer to an
earlier batch (one that timed out) is ignored.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

import nats.errors
import orjson
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription

from netvigil.bus.subjects import MSG_ID_HEADER

__all__ = ["BatchAcks", "StreamRefused"]

_NO_RESPONDERS = "503"


class StreamRefused(nats.errors.Error):
    """The stream refused a message of the batch (its error), or no stream took it."""


class BatchAcks:
    """Publishes batches and counts the stream's answers; see the module docs. One batch
    at a time."""

    def __init__(self, nc: Client) -> None:
        self.nc = nc
        self._inbox = nc.new_inbox()
        self._batches = 0
        self._reply = ""
        self._expected = 0
        self._answered = 0
        self._duplicates = 0
        self._error: str | None = None
        self._done = asyncio.Event()
        self._sub: Subscription | None = None

    @classmethod
    async def open(cls, nc: Client) -> BatchAcks:
        """Subscribe to the answers (`<inbox prefix>.<random>.*`)."""
        acks = cls(nc)
        acks._sub = await nc.subscribe(f"{acks._inbox}.*", cb=acks._answer)
        return acks

    async def close(self) -> None:
        if self._sub is not None:
            sub, self._sub = self._sub, None
            with contextlib.suppress(nats.errors.Error):
                await sub.unsubscribe()

    async def publish(
        self, messages: Sequence[tuple[str, bytes, str]], *, timeout_s: float
    ) -> tuple[int, int]:
        """Publish `messages` (subject, body, id), in order; once the stream answered
        every one, how many it stored (new) and how many it had already (duplicates).

        Raises StreamRefused (an error answer, or no stream for a subject), TimeoutError
        (not every answer came within `timeout_s`) and nats errors (not sent).
        """
        self._batches += 1
        reply = self._reply = f"{self._inbox}.{self._batches}"
        self._expected = len(messages)
        self._answered = self._duplicates = 0
        self._error = None
        self._done.clear()
        if not messages:
            return 0, 0
        publish = self.nc.publish
        async with asyncio.timeout(timeout_s):
            for subject, data, msg_id in messages:
                await publish(subject, data, reply=reply, headers={MSG_ID_HEADER: msg_id})
            await self._done.wait()
        if self._error is not None:
            raise StreamRefused(self._error)
        return self._answered - self._duplicates, self._duplicates

    async def _answer(self, msg: Msg) -> None:
        if msg.subject != self._reply or self._done.is_set():
            return  # an answer to an earlier batch
        headers = msg.headers
        if headers and headers.get("Status") == _NO_RESPONDERS:
            self._fail("no stream took the message (no responders)")
            return
        try:
            answer = orjson.loads(msg.data)
        except orjson.JSONDecodeError:
            self._fail(f"not a PubAck: {msg.data[:200]!r}")
            return
        error = answer.get("error") if isinstance(answer, dict) else "not an object"
        if error is not None:
            described = error.get("description", error) if isinstance(error, dict) else error
            self._fail(f"the stream refused a message: {described}")
            return
        self._answered += 1
        if answer.get("duplicate"):
            self._duplicates += 1
        if self._answered >= self._expected:
            self._done.set()

    def _fail(self, error: str) -> None:
        self._error = error
        self._done.set()

"""Reading part of the measurements stream again: some subjects, between two points.

    first = await sequence_at(js, "NETVIGIL_MEASUREMENTS", time.time() - 60)
    replay = StreamReplay(js, "NETVIGIL_MEASUREMENTS", ["netvigil.measurements._s0417.>"],
                          max_payload_bytes=1_048_576)
    async for batch in replay.read(first, last_seq):   # [(stream seq, Measurement), ...]
        ...

A replay reads with an ephemeral consumer of its own (no acks, kept in memory, dropped
by the server once the replay is done or idle for a minute), so it moves nobody's
position: a detector uses it to read the shards it gained from where their previous
owner left off before its own durable consumer takes them on (`netvigil.cluster.handover`).
Messages that are not measurements are skipped and counted (`rejected`): setting them
aside is the collector's work.

`sequence_at` turns a time into a stream sequence. A consumer that filters on several
subjects and starts at a time misses the first message it should deliver (nats-server
2.10 to 2.12 at least), so replays start at a sequence, found by a one-message
unfiltered consumer started at that time.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import nats.errors
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from netvigil.bus.connection import BusUnavailable
from netvigil.bus.consumer import Rejection, decode_message
from netvigil.model import Measurement

__all__ = ["StreamReplay", "sequence_at"]

_INACTIVE_S = 60.0
"""The server drops a replay consumer nobody has read from for this long."""

_NATS_ERRORS = (nats.errors.Error, OSError, TimeoutError)


def _consumer_name() -> str:
    return f"netvigil-replay-{os.urandom(6).hex()}"


async def sequence_at(js: JetStreamContext, stream: str, ts: float) -> int | None:
    """The sequence of the first message of `stream` published at or after `ts` (epoch
    s), or None when there is none. Raises BusUnavailable."""
    name = _consumer_name()
    config = ConsumerConfig(
        name=name,
        deliver_policy=DeliverPolicy.BY_START_TIME,
        opt_start_time=datetime.fromtimestamp(ts, UTC),
        ack_policy=AckPolicy.NONE,
        inactive_threshold=_INACTIVE_S,
        mem_storage=True,
    )
    try:
        await js.add_consumer(stream, config)
        sub = await js.pull_subscribe_bind(name, stream=stream)
        try:
            msgs = await sub.fetch(1, timeout=0.5)
        except TimeoutError:
            msgs = []
        finally:
            await _drop(js, stream, name, sub)
    except _NATS_ERRORS as exc:
        raise BusUnavailable(f"finding {stream} at {ts:.3f}: {exc!r}") from exc
    return msgs[0].metadata.sequence.stream if msgs else None


async def _drop(
    js: JetStreamContext, stream: str, name: str, sub: JetStreamContext.PullSubscription
) -> None:
    """Unsubscribe and delete the consumer (it would go by itself once idle)."""
    try:
        await sub.unsubscribe()
        await js.delete_consumer(stream, name)
    except _NATS_ERRORS:
        pass


class StreamReplay:
    """Reads the measurements of `filters` between two stream sequences (see the module
    docs); `read` counts what it yields in `measurements` and skips `rejected` ones."""

    def __init__(
        self,
        js: JetStreamContext,
        stream: str,
        filters: Sequence[str],
        *,
        max_payload_bytes: int,
        batch_size: int = 500,
        fetch_wait_s: float = 0.5,
    ) -> None:
        if not filters:
            raise ValueError("a replay needs at least one subject filter")
        self.js = js
        self.stream = stream
        self.filters = list(filters)
        self.max_payload_bytes = max_payload_bytes
        self.batch_size = batch_size
        self.fetch_wait_s = fetch_wait_s
        self.measurements = 0
        self.rejected = 0

    async def read(
        self, first_seq: int, last_seq: int
    ) -> AsyncIterator[list[tuple[int, Measurement]]]:
        """Batches of (stream sequence, measurement) of the messages from `first_seq` to
        `last_seq` (both included) on the filters, in stream order. Ends early when the
        subjects hold nothing more. Raises BusUnavailable."""
        if first_seq > last_seq:
            return
        name = _consumer_name()
        config = ConsumerConfig(
            name=name,
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
            opt_start_seq=max(1, first_seq),
            ack_policy=AckPolicy.NONE,
            filter_subjects=self.filters,
            inactive_threshold=_INACTIVE_S,
            mem_storage=True,
        )
        try:
            await self.js.add_consumer(self.stream, config)
            sub = await self.js.pull_subscribe_bind(name, stream=self.stream)
        except _NATS_ERRORS as exc:
            raise BusUnavailable(f"replaying {self.stream}: {exc!r}") from exc
        try:
            idle = 0
            while True:
                try:
                    msgs = await sub.fetch(self.batch_size, timeout=self.fetch_wait_s)
                except TimeoutError:
                    idle += 1
                    if await self._exhausted(sub, idle):
                        return
                    continue
                except _NATS_ERRORS as exc:
                    raise BusUnavailable(f"replaying {self.stream}: {exc!r}") from exc
                idle = 0
                batch: list[tuple[int, Measurement]] = []
                for msg in msgs:
                    seq = msg.metadata.sequence.stream
                    if seq > last_seq:
                        break
                    decoded = decode_message(
                        msg.subject, msg.data, max_payload_bytes=self.max_payload_bytes
                    )
                    if isinstance(decoded, Rejection):
                        self.rejected += 1
                    else:
                        batch.append((seq, decoded))
                self.measurements += len(batch)
                yield batch
                newest = msgs[-1].metadata
                if newest.sequence.stream >= last_seq or newest.num_pending == 0:
                    return
        finally:
            await _drop(self.js, self.stream, name, sub)

    async def _exhausted(self, sub: JetStreamContext.PullSubscription, idle: int) -> bool:
        """After a fetch that brought nothing: whether the subjects hold nothing more
        (rather than the server being slow). Raises BusUnavailable after 10 such fetches
        with messages still pending."""
        try:
            info = await sub.consumer_info()
        except _NATS_ERRORS as exc:
            raise BusUnavailable(f"replaying {self.stream}: {exc!r}") from exc
        if info.num_pending == 0:
            return True
        if idle >= 10:
            raise BusUnavailable(f"replaying {self.stream}: {info.num_pending} pending, none came")
        return False

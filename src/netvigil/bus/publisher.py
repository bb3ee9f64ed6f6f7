"""The publisher: an agent's measurements onto the bus, spooled while NATS is away.

    publisher = MeasurementPublisher(config.bus, "tirana-1", spool, TargetShards(config))
    monitor = Monitor(..., sinks=[publisher], ...)       # submit(m): never blocks
    await publisher.run(stop)

Each measurement is published on `netvigil.measurements.<shard>.<vantage>` (the shard of
its target's incident group: `netvigil.bus.shards`) with its id as `Nats-Msg-Id`, so
the stream drops a re-send it already has (within its duplicate window; the store skips
known ids after that). A batch counts as delivered only once the stream acknowledged
every message in it (the PubAck).

While NATS answers, measurements go from memory straight to the stream. When a publish
fails or the connection is down, the batch in hand and everything after it go to the
local spool (a SQLite file, `agent.spool.Spool`), and new measurements follow them
there until the spool has been drained to the stream, oldest first: the order in which
measurements were submitted is the order in which they are published. More than
`max_buffer` measurements waiting in memory (NATS answering too slowly) move to the
spool the same way; a batch in flight then that fails after all is spooled behind them,
the one case where a few measurements reach the stream out of order. Stopping, the
publisher tries for `drain_timeout_s` to deliver what it holds; the rest stays in the
spool for the next start. A crash loses at most the measurements in memory (those
submitted while NATS answered and not yet acknowledged: normally one batch).

Retries wait an exponential backoff (`backoff_initial_s` doubling to `backoff_max_s`,
jittered to between half and all of it), reset by a success.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Protocol

import nats.errors
import orjson
from nats.aio.client import Client
from prometheus_client.registry import CollectorRegistry

from netvigil.bus.connection import BusUnavailable, ConnectionEvents, agent_inbox, connect
from netvigil.bus.figures import PublisherStats, track_publisher
from netvigil.bus.pubacks import BatchAcks
from netvigil.bus.shards import CONTROL_SHARD, TargetShards
from netvigil.bus.subjects import measurement_subject
from netvigil.config.model import BusConfig
from netvigil.model import Measurement

__all__ = ["MeasurementPublisher", "MeasurementSpool", "encode_measurement"]

log = logging.getLogger(__name__)


class MeasurementSpool(Protocol):
    """Where measurements wait while NATS is away (`agent.spool.Spool` is one)."""

    @property
    def depth(self) -> int: ...

    def submit(self, m: Measurement) -> None: ...

    async def peek(self, n: int) -> list[Measurement]: ...

    async def ack(self, ids: Sequence[str]) -> int: ...

    async def flush(self) -> None: ...


Connector = Callable[[BusConfig, ConnectionEvents], Awaitable[Client]]

_ORJSON_OPTIONS = (
    orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_DATETIME
)
"""As the standard encoder: keys made text, dataclasses and datetimes through `default`."""


def encode_measurement(m: Measurement) -> bytes:
    """A measurement as the bus carries it: its JSON object, compact.

    orjson writes it; orjson writes NaN and infinities as null (and refuses integers
    beyond 64 bits), so a body holding any null but those of an absent phase and address
    is written again by the standard encoder, which keeps them as NaN and Infinity.
    """
    obj = m.to_json()
    try:
        out = orjson.dumps(obj, default=str, option=_ORJSON_OPTIONS)
    except TypeError:
        return _standard_json(obj)
    if out.count(b"null") != (m.phase is None) + (m.address is None):
        return _standard_json(obj)
    return out


def _standard_json(obj: dict[str, Any]) -> bytes:
    return json.dumps(obj, separators=(",", ":"), default=str).encode()


class MeasurementPublisher:
    """Publishes measurements to JetStream, spooling while it cannot; see the module docs.

    A batch is what waits in memory (or the spool), at most `batch_size`: one batch is
    published at a time, so `batch_size` over the time the stream takes to answer is
    the most one publisher can send (1,000 in 50 ms: 20,000/s).
    """

    def __init__(
        self,
        config: BusConfig,
        vantage: str,
        spool: MeasurementSpool,
        shards: TargetShards,
        *,
        batch_size: int = 1000,
        max_buffer: int = 10_000,
        poll_s: float = 1.0,
        backoff_initial_s: float = 0.2,
        backoff_max_s: float = 5.0,
        registry: CollectorRegistry | None = None,
        rng: random.Random | None = None,
        connector: Connector | None = None,
    ) -> None:
        if batch_size < 1 or max_buffer < 1:
            raise ValueError("batch_size and max_buffer must be at least 1")
        self.config = config
        self.vantage = vantage
        measurement_subject(vantage, CONTROL_SHARD)  # a name that cannot be a subject: now
        self.shards = shards
        self._subjects: dict[str, str] = {}
        """The subject of each target seen, by target."""
        self.spool = spool
        self.batch_size = batch_size
        self.max_buffer = max_buffer
        self.poll_s = poll_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.stats = PublisherStats()
        self.events = ConnectionEvents()
        self._buffer: deque[Measurement] = deque()
        self._in_flight = 0
        """Measurements taken from memory and being published now."""
        self._spooling = spool.depth > 0
        self._wake = asyncio.Event()
        self._nc: Client | None = None
        self._acks: BatchAcks | None = None
        """One per connection: it holds the subscription PubAcks arrive on."""
        self._attempt = 0
        self._rng = rng if rng is not None else random.Random()
        self._connector = connector if connector is not None else self._connect
        if registry is not None:
            track_publisher(registry, self.stats, lambda: float(spool.depth))

    @property
    def waiting(self) -> int:
        """Measurements not yet acknowledged by the stream (in memory, being published,
        and in the spool)."""
        return len(self._buffer) + self._in_flight + self.spool.depth

    def submit(self, m: Measurement) -> None:
        """Take one measurement (the Monitor's sink); never blocks."""
        if self._spooling:
            self.spool.submit(m)
            self.stats.spooled += 1
        elif len(self._buffer) >= self.max_buffer:  # NATS is slow: memory to the spool first
            self._spill([])
            self.spool.submit(m)
            self.stats.spooled += 1
        else:
            self._buffer.append(m)
        self._wake.set()

    def backoff_s(self, attempt: int) -> float:
        """How long to wait after `attempt` consecutive failures (1 = the first)."""
        nominal = min(self.backoff_max_s, self.backoff_initial_s * 2.0 ** max(attempt - 1, 0))
        return nominal * (0.5 + 0.5 * self._rng.random())

    async def run(self, stop: asyncio.Event, *, drain_timeout_s: float = 5.0) -> None:
        """Publish until `stop` is set, then for up to `drain_timeout_s` what is left."""
        try:
            await self._loop(stop)
            if drain_timeout_s > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._drain(), drain_timeout_s)
        finally:
            if self._buffer:
                self._spill([])
            await self.spool.flush()
            if self._nc is not None:
                with contextlib.suppress(Exception):
                    await self._nc.close()
                self._nc = self._acks = None

    async def _loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self._publish_once()
            except BusUnavailable as exc:
                self._attempt += 1
                self.stats.failures += 1
                self.stats.last_error = self.events.last_error or str(exc)
                delay = self.backoff_s(self._attempt)
                log.warning(
                    "publishing to %s failed (%s); %d waiting, retrying in %.1f s",
                    self.config.url,
                    exc,
                    self.waiting,
                    delay,
                )
                await _wait(stop, delay)
                continue
            if not self._buffer and not self._spooling:
                self._wake.clear()
                await _wait_either(stop, self._wake, self.poll_s)

    async def _drain(self) -> None:
        with contextlib.suppress(BusUnavailable):
            while self._buffer or self._spooling:
                await self._publish_once()

    async def _publish_once(self) -> int:
        """Publish one batch (from the spool while it holds any); returns its size.

        Raises BusUnavailable when it could not: the batch is then in the spool.
        """
        if self._nc is None:
            try:
                await self._open()
            except BusUnavailable:
                self._spill([])
                raise
        if self._spooling:
            batch = await self.spool.peek(self.batch_size)
            if not batch:
                if self.spool.depth == 0:
                    self._spooling = False  # drained: memory again, and in order
                else:
                    await self.spool.flush()
                return 0
            await self._publish(batch)
            await self.spool.ack([m.id for m in batch])
            return len(batch)
        batch = [self._buffer.popleft() for _ in range(min(self.batch_size, len(self._buffer)))]
        if not batch:
            return 0
        self._in_flight = len(batch)
        try:
            await self._publish(batch)
        except BaseException:  # unavailable, or cancelled: the batch is kept, not lost
            self._spill(batch)
            raise
        finally:
            self._in_flight = 0
        return len(batch)

    async def _publish(self, batch: Sequence[Measurement]) -> None:
        nc, acks = self._nc, self._acks
        assert nc is not None and acks is not None
        if not nc.is_connected:
            raise BusUnavailable(f"{self.config.url}: not connected")
        messages = [(self._subject_of(m.target), encode_measurement(m), m.id) for m in batch]
        try:
            new, duplicates = await acks.publish(messages, timeout_s=self.config.publish_timeout_s)
        except (nats.errors.Error, TimeoutError, OSError) as exc:
            reason = self.events.last_error if isinstance(exc, TimeoutError) else None
            text = reason or f"{type(exc).__name__}: {exc}".rstrip(": ")
            raise BusUnavailable(text) from exc
        self.stats.duplicates += duplicates
        self.stats.published += new
        self._attempt = 0
        self.events.last_error = None

    def _subject_of(self, target: str) -> str:
        subject = self._subjects.get(target)
        if subject is None:
            subject = measurement_subject(self.vantage, self.shards.token(target))
            self._subjects[target] = subject
        return subject

    def _spill(self, batch: list[Measurement]) -> None:
        """Move `batch` (taken from memory earlier), then everything still in memory, to
        the spool, in that order."""
        moved = [*batch, *self._buffer]
        self._buffer.clear()
        for m in moved:
            self.spool.submit(m)
        self.stats.spooled += len(moved)
        if moved or self.spool.depth:
            self._spooling = True

    async def _open(self) -> None:
        """Connect, and subscribe to the stream's answers. Raises BusUnavailable."""
        nc = await self._connector(self.config, self.events)
        try:
            self._acks = await BatchAcks.open(nc)
        except (nats.errors.Error, OSError) as exc:
            with contextlib.suppress(Exception):
                await nc.close()
            raise BusUnavailable(f"{type(exc).__name__}: {exc}") from exc
        self._nc = nc

    async def _connect(self, config: BusConfig, events: ConnectionEvents) -> Client:
        return await connect(
            config,
            name=f"netvigil agent {self.vantage}",
            inbox_prefix=agent_inbox(self.vantage),
            events=events,
        )


async def _wait(stop: asyncio.Event, delay: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), delay)


async def _wait_either(stop: asyncio.Event, wake: asyncio.Event, wait_s: float) -> None:
    """Return when `stop` or `wake` is set, or after `wait_s` seconds."""
    waiters = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wake.wait())]
    try:
        await asyncio.wait(waiters, timeout=wait_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()

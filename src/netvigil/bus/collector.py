"""The collector: from the measurements stream into the store, acked once durable.

    collector = Collector(consumer, store)
    await collector.run(stop)

Each round fetches a batch (bad messages are set aside by the consumer), writes it with
one `Store.add` and acks it only after that returned. The next batch is fetched and
decoded while the previous ones are written: up to `max_in_flight` batches are in the
store's hands at once (the store writes what has queued up in one transaction), so the
bus, the decoding and the database work side by side. When the store fails (StoreError:
the database is away, the disk full), the batch is held, unacked, and the write retried
with a backoff (`backoff_initial_s` doubling to `backoff_max_s`); meanwhile the server
is told the batch is still in progress, so it is not handed to another collector. The
stream keeps everything behind it. A collector killed at any point loses nothing: what
it had not acked is delivered again, and `Store.add` skips the ids it already stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import Sequence

from netvigil.bus.connection import BusUnavailable
from netvigil.bus.consumer import Delivery, MeasurementConsumer
from netvigil.bus.figures import CollectorStats
from netvigil.errors import StoreError
from netvigil.store.base import Store

__all__ = ["Collector", "relax_gc"]

log = logging.getLogger(__name__)


def relax_gc(young_threshold: int = 50_000) -> None:
    """Make CPython's cyclic garbage collector cheap for a process holding large batches
    (a collector holds up to three of thousands of messages, each several objects):
    everything made so far is frozen (never examined again) and the youngest generation
    is collected every `young_threshold` allocations instead of 700. With Python's
    defaults a collector process spent about a fifth of its CPU collecting garbage.
    Call it once, from the process's command, after start-up."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(young_threshold, middle, oldest)


class Collector:
    """Moves measurements from a MeasurementConsumer to a Store; see the module docs."""

    def __init__(
        self,
        consumer: MeasurementConsumer,
        store: Store,
        *,
        backoff_initial_s: float = 0.2,
        backoff_max_s: float = 5.0,
        keep_alive_s: float = 10.0,
        max_in_flight: int = 2,
    ) -> None:
        """`keep_alive_s`: how often a held batch is said to be in progress; keep it
        well under the consumer's ack wait (the command uses half of it).
        `max_in_flight`: batches given to the store and not yet acked, at most."""
        if max_in_flight < 1:
            raise ValueError("max_in_flight must be at least 1")
        self.max_in_flight = max_in_flight
        self._held = False
        self.consumer = consumer
        self.store = store
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.keep_alive_s = keep_alive_s

    @property
    def stats(self) -> CollectorStats:
        return self.consumer.stats

    async def run(self, stop: asyncio.Event) -> None:
        """Collect until `stop` is set (the batches being written are finished and acked).
        Cancelled, it cancels the writes under way: their batches stay unacked."""
        failures = 0
        writing: list[asyncio.Task[None]] = []
        try:
            while not stop.is_set():
                try:
                    while writing and (
                        writing[0].done() or len(writing) >= self.max_in_flight or self._held
                    ):
                        await writing.pop(0)
                    batch = await self.consumer.fetch()
                    if batch:
                        writing.append(asyncio.create_task(self._store(batch, stop)))
                    failures = 0
                except BusUnavailable as exc:
                    failures += 1
                    delay = self._backoff_s(failures)
                    log.warning("collector: NATS unavailable (%s); again in %.1f s", exc, delay)
                    await _wait(stop, delay)
        except BaseException:
            for task in writing:
                task.cancel()
            await asyncio.gather(*writing, return_exceptions=True)
            raise
        for task in writing:
            with contextlib.suppress(BusUnavailable):
                await task

    async def _store(self, batch: Sequence[Delivery], stop: asyncio.Event) -> None:
        """Write `batch` (retrying while the store fails) and ack it. Returns unacked
        only when `stop` is set before the store took it."""
        measurements = [d.measurement for d in batch]
        attempt = 0
        while True:
            try:
                new = await self.store.add(measurements)
                self._held = False
                break
            except StoreError as exc:
                self._held = True  # fetch no more until the store takes what is in hand
                attempt += 1
                self.stats.store_failures += 1
                delay = self._backoff_s(attempt)
                log.error(
                    "collector: storing %d measurement(s) failed (%s); held unacked, "
                    "again in %.1f s",
                    len(batch),
                    exc,
                    delay,
                )
                if stop.is_set():
                    return
                await self._hold(batch, stop, delay)
        await self.consumer.ack(batch)
        self.stats.stored += new

    async def _hold(self, batch: Sequence[Delivery], stop: asyncio.Event, delay: float) -> None:
        """Wait `delay` seconds (or until `stop`), keeping `batch` in progress meanwhile."""
        deadline = asyncio.get_running_loop().time() + delay
        while not stop.is_set():
            await self.consumer.keep_alive(batch)
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                return
            await _wait(stop, min(left, self.keep_alive_s))

    def _backoff_s(self, attempt: int) -> float:
        return min(self.backoff_max_s, self.backoff_initial_s * 2.0 ** max(attempt - 1, 0))


async def _wait(stop: asyncio.Event, delay: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), delay)

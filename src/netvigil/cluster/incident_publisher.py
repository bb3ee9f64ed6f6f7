"""Incident events to the incidents stream, from a detector, without blocking detection.

    publisher = IncidentEventPublisher(js)
    detection = LiveDetection(config, store, sinks=[publisher])
    task = asyncio.create_task(publisher.run(stop))

`submit(event)` queues the event and returns at once (an `EventSink`); `run` publishes
the queue in order, each event waiting for the stream's acknowledgement. A publish that
fails (NATS away, no answer in time) is retried with a backoff, the same message id each
time, so the stream keeps it once. When `stop` is set, `run` publishes what is queued
(one try each, so a stop never hangs on an absent server) and returns; what could not be
published is counted in `failed` and logged: the store holds those events all the same.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging

import nats.errors
from nats.js import JetStreamContext

from netvigil.bus import publish_incident_event
from netvigil.incident import IncidentEvent

__all__ = ["IncidentEventPublisher"]

log = logging.getLogger(__name__)


class IncidentEventPublisher:
    """Publishes submitted incident events in order; see the module docs."""

    def __init__(
        self,
        js: JetStreamContext,
        *,
        timeout_s: float = 5.0,
        backoff_initial_s: float = 0.2,
        backoff_max_s: float = 5.0,
    ) -> None:
        self.js = js
        self.timeout_s = timeout_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.published = 0
        self.retries = 0
        self.failed = 0
        self._queue: collections.deque[IncidentEvent] = collections.deque()
        self._wake = asyncio.Event()

    @property
    def waiting(self) -> int:
        """Events submitted and not yet published."""
        return len(self._queue)

    def submit(self, event: IncidentEvent) -> None:
        """Queue `event` for publishing (returns at once)."""
        self._queue.append(event)
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        """Publish the queue until `stop` is set, then what is left (one try each)."""
        attempt = 0
        while not stop.is_set():
            if not self._queue:
                self._wake.clear()
                await _first(self._wake, stop)
                continue
            if await self._publish(self._queue[0]):
                self._queue.popleft()
                attempt = 0
                continue
            attempt += 1
            self.retries += 1
            delay = min(self.backoff_max_s, self.backoff_initial_s * 2.0 ** min(attempt - 1, 10))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)
        while self._queue:
            event = self._queue.popleft()
            if not await self._publish(event):
                self.failed += 1 + len(self._queue)
                log.error(
                    "%d incident event(s) not published on stopping (they are stored)",
                    1 + len(self._queue),
                )
                self._queue.clear()

    async def _publish(self, event: IncidentEvent) -> bool:
        try:
            await publish_incident_event(self.js, event, timeout_s=self.timeout_s)
        except (nats.errors.Error, OSError, TimeoutError) as exc:
            log.warning(
                "incident %s %s not published yet: %s: %s",
                event.incident.id,
                event.kind.value,
                type(exc).__name__,
                exc,
            )
            return False
        self.published += 1
        return True


async def _first(a: asyncio.Event, b: asyncio.Event) -> None:
    """Wait until either event is set."""
    waits = [asyncio.ensure_future(a.wait()), asyncio.ensure_future(b.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()

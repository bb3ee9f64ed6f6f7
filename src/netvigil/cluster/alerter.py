"""The alerter role: incident events off the incidents stream, alerted once, by one of
several processes.

    await run_alerter(config, nc, stop, AlerterSettings(), routes=alert_routes(config))

Every alerter binds to one shared durable pull consumer of the incidents stream
(`netvigil-notify`): the server hands each message to one of them (a work queue), and
delivers it again, to whichever alerter asks, if it is not acked within the consumer's
ack wait. An alerter acks a message only once it is done with it: its alerts were sent
(or failed, after the notifier's own retries, as in `netvigil run`), or none was due.

Each event goes through the routes of the config's `[[notify]]` sections
(`netvigil.notify.route`: the same policies as `netvigil run`: kinds wanted, quiet
events under maintenance not sent, one alert per (incident, kind, cause), the quiet
period, `min_confidence`). What the routes remember of an incident is shared by the
alerters (`AlertMemory`, a key-value bucket, written with compare-and-set), and so is
how each event was handled, by its id (`incident <id>:<kind>:<ts ms>`, the stream's
message id):

    (none) -> admitted: the routes decide; alerts due now are noted `pending`
    pending -> the alerts are sent -> `holding` (a route held it for its quiet period)
               or `done`
    holding -> when the quiet period ends: `pending` with what is still news, or `done`
               when a later event of the incident took its place
    done   -> a redelivered message is acked without sending anything

An alerter killed after sending and before noting `done` leaves the event `pending`:
whoever gets the message again sends it again. That is the one window for a second
alert (at-least-once); nothing is lost, since the message is acked only at `done`. A
held message is kept unacked (its ack wait renewed) until its quiet period ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from netvigil.bus.incident_reader import decode_incident_event
from netvigil.bus.incidents import incident_event_id
from netvigil.bus.subjects import MSG_ID_HEADER
from netvigil.cluster.alert_memory import (
    AlertMemory,
    Handling,
    HandlingState,
    IncidentAlerts,
    RouteRecord,
)
from netvigil.cluster.membership import ClusterError
from netvigil.config.model import Config, notifier_names
from netvigil.errors import NotifyError
from netvigil.incident import EventKind, IncidentEvent
from netvigil.notify.build import build_notifier
from netvigil.notify.policy import AlertPolicy
from netvigil.notify.route import Route, _Memory

__all__ = [
    "NOTIFY_DURABLE",
    "AlerterSettings",
    "AlerterStats",
    "SharedAlerts",
    "alert_routes",
    "ensure_alert_consumer",
    "run_alerter",
]

log = logging.getLogger(__name__)

NOTIFY_DURABLE = "netvigil-notify"
"""The durable consumer the alerters share."""


@dataclass(frozen=True, slots=True)
class AlerterSettings:
    """How an alerter reads the stream."""

    durable: str = NOTIFY_DURABLE
    ack_wait_s: float = 30.0
    """A message not acked (nor kept in progress) this long goes to another alerter."""
    batch_size: int = 16
    fetch_wait_s: float = 1.0
    max_in_flight: int = 256
    """Messages this process holds at once (held ones included): it fetches no more."""
    max_ack_pending: int = 10_000
    drain_timeout_s: float = 5.0
    backoff_max_s: float = 5.0


@dataclass(slots=True)
class AlerterStats:
    """What an alerter has done."""

    received: int = 0
    acked: int = 0
    sent: int = 0
    """Alerts a notifier accepted."""
    failed: int = 0
    """Alerts a notifier gave up on (after its own retries)."""
    redelivered_done: int = 0
    """Messages delivered again for events already done (acked, nothing sent)."""
    resent: int = 0
    """Alerts sent again for an event left pending by an alerter that died."""
    malformed: int = 0
    taken_over: int = 0
    """Messages delivered here after another alerter had them (it died, or was slow)."""


def alert_routes(config: Config, *, send_timeout_s: float = 600.0) -> list[Route]:
    """One route per `[[notify]]` section, as `AlertDispatcher.from_config` makes them.
    Raises ConfigError (a secret not set)."""
    routes = []
    for section, name in zip(config.notify, notifier_names(config.notify), strict=True):
        notifier = build_notifier(section, name=name)
        routes.append(Route(notifier, AlertPolicy.from_config(section), 256, send_timeout_s))
    return routes


async def ensure_alert_consumer(
    js: JetStreamContext, stream: str, settings: AlerterSettings
) -> None:
    """Create the shared durable consumer, or bring its ack settings up to date. A new one
    starts with the events published from now on (not the stream's history)."""
    config = ConsumerConfig(
        durable_name=settings.durable,
        deliver_policy=DeliverPolicy.NEW,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=settings.ack_wait_s,
        max_ack_pending=settings.max_ack_pending,
    )
    await js.add_consumer(stream, config)


class SharedAlerts:
    """The routes, run on the shared memory: `handle` one event to its end (see module)."""

    def __init__(
        self,
        routes: Sequence[Route],
        memory: AlertMemory,
        *,
        stats: AlerterStats | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.routes = {r.notifier.name: r for r in routes}
        self.memory = memory
        self.stats = stats if stats is not None else AlerterStats()
        self.clock = clock
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    async def handle(
        self, event: IncidentEvent, event_id: str, *, wait: Callable[[float], Awaitable[None]]
    ) -> None:
        """Take `event` from wherever it stands to `done`; `wait(s)` sleeps while held.
        Raises nats errors (the bucket unreachable): the message stays unacked."""
        incident_id = event.incident.id
        while True:
            record, _ = await self.memory.load(incident_id)
            handling = record.handled.get(event_id)
            if handling is None:
                await self._locked(incident_id, self._admit(event, event_id))
            elif handling.state == "pending":
                await self._send(event, event_id, handling.kinds)
                await self._locked(incident_id, self._after_send(incident_id, event_id))
            elif handling.state == "holding":
                due = _due(record, event_id)
                if due is not None and due > self.clock():
                    await wait(due - self.clock())
                    continue
                await self._locked(incident_id, self._release(event, event_id))
            else:
                return

    async def _locked(self, incident_id: str, step: Awaitable[None]) -> None:
        """Run `step` alone among this process's steps for the incident (in the order
        they came: asyncio locks are fair), so events of one incident are judged in order."""
        lock, users = self._locks.get(incident_id, (asyncio.Lock(), 0))
        self._locks[incident_id] = (lock, users + 1)
        try:
            async with lock:
                await step
        finally:
            lock, users = self._locks[incident_id]
            if users == 1:
                del self._locks[incident_id]
            else:
                self._locks[incident_id] = (lock, users - 1)

    async def _admit(self, event: IncidentEvent, event_id: str) -> None:
        """The routes judge `event` on the shared memory; its handling is noted."""
        incident_id = event.incident.id
        while True:
            record, revision = await self.memory.load(incident_id)
            if event_id in record.handled:
                return
            kinds: dict[str, str] = {}
            held = False
            now = self.clock()
            for name, route in self.routes.items():
                _install(route, incident_id, record.routes.get(name))
                route.offer(event, now)
                queued = list(route.queue)
                route.queue.clear()
                if queued:
                    kinds[name] = queued[-1].kind.value
                memory = route.memory.get(incident_id)
                if memory is not None:
                    before = record.routes.get(name)
                    held_by = before.held_by if before is not None else None
                    if memory.held is not None and memory.held.incident is event.incident:
                        held_by, held = event_id, True
                    record.routes[name] = _record_of(memory, held_by)
            state: HandlingState = "pending" if kinds else "holding" if held else "done"
            record.mark(event_id, Handling(state, kinds))
            if await self.memory.save(incident_id, record, revision):
                return

    async def _after_send(self, incident_id: str, event_id: str) -> None:
        """`pending` becomes `holding` (a route still holds the event) or `done`."""
        await self._transition(
            incident_id,
            event_id,
            "pending",
            lambda record: Handling("holding" if _due(record, event_id) is not None else "done"),
        )

    async def _release(self, event: IncidentEvent, event_id: str) -> None:
        """The quiet period is over: what the routes still hold of this event is due."""
        incident_id = event.incident.id
        while True:
            record, revision = await self.memory.load(incident_id)
            handling = record.handled.get(event_id)
            if handling is None or handling.state != "holding":
                return
            kinds: dict[str, str] = {}
            now = self.clock()
            for name, route in self.routes.items():
                before = record.routes.get(name)
                if before is None or before.held_by != event_id:
                    continue  # not held here, or a later event took its place
                _install(route, incident_id, before)
                route.release_due(now)
                queued = list(route.queue)
                route.queue.clear()
                if queued:
                    kinds[name] = queued[-1].kind.value
                memory = route.memory.get(incident_id)
                if memory is not None:
                    record.routes[name] = _record_of(memory, None)
            record.mark(event_id, Handling("pending" if kinds else "done", kinds))
            if await self.memory.save(incident_id, record, revision):
                return

    async def _transition(
        self,
        incident_id: str,
        event_id: str,
        expected: str,
        then: Callable[[IncidentAlerts], Handling],
    ) -> None:
        while True:
            record, revision = await self.memory.load(incident_id)
            handling = record.handled.get(event_id)
            if handling is None or handling.state != expected:
                return
            record.mark(event_id, then(record))
            if await self.memory.save(incident_id, record, revision):
                return

    async def _send(self, event: IncidentEvent, event_id: str, kinds: dict[str, str]) -> None:
        """Deliver the alerts `kinds` names (route -> kind), each on its route."""
        sends = []
        for name, kind in kinds.items():
            route = self.routes.get(name)
            if route is None:
                log.warning("notify %s: no such route here; alert for %s not sent", name, event_id)
                continue
            alert = event if kind == event.kind.value else _as_kind(event, EventKind(kind))
            sends.append(self._deliver(route, alert))
        await asyncio.gather(*sends)

    async def _deliver(self, route: Route, event: IncidentEvent) -> None:
        """Send one alert as a route's own task does: its timeout, its counters; a
        failure is logged and counted, never raised (as in `netvigil run`)."""
        name = route.notifier.name
        try:
            async with asyncio.timeout(route.send_timeout_s):
                await route.notifier.send(event)
        except NotifyError as exc:
            self._failed(route, event, str(exc))
        except TimeoutError:
            self._failed(
                route, event, f"notify {name}: no answer within {route.send_timeout_s:g} s"
            )
        except Exception as exc:  # a notifier bug must not stop the alerter
            log.exception("notify %s: unexpected error", name)
            self._failed(route, event, f"notify {name}: {type(exc).__name__}: {exc}")
        else:
            route.stats.sent += 1
            self.stats.sent += 1
            log.info("notify %s: sent %s for %s", name, event.kind.value, event.incident.id)

    def _failed(self, route: Route, event: IncidentEvent, reason: str) -> None:
        route.stats.failed += 1
        route.stats.last_error = reason
        self.stats.failed += 1
        log.warning(
            "alert %s for %s not delivered: %s", event.kind.value, event.incident.id, reason
        )


def _as_kind(event: IncidentEvent, kind: EventKind) -> IncidentEvent:
    return IncidentEvent(kind, event.ts, event.incident, event.quiet)


def _due(record: IncidentAlerts, event_id: str) -> float | None:
    """When the last route holding `event_id` may send it; None when none holds it."""
    dues = [r.due for r in record.routes.values() if r.held_by == event_id and r.held]
    return max(dues) if dues else None


def _install(route: Route, incident_id: str, record: RouteRecord | None) -> None:
    """Make `record` the route's whole memory (it then judges as if it had lived it)."""
    route.memory.clear()
    route.held.clear()
    route.queue.clear()
    if record is None:
        return
    memory = _Memory(
        sent={(EventKind(k), c) for k, c in record.sent},
        last_at=record.last_at,
        cause=record.cause,
        held=_decode_held(record.held),
        due=record.due,
    )
    route.memory[incident_id] = memory
    if memory.held is not None:
        route.held[incident_id] = memory


def _decode_held(held: dict[str, object] | None) -> IncidentEvent | None:
    return None if held is None else decode_incident_event(json.dumps(held).encode())


def _record_of(memory: _Memory, held_by: str | None) -> RouteRecord:
    held = memory.held
    return RouteRecord(
        sent=sorted((k.value, c) for k, c in memory.sent),
        last_at=memory.last_at,
        cause=memory.cause,
        held=held.to_json() if held is not None else None,
        due=memory.due if held is not None else 0.0,
        held_by=held_by if held is not None else None,
    )


async def run_alerter(
    config: Config,
    nc: Client,
    stop: asyncio.Event,
    settings: AlerterSettings,
    *,
    routes: Sequence[Route],
    stats: AlerterStats | None = None,
    clock: Callable[[], float] = time.time,
) -> AlerterStats:
    """Alert on the incidents stream until `stop` is set. Raises ClusterError when the
    consumer or the memory bucket cannot be set up."""
    stats = stats if stats is not None else AlerterStats()
    bus = config.bus
    js = nc.jetstream()
    try:
        await ensure_alert_consumer(js, bus.incidents_stream, settings)
        sub = await js.pull_subscribe_bind(settings.durable, stream=bus.incidents_stream)
    except (nats.errors.Error, OSError, TimeoutError) as exc:
        raise ClusterError(f"{bus.url}: cannot set up {settings.durable}: {exc!r}") from exc
    memory = await AlertMemory.open(js, ttl_s=bus.max_age_days * 86_400.0 + 86_400.0)
    alerts = SharedAlerts(routes, memory, stats=stats, clock=clock)
    working: set[asyncio.Task[None]] = set()
    failures = 0
    while not stop.is_set():
        room = settings.max_in_flight - len(working)
        if room <= 0:  # as many messages in hand as allowed: fetch no more until one ends
            await asyncio.wait(working, timeout=settings.fetch_wait_s)
            continue
        try:
            msgs = await sub.fetch(min(room, settings.batch_size), timeout=settings.fetch_wait_s)
            failures = 0
        except TimeoutError:
            continue
        except (nats.errors.Error, OSError) as exc:
            failures += 1
            delay = min(settings.backoff_max_s, 0.2 * 2.0 ** min(failures - 1, 10))
            log.warning("alerter: NATS unavailable (%s); again in %.1f s", exc, delay)
            await _sleep(stop, delay)
            continue
        for msg in msgs:
            task = asyncio.create_task(_take(alerts, msg, settings, stop, stats))
            working.add(task)
            task.add_done_callback(working.discard)
    await _drain(working, settings.drain_timeout_s)
    return stats


async def _take(
    alerts: SharedAlerts,
    msg: Msg,
    settings: AlerterSettings,
    stop: asyncio.Event,
    stats: AlerterStats,
) -> None:
    """Handle one message to its end and ack it; unacked if anything fails or `stop`."""
    stats.received += 1
    if msg.metadata.num_delivered > 1:
        stats.taken_over += 1
    try:
        event = decode_incident_event(msg.data)
    except ValueError as exc:
        stats.malformed += 1
        log.warning("alerter: skipped a message on %s: %s", msg.subject, exc)
        with contextlib.suppress(nats.errors.Error, OSError, TimeoutError):
            await msg.term()
        return
    event_id = (msg.headers or {}).get(MSG_ID_HEADER) or incident_event_id(event)
    keeper = asyncio.create_task(_keep_in_progress(msg, settings.ack_wait_s / 3))

    async def wait(seconds: float) -> None:
        if await _sleep(stop, seconds):
            raise _Stopped

    try:
        record, _ = await alerts.memory.load(event.incident.id)
        before = record.handled.get(event_id)
        if before is not None and before.state == "done":
            stats.redelivered_done += 1
        elif before is not None and before.state == "pending":
            stats.resent += len(before.kinds)
        await alerts.handle(event, event_id, wait=wait)
        await msg.ack_sync(timeout=5)
        stats.acked += 1
    except _Stopped:
        return  # held when stopping: another alerter takes it over after the ack wait
    except (nats.errors.Error, OSError, TimeoutError) as exc:
        log.warning("alerter: event %s not done (%s); it comes again", event_id, exc)
    finally:
        keeper.cancel()


class _Stopped(Exception):
    """Stopping while an event is held."""


async def _keep_in_progress(msg: Msg, every_s: float) -> None:
    """Renew the message's ack wait while it is worked on (a send, a quiet period)."""
    while True:
        await asyncio.sleep(every_s)
        with contextlib.suppress(nats.errors.Error, OSError, TimeoutError):
            await msg.in_progress()


async def _sleep(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep `seconds` or until `stop`; whether `stop` came."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


async def _drain(tasks: set[asyncio.Task[None]], timeout_s: float) -> None:
    if not tasks:
        return
    _, pending = await asyncio.wait(set(tasks), timeout=timeout_s)
    for task in pending:
        task.cancel()
    for task in pending:
        with contextlib.suppress(asyncio.CancelledError):
            await task

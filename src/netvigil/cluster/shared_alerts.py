"""The notify routes run on a memory the alerters share: each incident event handled once.

    alerts = SharedAlerts(alert_routes(config), await AlertMemory.open(js, ttl_s=...))
    await alerts.handle(event, incident_event_id(event), wait=asyncio.sleep)

Several alerter processes each get some of the incident events. Each event goes
through the routes of the config's `[[notify]]` sections (`netvigil.notify.route`: the
policies of `netvigil run`: kinds wanted, quiet events under maintenance not sent, one
alert per (incident, kind, cause), the quiet period, `min_confidence`). What the routes
remember of an incident lives in `AlertMemory` (a key-value bucket, written with
compare-and-set), loaded into the route before it judges and written back after, so an
alerter judges an event as one process that had seen all the others would. How each
event was handled is kept there too, by its id (`<incident id>:<kind>:<ts ms>`, the
stream's message id):

    (none)  -> admitted: the routes judge it; alerts due now are noted `pending`
    pending -> the alerts are sent -> `holding` (a route held it for its quiet period)
               or `done`
    holding -> when the quiet period ends: `pending` with what is still news, or `done`
               when a later event of the incident took its place
    done    -> nothing more (a redelivered message is acked without sending anything)

An alerter that dies after sending and before noting `done` leaves the event `pending`:
whoever handles it again sends it again. That is the one window for a second alert
(at-least-once); nothing is lost as long as the caller acks only once `handle` returned.
The events of one incident are judged in stream order, whichever alerters have them:
`handle` takes a `ready` check (`netvigil.cluster.alerter.earlier_events_handled`) and
judges an event only once every earlier event of its incident is handled.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from netvigil.bus.incident_reader import decode_incident_event
from netvigil.cluster.alert_memory import (
    AlertMemory,
    Handling,
    HandlingState,
    IncidentAlerts,
    RouteRecord,
)
from netvigil.config.model import Config, notifier_names
from netvigil.errors import NotifyError
from netvigil.incident import EventKind, IncidentEvent
from netvigil.notify.build import build_notifier
from netvigil.notify.policy import AlertPolicy
from netvigil.notify.route import Route, _Memory

__all__ = ["AlerterStats", "SharedAlerts", "alert_routes"]

log = logging.getLogger(__name__)


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


class SharedAlerts:
    """The routes, run on the shared memory: `handle` one event to its end (see module)."""

    def __init__(
        self,
        routes: Sequence[Route],
        memory: AlertMemory,
        *,
        stats: AlerterStats | None = None,
        clock: Callable[[], float] = time.time,
        order_wait_s: float = 0.2,
    ) -> None:
        self.routes = {r.notifier.name: r for r in routes}
        self.order_wait_s = order_wait_s
        """How long an event waits before looking again for an earlier one's handling."""
        self.memory = memory
        self.stats = stats if stats is not None else AlerterStats()
        self.clock = clock
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    async def handle(
        self,
        event: IncidentEvent,
        event_id: str,
        *,
        wait: Callable[[float], Awaitable[None]],
        ready: Callable[[IncidentAlerts], Awaitable[bool]] | None = None,
        seq: int = 0,
    ) -> None:
        """Take `event` (stream sequence `seq`) from wherever it stands to `done`;
        `wait(s)` sleeps (while held, or while `ready(record)` says an earlier event of
        the incident is not judged yet). Raises nats errors (the bucket unreachable):
        the message stays unacked."""
        incident_id = event.incident.id
        while True:
            record, _ = await self.memory.load(incident_id)
            handling = record.handled.get(event_id)
            if handling is None:
                if ready is not None and not await ready(record):
                    await wait(self.order_wait_s)
                    continue
                await self._locked(incident_id, self._admit(event, event_id, seq))
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

    async def _admit(self, event: IncidentEvent, event_id: str, seq: int) -> None:
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
            record.admitted_seq = max(record.admitted_seq, seq)
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

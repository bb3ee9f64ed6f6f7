"""The alert dispatcher: which incident events become alerts, and their delivery.

Detection hands every event to `AlertDispatcher.submit`, which never blocks and never
raises for a notifier's sake. For each notifier (a *route*) the dispatcher decides:

- quiet events (maintenance) are not sent; kinds the route does not want are not sent;
- an alert for the same (incident, kind, cause) goes out once;
- at most one alert per incident per `quiet_period_s`: a later one waits until the
  period ends and then goes out only if it still says something new (the latest
  waiting event wins). A resolve is never held back;
- opened/confirmed/cause-changed alerts wait for `min_confidence`. The first alert for
  a confirmed incident is worded CONFIRMED (for a suspected one, OPENED) even when a
  later event is the first to reach the bar; that first CONFIRMED is never held back
  by the quiet period either (it is an escalation, not a repeat);
- a resolve goes out for an incident the route announced, or always when the route
  does not subscribe to opened or confirmed.

Accepted alerts wait in a bounded queue per route (the oldest is dropped when full, and
counted) drained by that route's own task, so a slow or failing notifier delays nobody
else and never detection. Failures are logged and counted in `stats()`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import Any, Self

from netvigil.config.model import (
    AppriseNotifyConfig,
    Config,
    NotifierConfig,
    SMTPNotifyConfig,
    WebhookNotifyConfig,
    notifier_names,
)
from netvigil.errors import ConfigError, NotifyError
from netvigil.incident import EventKind, IncidentEvent, IncidentState
from netvigil.notify.apprise_url import AppriseNotifier
from netvigil.notify.base import Notifier
from netvigil.notify.smtp import SMTPNotifier
from netvigil.notify.webhook import WebhookNotifier

__all__ = [
    "DEFAULT_EVENTS",
    "NOTIFIERS",
    "AlertDispatcher",
    "AlertPolicy",
    "NotifierStats",
    "Skip",
    "build_notifier",
]

log = logging.getLogger("netvigil.notify")

DEFAULT_EVENTS: frozenset[EventKind] = frozenset(
    {EventKind.CONFIRMED, EventKind.CAUSE_CHANGED, EventKind.RESOLVED}
)
"""The events a route sends unless told otherwise."""

_ANNOUNCING = frozenset({EventKind.OPENED, EventKind.CONFIRMED})
_MEMORY_LIMIT = 4096
"""Incidents remembered per route for deduplication; the least recently seen go first."""

NotifierFactory = Callable[..., Notifier]

NOTIFIERS: dict[str, NotifierFactory] = {
    "webhook": WebhookNotifier.from_config,
    "smtp": SMTPNotifier.from_config,
    "apprise": AppriseNotifier.from_config,
}
"""Notifier builders by config `kind`: `factory(section, *, name=..., env=...)`."""


def build_notifier(
    section: NotifierConfig | WebhookNotifyConfig | SMTPNotifyConfig | AppriseNotifyConfig,
    *,
    name: str,
    env: Mapping[str, str] | None = None,
) -> Notifier:
    """The notifier a `[[notify]]` section describes. Raises ConfigError."""
    factory = NOTIFIERS[section.kind]
    try:
        return factory(section, name=name, env=os.environ if env is None else env)
    except ValueError as exc:
        raise ConfigError("config", [(f"notify {name}", str(exc))]) from exc


class Skip(StrEnum):
    """Why an event did not become an alert (a counter label)."""

    QUIET = "quiet"
    """Under a maintenance window."""
    NOT_WANTED = "not_wanted"
    """The route does not send this kind of event."""
    LOW_CONFIDENCE = "low_confidence"
    """The cause confidence is below `min_confidence`."""
    DUPLICATE = "duplicate"
    """This (incident, kind, cause) was already sent, or says nothing new."""
    UNANNOUNCED = "unannounced"
    """A resolve for an incident the route never announced."""
    SUPERSEDED = "superseded"
    """A held event replaced by a later one for the same incident."""
    STOPPED = "stopped"
    """Submitted after `stop()`."""


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """Which events one route sends, and how often."""

    events: frozenset[EventKind] = DEFAULT_EVENTS
    min_confidence: float = 0.0
    quiet_period_s: float = 300.0

    @classmethod
    def from_config(cls, section: NotifierConfig) -> AlertPolicy:
        """The policy of a `[[notify]]` section."""
        return cls(
            events=frozenset(EventKind(e) for e in section.events),
            min_confidence=section.min_confidence,
            quiet_period_s=section.quiet_period_s,
        )


@dataclass(slots=True)
class NotifierStats:
    """Counts for one route since the dispatcher was made."""

    submitted: int = 0
    """Events offered to the route."""
    queued: int = 0
    """Alerts put in the queue."""
    held: int = 0
    """Alerts held back by the quiet period (some later go out, some are superseded)."""
    sent: int = 0
    failed: int = 0
    dropped: int = 0
    """Alerts dropped because the queue was full (the oldest go)."""
    abandoned: int = 0
    """Alerts still queued, held or in flight when `stop()` gave up on them."""
    skipped: Counter[str] = field(default_factory=Counter)
    """Events not sent, by `Skip` reason."""
    last_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON object form."""
        return {
            "submitted": self.submitted,
            "queued": self.queued,
            "held": self.held,
            "sent": self.sent,
            "failed": self.failed,
            "dropped": self.dropped,
            "abandoned": self.abandoned,
            "skipped": dict(self.skipped),
            "last_error": self.last_error,
        }


@dataclass(slots=True)
class _Memory:
    """What one route has told about one incident."""

    sent: set[tuple[EventKind, str]] = field(default_factory=set)
    last_at: float | None = None
    cause: str | None = None
    held: IncidentEvent | None = None
    due: float = 0.0


def _has(memory: _Memory | None, kind: EventKind) -> bool:
    return memory is not None and any(k is kind for k, _ in memory.sent)


class _Route:
    """One notifier with its policy, memory, queue and draining task."""

    def __init__(
        self, notifier: Notifier, policy: AlertPolicy, queue_size: int, send_timeout_s: float
    ) -> None:
        self.notifier = notifier
        self.policy = policy
        self.send_timeout_s = send_timeout_s
        self.queue: deque[IncidentEvent] = deque()
        self.queue_size = queue_size
        self.memory: OrderedDict[str, _Memory] = OrderedDict()
        self.held: dict[str, _Memory] = {}
        self.stats = NotifierStats()
        self.wake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self.busy = False

    # -- admission (synchronous, cheap) ------------------------------------------

    def offer(self, event: IncidentEvent, now: float) -> bool:
        """Queue, hold or skip `event`; True when queued or held."""
        self.stats.submitted += 1
        if event.quiet:
            return self._skip(Skip.QUIET)
        inc = event.incident
        memory = self.memory.get(inc.id)
        if memory is not None:
            self.memory.move_to_end(inc.id)
        if event.kind is EventKind.RESOLVED:
            return self._offer_resolve(event, memory)
        kind = self._effective_kind(event, memory)
        if kind is None:
            return self._skip(Skip.NOT_WANTED)
        if inc.confidence < self.policy.min_confidence:
            return self._skip(Skip.LOW_CONFIDENCE)
        if memory is None:
            memory = self._remember(inc.id)
        if self._stale(kind, event, memory):
            return self._skip(Skip.DUPLICATE)
        if kind is not event.kind:
            event = IncidentEvent(kind, event.ts, inc, event.quiet)
        escalation = kind is EventKind.CONFIRMED and not _has(memory, EventKind.CONFIRMED)
        recent = memory.last_at is not None and now - memory.last_at < self.policy.quiet_period_s
        if recent and not escalation:
            if memory.held is not None:
                self._skip(Skip.SUPERSEDED)
            else:
                self.stats.held += 1
            memory.held = event
            memory.due = (memory.last_at or now) + self.policy.quiet_period_s
            self.held[inc.id] = memory
            self.wake.set()
            return True
        if memory.held is not None:
            self._drop_held(inc.id, memory)
        self._accept(event, memory, now)
        return True

    def _effective_kind(self, event: IncidentEvent, memory: _Memory | None) -> EventKind | None:
        """The kind to send `event` as, or None when the route does not want it."""
        wanted = self.policy.events
        state = event.incident.state
        # The first word a route says about an incident names its state, whichever
        # event first passed the route's bar (an update, a cause change).
        if (
            EventKind.CONFIRMED in wanted
            and state is IncidentState.CONFIRMED
            and not _has(memory, EventKind.CONFIRMED)
        ):
            return EventKind.CONFIRMED
        if (
            EventKind.OPENED in wanted
            and state is IncidentState.SUSPECTED
            and not _has(memory, EventKind.OPENED)
        ):
            return EventKind.OPENED
        if event.kind in wanted and event.kind is not EventKind.UPDATED:
            return event.kind
        return None

    def _stale(self, kind: EventKind, event: IncidentEvent, memory: _Memory) -> bool:
        cause = event.incident.cause.value
        if (kind, cause) in memory.sent:
            return True
        return kind is EventKind.CAUSE_CHANGED and cause == memory.cause

    def _offer_resolve(self, event: IncidentEvent, memory: _Memory | None) -> bool:
        if EventKind.RESOLVED not in self.policy.events:
            return self._skip(Skip.NOT_WANTED)
        if memory is not None and memory.held is not None:
            self._drop_held(event.incident.id, memory)
        announced = memory is not None and bool(memory.sent)
        if not announced and self.policy.events & _ANNOUNCING:
            return self._skip(Skip.UNANNOUNCED)
        if memory is None:
            memory = self._remember(event.incident.id)
        if _has(memory, EventKind.RESOLVED):
            return self._skip(Skip.DUPLICATE)
        self._accept(event, memory, None)
        return True

    def _remember(self, incident_id: str) -> _Memory:
        memory = self.memory[incident_id] = _Memory()
        while len(self.memory) > _MEMORY_LIMIT:
            old_id, old = self.memory.popitem(last=False)
            if old.held is not None:
                self._drop_held(old_id, old)
        return memory

    def _drop_held(self, incident_id: str, memory: _Memory) -> None:
        memory.held = None
        self.held.pop(incident_id, None)
        self._skip(Skip.SUPERSEDED)

    def _skip(self, reason: Skip) -> bool:
        self.stats.skipped[reason.value] += 1
        return False

    def _accept(self, event: IncidentEvent, memory: _Memory, now: float | None) -> None:
        memory.sent.add((event.kind, event.incident.cause.value))
        memory.cause = event.incident.cause.value
        if now is not None:
            memory.last_at = now
        if len(self.queue) >= self.queue_size:
            lost = self.queue.popleft()
            self.stats.dropped += 1
            log.warning(
                "notify %s: queue full (%d); dropped the oldest alert (%s %s)",
                self.notifier.name,
                self.queue_size,
                lost.kind.value,
                lost.incident.id,
            )
        self.queue.append(event)
        self.stats.queued += 1
        self.wake.set()

    def release_due(self, now: float) -> float | None:
        """Queue held alerts whose quiet period ended; seconds to the next due, if any."""
        next_due: float | None = None
        for incident_id, memory in list(self.held.items()):
            held = memory.held
            if held is None:
                del self.held[incident_id]
                continue
            if memory.due <= now:
                memory.held = None
                del self.held[incident_id]
                if self._stale(held.kind, held, memory):
                    self._skip(Skip.DUPLICATE)
                else:
                    self._accept(held, memory, now)
            else:
                wait = memory.due - now
                next_due = wait if next_due is None else min(next_due, wait)
        return next_due

    def abandon_held(self) -> int:
        """Forget every alert held by a quiet period; returns how many there were."""
        count = 0
        for memory in self.held.values():
            if memory.held is not None:
                memory.held = None
                count += 1
        self.held.clear()
        self.stats.abandoned += count
        return count

    # -- delivery -------------------------------------------------------------------

    async def run(self, clock: Callable[[], float], closing: asyncio.Event) -> None:
        """Drain the queue until `closing` is set and the queue is empty."""
        while True:
            next_due = self.release_due(clock())
            if self.queue:
                event = self.queue.popleft()
                self.busy = True
                try:
                    await self._deliver(event)
                except asyncio.CancelledError:
                    self.stats.abandoned += 1
                    raise
                finally:
                    self.busy = False
                continue
            if closing.is_set():
                return
            self.wake.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(next_due):
                    await self.wake.wait()

    async def _deliver(self, event: IncidentEvent) -> None:
        name = self.notifier.name
        try:
            async with asyncio.timeout(self.send_timeout_s):
                await self.notifier.send(event)
        except NotifyError as exc:
            self._failed(event, str(exc))
        except TimeoutError:
            self._failed(event, f"notify {name}: no answer within {self.send_timeout_s:g} s")
        except Exception as exc:  # a notifier bug must not stop the route
            log.exception("notify %s: unexpected error", name)
            self._failed(event, f"notify {name}: {type(exc).__name__}: {exc}")
        else:
            self.stats.sent += 1
            log.info("notify %s: sent %s for %s", name, event.kind.value, event.incident.id)

    def _failed(self, event: IncidentEvent, reason: str) -> None:
        self.stats.failed += 1
        self.stats.last_error = reason
        log.warning(
            "alert %s for %s not delivered: %s", event.kind.value, event.incident.id, reason
        )


class AlertDispatcher:
    """Turns incident events into alerts, sent by each notifier on its own task.

    `submit` must be called from the event loop's thread; it never blocks.
    """

    def __init__(
        self,
        routes: Sequence[tuple[Notifier, AlertPolicy]] = (),
        *,
        queue_size: int = 256,
        send_timeout_s: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if queue_size < 1:
            raise ValueError("queue_size must be at least 1")
        names = [n.name for n, _ in routes]
        if len(set(names)) != len(names):
            raise ValueError(f"notifier names must be unique: {names}")
        self._routes = [_Route(n, p, queue_size, send_timeout_s) for n, p in routes]
        self._clock = clock
        self._closing = asyncio.Event()
        self._started = False
        self._stopped = False

    @classmethod
    def from_config(
        cls, config: Config, *, env: Mapping[str, str] | None = None, queue_size: int = 256
    ) -> AlertDispatcher:
        """One route per `[[notify]]` section. Raises ConfigError (e.g. a secret not set)."""
        routes: list[tuple[Notifier, AlertPolicy]] = []
        for section, name in zip(config.notify, notifier_names(config.notify), strict=True):
            notifier = build_notifier(section, name=name, env=env)
            routes.append((notifier, AlertPolicy.from_config(section)))
        return cls(routes, queue_size=queue_size)

    @property
    def notifiers(self) -> list[Notifier]:
        """The notifiers, in route order."""
        return [r.notifier for r in self._routes]

    def submit(self, event: IncidentEvent) -> int:
        """Offer one event to every route; returns how many queued or held it. Never blocks."""
        if self._stopped or self._closing.is_set():
            for route in self._routes:
                route.stats.submitted += 1
                route._skip(Skip.STOPPED)
            return 0
        now = self._clock()
        taken = 0
        for route in self._routes:
            try:
                taken += route.offer(event, now)
            except Exception:  # admission must never break detection
                log.exception("notify %s: could not judge event", route.notifier.name)
        return taken

    async def start(self) -> None:
        """Start one draining task per notifier (events submitted before wait their turn)."""
        if self._started:
            return
        self._started = True
        for route in self._routes:
            route.task = asyncio.create_task(
                route.run(self._clock, self._closing), name=f"notify-{route.notifier.name}"
            )

    async def stop(self, drain_timeout_s: float = 5.0) -> None:
        """Stop taking events, deliver what is queued for up to `drain_timeout_s`, then quit.

        Alerts still held by a quiet period are not sent; they and whatever is still
        queued when the time is up count as abandoned.
        """
        if self._stopped:
            return
        self._stopped = True
        self._closing.set()
        for route in self._routes:
            route.abandon_held()
            route.wake.set()
        tasks = [r.task for r in self._routes if r.task is not None]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=drain_timeout_s)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        for route in self._routes:
            if route.queue:
                route.stats.abandoned += len(route.queue)
                log.warning(
                    "notify %s: %d alert(s) not delivered before stop",
                    route.notifier.name,
                    len(route.queue),
                )
                route.queue.clear()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def stats(self) -> dict[str, NotifierStats]:
        """Counters per notifier name (live objects; read, do not change)."""
        return {r.notifier.name: r.stats for r in self._routes}

    def totals(self) -> NotifierStats:
        """Counters summed over every notifier."""
        total = NotifierStats()
        for route in self._routes:
            s = route.stats
            total.submitted += s.submitted
            total.queued += s.queued
            total.held += s.held
            total.sent += s.sent
            total.failed += s.failed
            total.dropped += s.dropped
            total.abandoned += s.abandoned
            total.skipped.update(s.skipped)
        return total

    def queue_depth(self) -> int:
        """Alerts waiting in every queue (in flight and held ones excluded)."""
        return sum(len(r.queue) for r in self._routes)

    async def wait_idle(self, timeout_s: float = 5.0) -> bool:
        """Wait until every queue is empty and no send is in flight; False on timeout."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(not r.queue and not r.busy for r in self._routes):
                return True
            await asyncio.sleep(0.005)
        return all(not r.queue and not r.busy for r in self._routes)

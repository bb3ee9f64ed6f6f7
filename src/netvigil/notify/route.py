"""A route: one notifier's admission rules, memory, queue and delivery task.

`AlertDispatcher` offers every incident event to each route; the route decides:

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
  does not subscribe to opened or confirmed;
- a cause is never sent while it is provisional (the incident not yet confirmed): a
  cause change of a suspected incident is not sent, and an opened alert names no cause.

Accepted alerts wait in the route's bounded queue (the oldest is dropped when full, and
counted), drained by the route's own task (`run`), so a slow or failing notifier delays
no other route and never detection. Failures are logged and counted in `stats`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field

from netvigil.errors import NotifyError
from netvigil.incident import EventKind, IncidentEvent, IncidentState
from netvigil.notify.base import Notifier
from netvigil.notify.policy import AlertPolicy, NotifierStats, Skip

__all__ = ["Route"]

log = logging.getLogger("netvigil.notify")

_ANNOUNCING = frozenset({EventKind.OPENED, EventKind.CONFIRMED})
_MEMORY_LIMIT = 4096
"""Incidents remembered per route for deduplication; the least recently seen go first."""


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


class Route:
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
            return self.skip(Skip.QUIET)
        inc = event.incident
        memory = self.memory.get(inc.id)
        if memory is not None:
            self.memory.move_to_end(inc.id)
        if event.kind is EventKind.RESOLVED:
            return self._offer_resolve(event, memory)
        kind = self._effective_kind(event, memory)
        if kind is None:
            return self.skip(Skip.NOT_WANTED)
        if inc.confidence < self.policy.min_confidence:
            return self.skip(Skip.LOW_CONFIDENCE)
        if memory is None:
            memory = self._remember(inc.id)
        if self._stale(kind, event, memory):
            return self.skip(Skip.DUPLICATE)
        if kind is not event.kind:
            event = IncidentEvent(kind, event.ts, inc, event.quiet)
        escalation = kind is EventKind.CONFIRMED and not _has(memory, EventKind.CONFIRMED)
        recent = memory.last_at is not None and now - memory.last_at < self.policy.quiet_period_s
        if recent and not escalation:
            if memory.held is not None:
                self.skip(Skip.SUPERSEDED)
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
        if event.kind is EventKind.CERTIFICATE:
            return event.kind if event.kind in wanted else None
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
        if event.kind is EventKind.CAUSE_CHANGED and state is IncidentState.SUSPECTED:
            return None  # a provisional cause is not news
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
            return self.skip(Skip.NOT_WANTED)
        if memory is not None and memory.held is not None:
            self._drop_held(event.incident.id, memory)
        announced = memory is not None and bool(memory.sent)
        if not announced and self.policy.events & _ANNOUNCING:
            return self.skip(Skip.UNANNOUNCED)
        if memory is None:
            memory = self._remember(event.incident.id)
        if _has(memory, EventKind.RESOLVED):
            return self.skip(Skip.DUPLICATE)
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
        self.skip(Skip.SUPERSEDED)

    def skip(self, reason: Skip) -> bool:
        """Count an event not sent for `reason`; returns False (not taken)."""
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
                    self.skip(Skip.DUPLICATE)
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

"""The live state the web serves, and its change feed.

What every target, service and vantage looks like now is decided once, in the pipeline's
current state (`netvigil.state.CurrentState`); `LiveState` is the web's window on it:

- it reads the current state's views (`target`, `service`, `vantages`, mutes, open
  incidents), with the wall clock as "now";
- it turns the current state's changes (a path turning up or down, an incident event, a
  mute) into a change feed: `subscribe()` returns a bounded queue (the SSE stream's), and
  `version` counts changes (caches key on it);
- where nothing else feeds the current state (a server that only serves, or one reading
  someone else's store), it feeds it: `submit(m)` for each measurement, and
  `sync(store)` to pull recent measurements and open incidents from the store; the web
  app does that at most every `poll_s` while serving.

In `netvigil run` live detection feeds the current state and the web reads it:

    current = CurrentState(config)
    detection = LiveDetection(config, store, state=current, sinks=[state.events])
    state = LiveState(config, current=current)
    app = create_app(store, config, state=state)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from netvigil.config.model import Config
from netvigil.incident import Incident, IncidentEvent
from netvigil.maintenance import Mute
from netvigil.model import Measurement
from netvigil.pipeline.catch_up import catch_up, horizon
from netvigil.state.current import (
    ChangeKind,
    CurrentState,
    ServiceStatus,
    TargetStatus,
    VantageHealth,
)
from netvigil.state.current import PairView as PairState
from netvigil.state.current import ServiceState as ServiceView
from netvigil.state.current import TargetState as TargetView
from netvigil.state.current import VantageState as VantageView
from netvigil.store.base import IncidentQuery, Store

__all__ = [
    "SETTLE_S",
    "Change",
    "LiveState",
    "Mute",
    "PairState",
    "ServiceStatus",
    "ServiceView",
    "Subscription",
    "TargetStatus",
    "TargetView",
    "VantageHealth",
    "VantageView",
]

log = logging.getLogger("netvigil.web")

SETTLE_S = 300.0
"""A measurement older than this when it arrives is late: it may rewrite settled history."""


@dataclass(frozen=True, slots=True)
class Change:
    """One entry of the change feed: `kind` is `state` or `incident`; `seq` counts from 1."""

    seq: int
    kind: Literal["state", "incident"]
    data: dict[str, Any]


class Subscription:
    """A bounded queue of changes for one reader (an SSE client).

    When the reader falls `maxsize` changes behind, it is cut off: `overflowed` is set
    and no more changes are queued (the reader should reload the whole state).
    """

    def __init__(self, maxsize: int) -> None:
        self.queue: asyncio.Queue[Change] = asyncio.Queue(maxsize)
        self.overflowed = False
        self._wake = asyncio.Event()

    def put(self, change: Change) -> None:
        """Queue `change` without blocking; cuts the reader off when the queue is full."""
        if self.overflowed:
            return
        try:
            self.queue.put_nowait(change)
        except asyncio.QueueFull:
            self.overflowed = True
            self._wake.set()

    async def get(self, timeout_s: float) -> Change | None:
        """The next change, or None after `timeout_s` or once cut off."""
        if self.overflowed:
            return None
        if not self.queue.empty():
            return self.queue.get_nowait()
        getter = asyncio.ensure_future(self.queue.get())
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            done, _ = await asyncio.wait(
                {getter, waker}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            waker.cancel()
            if not getter.done():
                getter.cancel()
        if getter in done and not getter.cancelled():
            return getter.result()
        return None


class _IncidentFeed:
    """The incident event sink side of a LiveState (`LiveDetection(..., sinks=[...])`)."""

    def __init__(self, state: LiveState) -> None:
        self._state = state

    def submit(self, event: IncidentEvent) -> None:
        self._state.submit_event(event)


class LiveState:
    """The web's window on the current state; see the module docstring.

    `current` is the pipeline's current state (one is made, and fed by `submit` and
    `sync`, when none is given); `now` is the wall clock (epoch s); views are judged at
    `now() - lag_s`, the time the current state has reached.
    """

    def __init__(
        self,
        config: Config,
        *,
        current: CurrentState | None = None,
        now: Callable[[], float] = time.time,
        lag_s: float = 0.0,
    ) -> None:
        self.now = now
        self.lag_s = lag_s
        """How far the current state runs behind the wall clock (live detection holds each
        measurement `lateness_s` before it counts): views are judged that much earlier."""
        self.checks = 0
        self.version = 0
        """Counts changes (up/down flips, new pairs, incidents, mutes)."""
        self.changed_at = now()
        self.history_version = 0
        """Counts late measurements taken (older than SETTLE_S on arrival): history caches
        key on it, as each may have rewritten a settled minute."""
        self.events = _IncidentFeed(self)
        """The incident event sink feeding this state."""
        self.feeds_paths = current is None
        """Whether this state feeds the paths itself (no live detection does)."""
        self.current = current if current is not None else CurrentState(config)
        self.current.add_listener(self._changed)
        self._mute_listeners: list[Callable[[list[Mute]], object]] = []
        self._subscribers: set[Subscription] = set()
        self._seq = 0
        self._fed_measurements = False
        self._fed_events = False
        self._synced_at = float("-inf")
        self._synced_to = float("-inf")
        self._sync_lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self.config = config
        self._bind_loop()

    def configure(self, config: Config) -> None:
        """Take the targets, services and vantages of `config` (also on a reload)."""
        self.config = config
        with self.current.lock:
            self.current.configure(config)
        self._touch()

    # -- feeding ------------------------------------------------------------------------

    def submit(self, m: Measurement) -> None:
        """Take one measurement (never blocks); an up/down change goes on the feed."""
        self._fed_measurements = True
        self._bind_loop()
        self.checks += 1
        if m.ts < self.now() - SETTLE_S:
            self.history_version += 1
        if self.feeds_paths:
            with self.current.lock:
                self.current.observe_newer(m)

    def submit_event(self, event: IncidentEvent) -> None:
        """Take one incident event: the open incidents change and the event goes on the feed."""
        self._fed_events = True
        self.current.apply_event(event)

    def follow_events(self) -> None:
        """Incident events come from a live feed from now on (a follower of the incidents
        stream feeding `events`): `sync` no longer pulls open incidents from the store."""
        self._fed_events = True

    def set_mutes(self, mutes: Iterable[Mute]) -> None:
        """Replace the maintenance mutes (listeners are told)."""
        self.current.set_mutes(mutes)

    def mute(self, mute: Mute) -> None:
        """Mute one target until `mute.until` (listeners are told)."""
        self.current.mute(mute)

    def unmute(self, target: str) -> bool:
        """Lift a target's mute; whether it had one (listeners are told)."""
        return self.current.unmute(target)

    def add_mute_listener(self, listener: Callable[[list[Mute]], object]) -> None:
        """Call `listener(mutes)` with every mute held now, and again after each change.

        A listener that raises is logged and skipped; the change still takes effect.
        (Live detection needs none: it reads the mutes of the current state it shares.)
        """
        self._mute_listeners.append(listener)
        self._tell(listener)

    def _bind_loop(self) -> None:
        if self._loop is None:
            with contextlib.suppress(RuntimeError):
                self._loop = asyncio.get_running_loop()
                self._loop_thread = threading.get_ident()

    def _changed(self, kind: ChangeKind, data: dict[str, Any]) -> None:
        """A change of the current state; from detection's thread it is handed to the loop."""
        loop = self._loop
        if loop is not None and threading.get_ident() != self._loop_thread:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._changed_here, kind, data)
            return
        self._changed_here(kind, data)

    def _changed_here(self, kind: ChangeKind, data: dict[str, Any]) -> None:
        if kind == "mutes":
            self._touch()
            for listener in list(self._mute_listeners):
                self._tell(listener)
        else:
            self._publish(kind, data)

    def _tell(self, listener: Callable[[list[Mute]], object]) -> None:
        try:
            listener(self.current.mutes())
        except Exception:
            log.exception("mute listener %r failed", listener)

    async def sync(self, store: Store, *, every_s: float = 0.0) -> None:
        """Pull what nothing feeds from `store`: recent measurements, open incidents.

        Skipped when the last pull was less than `every_s` ago, and for the parts
        sinks feed live. Raises StoreError when the store cannot be read.
        """
        if self._fed_measurements and self._fed_events:
            return
        if self.now() - self._synced_at < every_s:
            return
        if every_s > 0 and self._sync_lock.locked() and self._synced_at > float("-inf"):
            return  # a pull is under way: readers get the state as it is, without waiting
        async with self._sync_lock:
            if self.now() - self._synced_at < every_s:
                return
            if not self._fed_measurements and self.feeds_paths:
                await self._pull_measurements(store)
            if not self._fed_events:
                await self._pull_incidents(store)
            self._synced_at = self.now()

    async def _pull_measurements(self, store: Store) -> None:
        """Feed the measurements stored since the last pull (at first, those that can still
        count), in time order (`pipeline.catch_up`)."""
        since = max(self._synced_to, self.now() - horizon(self.current))
        self._synced_to = await catch_up(self.current, store, since)

    async def _pull_incidents(self, store: Store) -> None:
        found = await store.incidents(IncidentQuery(open_only=True, limit=10_000))
        fresh = {i.id: i for i in found}
        held = {i.id: i for i in self.current.open_incidents()}
        for inc in found:
            old = held.get(inc.id)
            if old is None or old.updated != inc.updated or old.state != inc.state:
                self.current.replace_incident(inc, "synced", inc.updated)
        for gone in [i for i in held.values() if i.id not in fresh]:
            ended = await store.incident(gone.id) or gone
            if ended.open:
                ended = gone.copy()
                ended.end = ended.end or self.now()
            self.current.replace_incident(ended, "resolved", ended.end or self.now())

    @property
    def fed_measurements(self) -> bool:
        """Whether a sink feeds measurements (every stored one passes through `submit`)."""
        return self._fed_measurements

    @property
    def fed(self) -> bool:
        """Whether sinks feed both measurements and incident events (no pulling needed)."""
        return self._fed_measurements and self._fed_events

    # -- the change feed ----------------------------------------------------------------

    def subscribe(self, maxsize: int = 256) -> Subscription:
        """A new bounded queue of changes from now on; `unsubscribe` it when done."""
        self._bind_loop()
        sub = Subscription(maxsize)
        self._subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        """Stop queueing changes for `sub`."""
        self._subscribers.discard(sub)

    @property
    def subscribers(self) -> int:
        """How many readers are subscribed."""
        return len(self._subscribers)

    def _publish(self, kind: Literal["state", "incident"], data: dict[str, Any]) -> None:
        self._touch()
        self._seq += 1
        change = Change(self._seq, kind, data)
        for sub in list(self._subscribers):
            sub.put(change)

    def _touch(self) -> None:
        self.version += 1
        with contextlib.suppress(AttributeError):  # during __init__, before `now` is set
            self.changed_at = self.now()

    # -- reading (the current state's views, at the time it has reached) ---------------

    def judged_at(self) -> float:
        """The time views are judged at: the wall clock less `lag_s`."""
        return self.now() - self.lag_s

    def _at(self, now: float | None) -> float:
        """`now` (the wall clock when None) less `lag_s`."""
        return (self.now() if now is None else now) - self.lag_s

    def stale_after(self, target: str) -> float:
        """Seconds after which a result of `target` no longer counts."""
        with self.current.lock:
            return self.current.stale_after(target)

    def fresh_pairs(self, target: str, now: float | None = None) -> list[PairState]:
        """The results of `target` that still count, by vantage."""
        with self.current.lock:
            return self.current.fresh_pairs(target, self._at(now))

    def pairs(self) -> list[PairState]:
        """Every (target, vantage) result held, fresh or not, by target then vantage."""
        with self.current.lock:
            return self.current.pairs()

    def muted(self, target: str, now: float | None = None) -> Mute | None:
        """The mute on `target` in force now, or None."""
        with self.current.lock:
            return self.current.muted(target, self._at(now))

    def mutes(self) -> list[Mute]:
        """Every mute still in force, by target."""
        with self.current.lock:
            return self.current.mutes(self.judged_at())

    def target_names(self) -> list[str]:
        """Configured targets first (config order), then any others results came for."""
        with self.current.lock:
            return self.current.target_names()

    def is_known_target(self, name: str) -> bool:
        """Whether `name` is configured or has results."""
        with self.current.lock:
            return self.current.is_known_target(name)

    def target(self, name: str, now: float | None = None) -> TargetView:
        """What `name` looks like now."""
        with self.current.lock:
            return self.current.target(name, self._at(now))

    def service_names(self) -> list[str]:
        """Configured services, in config order."""
        with self.current.lock:
            return self.current.service_names()

    def service(
        self, name: str, now: float | None = None, vantage: str | None = None
    ) -> ServiceView:
        """What service `name` looks like now (from `vantage` only, when given)."""
        with self.current.lock:
            return self.current.service(name, self._at(now), vantage)

    def services(self, now: float | None = None) -> list[ServiceView]:
        """Every configured service, in config order."""
        with self.current.lock:
            return self.current.services(self._at(now))

    def open_incidents(self) -> list[Incident]:
        """The open incidents, oldest first."""
        with self.current.lock:
            return self.current.open_incidents()

    def vantage_names(self) -> list[str]:
        """This server's vantage, the configured agents, then any other vantage heard from."""
        with self.current.lock:
            return self.current.vantage_names()

    def vantages(self, now: float | None = None, extra: Iterable[str] = ()) -> list[VantageView]:
        """Every vantage (plus `extra` names) with its health."""
        with self.current.lock:
            return self.current.vantages(self._at(now), extra)

"""The live state the web serves: the newest result per target x vantage, per service, per vantage.

`LiveState` is a measurement sink (`submit(m)`, never blocks) and, through `events`, an
incident event sink. It keeps, in memory,

- per (target, vantage): up or down, since when, the last outcome, latency and address;
- the open incidents;
- per vantage: when it was last heard from;
- the maintenance mutes set through the admin API (`add_mute_listener` tells live
  detection of each change);

and derives on read what each target, service and vantage looks like now (services are
`working`, `degraded`, `down`, `maintenance` or `unknown`). Every change between up
and down, and every incident event, goes out on a change feed: `subscribe()` returns a
bounded queue (the SSE stream's), and `version` counts changes (caches key on it).

    state = LiveState(config)
    monitor = Monitor(targets, probes, [store, state], ...)
    detection = LiveDetection(config, store, sinks=[state.events])
    app = create_app(store, config, state=state)

When nothing feeds it (a server that only ingests, or one reading someone else's
store), `sync(store)` pulls the newest measurements and open incidents from the store;
the web app does that at most every `poll_s` while serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Literal

from netvigil.config.model import Config
from netvigil.incident import Incident, IncidentEvent
from netvigil.maintenance import Mute
from netvigil.model import Measurement
from netvigil.store.base import IncidentQuery, MeasurementQuery, Store

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

ServiceStatus = Literal["working", "degraded", "down", "maintenance", "unknown"]
TargetStatus = Literal["up", "partial", "down", "unknown"]
VantageHealth = Literal["healthy", "impaired", "silent"]

log = logging.getLogger("netvigil.web")

STALE_INTERVALS = 3.0
"""A pair whose newest result is older than this many probe intervals no longer counts."""
MIN_STALE_S = 180.0
"""... and never sooner than this."""
SILENT_AFTER_S = 180.0
"""A vantage not heard from for this long is `silent`."""
BACKFILL_LIMIT = 200
"""At most this many failing pairs per pull get their `since` looked up in the store."""
BACKFILL_WINDOW_S = 86_400.0
"""... within this much history."""
SETTLE_S = 300.0
"""A measurement older than this when it arrives is late: it may rewrite settled history."""


@dataclass(slots=True)
class PairState:
    """The newest result of one target from one vantage, and since when it is up or down."""

    target: str
    vantage: str
    kind: str
    ok: bool
    outcome: str
    phase: str | None
    since: float
    """When the target last turned up or down from this vantage (at or before, after a restart)."""
    last_ts: float
    latency_s: float | None
    address: str | None
    failures: int
    """Consecutive failed results (0 when up)."""

    def to_json(self) -> dict[str, Any]:
        """The JSON object form (the SSE `state` event's data)."""
        return {
            "target": self.target,
            "vantage": self.vantage,
            "kind": self.kind,
            "ok": self.ok,
            "outcome": self.outcome,
            "phase": self.phase,
            "since": self.since,
            "last_ts": self.last_ts,
            "latency_s": self.latency_s,
            "address": self.address,
            "failures": self.failures,
        }


@dataclass(frozen=True, slots=True)
class TargetView:
    """What one target looks like now, over every vantage that measures it."""

    name: str
    service: str | None
    status: TargetStatus
    since: float | None
    pairs: list[PairState]
    """Fresh results only, by vantage."""
    muted: Mute | None


@dataclass(frozen=True, slots=True)
class ServiceView:
    """What one service looks like now."""

    name: str
    status: ServiceStatus
    since: float | None
    targets: list[TargetView]
    incidents: list[str]
    """Ids of the open incidents naming this service."""


@dataclass(frozen=True, slots=True)
class VantageView:
    """One vantage: when it was last heard from and how its results look."""

    name: str
    local: bool
    country: str | None
    in_country: bool
    last_seen: float | None
    targets: int
    ok: int
    health: VantageHealth


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
    """In-memory current state, fed as a sink; see the module docstring.

    `now` is the wall clock (epoch s) used to judge staleness and mutes.
    """

    def __init__(self, config: Config, *, now: Callable[[], float] = time.time) -> None:
        self.now = now
        self.checks = 0
        self.version = 0
        """Counts changes (up/down flips, new pairs, incidents, mutes)."""
        self.changed_at = now()
        self.history_version = 0
        """Counts late measurements taken (older than SETTLE_S on arrival): history caches
        key on it, as each may have rewritten a settled minute."""
        self.events = _IncidentFeed(self)
        """The incident event sink feeding this state."""
        self._pairs: dict[str, dict[str, PairState]] = {}
        self._vantage_seen: dict[str, float] = {}
        self._incidents: dict[str, Incident] = {}
        self._mutes: dict[str, Mute] = {}
        self._mute_listeners: list[Callable[[list[Mute]], object]] = []
        self._subscribers: set[Subscription] = set()
        self._seq = 0
        self._fed_measurements = False
        self._fed_events = False
        self._synced_at = float("-inf")
        self._sync_lock = asyncio.Lock()
        self.configure(config)

    def configure(self, config: Config) -> None:
        """Take the targets, services and vantages of `config` (also on a reload)."""
        self.config = config
        self._service_of: dict[str, str | None] = {t.name: t.service for t in config.targets}
        self._interval: dict[str, float] = {t.name: t.interval_s for t in config.targets}
        self._controls = {t.name for t in config.targets if t.control}
        self._targets_of: dict[str, list[str]] = {s.name: [] for s in config.services}
        for t in config.targets:
            if t.service is not None and not t.control:
                self._targets_of.setdefault(t.service, []).append(t.name)
        self._touch()

    # -- feeding ------------------------------------------------------------------------

    def submit(self, m: Measurement) -> None:
        """Take one measurement (never blocks); an up/down change goes on the feed."""
        self._fed_measurements = True
        if m.ts < self.now() - SETTLE_S:
            self.history_version += 1
        self._apply(m)

    def submit_event(self, event: IncidentEvent) -> None:
        """Take one incident event: the open incidents change and the event goes on the feed."""
        self._fed_events = True
        self._apply_incident(event.incident, event.kind.value, event.ts)

    def _apply(self, m: Measurement) -> None:
        self.checks += 1
        seen = self._vantage_seen.get(m.vantage)
        if seen is None or m.ts > seen:
            self._vantage_seen[m.vantage] = m.ts
        by_vantage = self._pairs.setdefault(m.target, {})
        pair = by_vantage.get(m.vantage)
        latency = m.timings.get("total") if m.ok else None
        if pair is None:
            pair = PairState(
                m.target,
                m.vantage,
                m.kind,
                m.ok,
                m.outcome.value,
                None if m.phase is None else m.phase.value,
                m.ts,
                m.ts,
                latency,
                m.address,
                0 if m.ok else 1,
            )
            by_vantage[m.vantage] = pair
            self._publish("state", pair.to_json())
            return
        if m.ts < pair.last_ts:
            return  # late: an older result does not overwrite a newer one
        flipped = pair.ok != m.ok
        pair.kind = m.kind
        pair.outcome = m.outcome.value
        pair.phase = None if m.phase is None else m.phase.value
        pair.last_ts = m.ts
        pair.latency_s = latency
        pair.address = m.address
        pair.failures = 0 if m.ok else pair.failures + 1
        if flipped:
            pair.ok = m.ok
            pair.since = m.ts
            self._publish("state", pair.to_json())

    def _apply_incident(self, incident: Incident, kind: str, ts: float) -> None:
        if incident.open:
            self._incidents[incident.id] = incident
        else:
            self._incidents.pop(incident.id, None)
        self._publish(
            "incident",
            {
                "kind": kind,
                "ts": ts,
                "id": incident.id,
                "state": incident.state.value,
                "cause": incident.cause.value,
                "confidence": incident.confidence,
                "services": list(incident.services),
                "targets": list(incident.targets),
                "start": incident.start,
                "end": incident.end,
            },
        )

    def set_mutes(self, mutes: Iterable[Mute]) -> None:
        """Replace the maintenance mutes (listeners are told)."""
        self._mutes = {m.target: m for m in mutes}
        self._mutes_changed()

    def mute(self, mute: Mute) -> None:
        """Mute one target until `mute.until` (listeners are told)."""
        self._mutes[mute.target] = mute
        self._mutes_changed()

    def unmute(self, target: str) -> bool:
        """Lift a target's mute; whether it had one (listeners are told)."""
        found = self._mutes.pop(target, None) is not None
        self._mutes_changed()
        return found

    def add_mute_listener(self, listener: Callable[[list[Mute]], object]) -> None:
        """Call `listener(mutes)` with every mute held now, and again after each change.

        Live detection listens, so that mutes set through the admin API quiet its
        incidents (`LiveDetection.set_mutes`). A listener that raises is logged and
        skipped; the change still takes effect here.
        """
        self._mute_listeners.append(listener)
        self._tell(listener)

    def _mutes_changed(self) -> None:
        self._touch()
        for listener in list(self._mute_listeners):
            self._tell(listener)

    def _tell(self, listener: Callable[[list[Mute]], object]) -> None:
        mutes = list(self._mutes.values())
        try:
            listener(mutes)
        except Exception:
            log.exception("mute listener %r failed", listener)

    async def sync(self, store: Store, *, every_s: float = 0.0) -> None:
        """Pull what nothing feeds from `store`: newest measurements, open incidents.

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
            if not self._fed_measurements:
                fresh_down: list[PairState] = []
                for m in await store.latest():
                    if not m.ok and m.vantage not in self._pairs.get(m.target, {}):
                        self._apply(m)
                        fresh_down.append(self._pairs[m.target][m.vantage])
                    else:
                        self._apply(m)
                for pair in fresh_down[:BACKFILL_LIMIT]:
                    await _backfill_since(store, pair)
            if not self._fed_events:
                found = await store.incidents(IncidentQuery(open_only=True, limit=10_000))
                fresh = {i.id: i for i in found}
                for inc in found:
                    old = self._incidents.get(inc.id)
                    if old is None or old.updated != inc.updated or old.state != inc.state:
                        self._apply_incident(inc, "synced", inc.updated)
                for gone in [i for i in self._incidents.values() if i.id not in fresh]:
                    ended = await store.incident(gone.id) or gone
                    self._incidents.pop(gone.id, None)
                    if not ended.open:
                        self._apply_incident(ended, "resolved", ended.end or self.now())
            self._synced_at = self.now()

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

    # -- reading ------------------------------------------------------------------------

    def stale_after(self, target: str) -> float:
        """Seconds after which a result of `target` no longer counts."""
        return max(MIN_STALE_S, STALE_INTERVALS * self._interval.get(target, 60.0))

    def fresh_pairs(self, target: str, now: float | None = None) -> list[PairState]:
        """The results of `target` that still count, by vantage."""
        now = self.now() if now is None else now
        limit = self.stale_after(target)
        pairs = self._pairs.get(target, {})
        return [pairs[v] for v in sorted(pairs) if now - pairs[v].last_ts <= limit]

    def pairs(self) -> list[PairState]:
        """Every (target, vantage) result held, fresh or not, by target then vantage."""
        return [p for t in sorted(self._pairs) for _, p in sorted(self._pairs[t].items())]

    def muted(self, target: str, now: float | None = None) -> Mute | None:
        """The mute on `target` in force now, or None."""
        mute = self._mutes.get(target)
        now = self.now() if now is None else now
        return mute if mute is not None and mute.until > now else None

    def mutes(self) -> list[Mute]:
        """Every mute still in force, by target."""
        now = self.now()
        return [m for _, m in sorted(self._mutes.items()) if m.until > now]

    def target_names(self) -> list[str]:
        """Configured targets first (config order), then any others results came for."""
        names = list(self._service_of)
        extra = sorted(t for t in self._pairs if t not in self._service_of)
        return names + extra

    def is_known_target(self, name: str) -> bool:
        """Whether `name` is configured or has results."""
        return name in self._service_of or name in self._pairs

    def target(self, name: str, now: float | None = None) -> TargetView:
        """What `name` looks like now."""
        now = self.now() if now is None else now
        pairs = self.fresh_pairs(name, now)
        up = [p for p in pairs if p.ok]
        status: TargetStatus
        since: float | None
        if not pairs:
            status, since = "unknown", None
        elif len(up) == len(pairs):
            status, since = "up", max(p.since for p in pairs)
        elif not up:
            status, since = "down", max(p.since for p in pairs)
        else:
            status, since = "partial", min(p.since for p in pairs if not p.ok)
        return TargetView(
            name, self._service_of.get(name), status, since, pairs, self.muted(name, now)
        )

    def service_names(self) -> list[str]:
        """Configured services, in config order."""
        return list(self._targets_of)

    def service(
        self, name: str, now: float | None = None, vantage: str | None = None
    ) -> ServiceView:
        """What service `name` looks like now (from `vantage` only, when given)."""
        now = self.now() if now is None else now
        views = [self.target(t, now) for t in self._targets_of.get(name, [])]
        if vantage is not None:
            views = [_only(v, vantage) for v in views]
        known = [v for v in views if v.status != "unknown"]
        status: ServiceStatus
        since: float | None
        if not known:
            status, since = "unknown", None
        else:
            failing = [v for v in known if v.status != "up"]
            if not failing:
                status, since = "working", max(v.since or 0.0 for v in known)
            elif all(v.muted is not None for v in failing) or self._in_maintenance(name, now):
                status, since = "maintenance", min(v.since or now for v in failing)
            elif len(failing) == len(known) and all(v.status == "down" for v in failing):
                status, since = "down", max(v.since or 0.0 for v in failing)
            else:
                status, since = "degraded", min(v.since or now for v in failing)
        incidents = [i.id for i in self.open_incidents() if name in i.services]
        return ServiceView(name, status, since, views, incidents)

    def _in_maintenance(self, service: str, now: float) -> bool:
        return any(w.covers(service, now) for w in self.config.maintenance)

    def services(self, now: float | None = None) -> list[ServiceView]:
        """Every configured service, in config order."""
        now = self.now() if now is None else now
        return [self.service(s, now) for s in self._targets_of]

    def open_incidents(self) -> list[Incident]:
        """The open incidents, oldest first."""
        return sorted(self._incidents.values(), key=lambda i: (i.start, i.id))

    def vantage_names(self) -> list[str]:
        """This server's vantage, the configured agents, then any other vantage heard from."""
        names = [self.config.vantage.name, *(a.name for a in self.config.agents)]
        names += sorted(v for v in self._vantage_seen if v not in names)
        return names

    def vantages(self, now: float | None = None, extra: Iterable[str] = ()) -> list[VantageView]:
        """Every vantage (plus `extra` names) with its health."""
        now = self.now() if now is None else now
        names = self.vantage_names()
        names += sorted(v for v in set(extra) if v not in names)
        counts: dict[str, list[int]] = {v: [0, 0] for v in names}
        controls_bad: set[str] = set()
        for target, by_vantage in self._pairs.items():
            limit = self.stale_after(target)
            for v, p in by_vantage.items():
                if now - p.last_ts > limit:
                    continue
                c = counts.setdefault(v, [0, 0])
                c[0] += 1
                c[1] += int(p.ok)
                if target in self._controls and not p.ok:
                    controls_bad.add(v)
        agents = {a.name: a for a in self.config.agents}
        out = []
        for name in names:
            seen = self._vantage_seen.get(name)
            health: VantageHealth
            if seen is None or now - seen > SILENT_AFTER_S:
                health = "silent"
            elif name in controls_bad:
                health = "impaired"
            else:
                health = "healthy"
            local = name == self.config.vantage.name
            agent = agents.get(name)
            country = self.config.vantage.country if local else agent.country if agent else None
            in_country = (
                self.config.vantage.in_country if local else bool(agent and agent.in_country)
            )
            targets, ok = counts.get(name, [0, 0])
            out.append(VantageView(name, local, country, in_country, seen, targets, ok, health))
        return out


async def _backfill_since(store: Store, pair: PairState) -> None:
    """Set a failing pair's `since` to its first failure after its last success (bounded)."""
    found = await store.measurements(
        MeasurementQuery(
            since=pair.last_ts - BACKFILL_WINDOW_S,
            until=pair.last_ts + 1e-3,
            targets=[pair.target],
            vantages=[pair.vantage],
            limit=100_000,
        )
    )
    since, failures = pair.since, 0
    for m in reversed(found):
        if m.ok:
            break
        since, failures = m.ts, failures + 1
    pair.since = min(pair.since, since)
    pair.failures = max(pair.failures, failures)


def _only(view: TargetView, vantage: str) -> TargetView:
    """`view` narrowed to one vantage's result."""
    pairs = [p for p in view.pairs if p.vantage == vantage]
    if not pairs:
        return TargetView(view.name, view.service, "unknown", None, [], view.muted)
    p = pairs[0]
    return TargetView(view.name, view.service, "up" if p.ok else "down", p.since, pairs, view.muted)

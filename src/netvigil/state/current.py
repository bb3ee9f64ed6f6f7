"""The current state: what every target, service and vantage looks like now, decided once.

`CurrentState` is the one projection every reader uses: the dashboard and the API, the
public status page, the SSE stream, `netvigil status`, the live table of `netvigil run`
and the detector. It holds

- the path table (`PathTable`): each (target, vantage) path's confirmed health and newest
  result, and each vantage's counts and impairment (`state.judge`);
- the maintenance mutes set through the admin API (with `[[maintenance]]` windows from the
  config they decide what is planned);
- the open incidents, as incident events report them;

and derives on read, with one set of rules, what a target (`up`, `partial`, `down`,
`unknown`), a service (`working`, `degraded`, `down`, `maintenance`, `unknown`) and a
vantage (`healthy`, `impaired`, `silent`) look like. Live detection feeds it in stream
order; a process without detection feeds it from the store (`observe` the same way).

Listeners hear of every change (`add_listener`): a path appearing or changing state, an
incident event, a mute set or lifted.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from netvigil.config.model import Config
from netvigil.incident import Incident, IncidentEvent
from netvigil.maintenance import Mute
from netvigil.model import Measurement
from netvigil.state.health import HealthPolicy
from netvigil.state.judge import TargetCondition, judge_target
from netvigil.state.judge import TargetView as Judgement
from netvigil.state.paths import PathChange, PathRecord, PathTable

__all__ = [
    "ChangeKind",
    "CurrentState",
    "PairView",
    "ServiceState",
    "ServiceStatus",
    "StatePolicy",
    "TargetState",
    "TargetStatus",
    "VantageHealth",
    "VantageState",
]

ServiceStatus = Literal["working", "degraded", "down", "maintenance", "unknown"]
TargetStatus = Literal["up", "partial", "down", "unknown"]
VantageHealth = Literal["healthy", "impaired", "silent"]
ChangeKind = Literal["state", "incident", "mutes"]


@dataclass(frozen=True, slots=True)
class StatePolicy:
    """How the current state is judged.

    health            the confirmation window of one path (`HealthPolicy`)
    stale_intervals   a path without a result for this many of its target's probe
                      intervals no longer counts
    silent_intervals  a vantage without any result for this many probe intervals (its
                      shortest target interval), and at least `silent_min_s`, is silent:
                      its results stop counting (agents ship in batches every few seconds)
    """

    health: HealthPolicy = field(default_factory=HealthPolicy)
    stale_intervals: float = 5.0
    silent_intervals: float = 3.0
    silent_min_s: float = 15.0
    default_interval_s: float = 60.0


@dataclass(frozen=True, slots=True)
class PairView:
    """One path as readers see it: its newest result, and whether it counts as up."""

    target: str
    vantage: str
    kind: str
    ok: bool
    state: str
    outcome: str
    phase: str | None
    since: float
    last_ts: float
    latency_s: float | None
    address: str | None
    failures: int
    cert_days_left: float | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON object form (the SSE `state` event's data)."""
        return {
            "target": self.target,
            "vantage": self.vantage,
            "kind": self.kind,
            "ok": self.ok,
            "state": self.state,
            "outcome": self.outcome,
            "phase": self.phase,
            "since": self.since,
            "last_ts": self.last_ts,
            "latency_s": self.latency_s,
            "address": self.address,
            "failures": self.failures,
            "cert_days_left": self.cert_days_left,
        }


@dataclass(frozen=True, slots=True)
class TargetState:
    """What one target looks like now, over every vantage whose results count."""

    name: str
    service: str | None
    status: TargetStatus
    since: float | None
    pairs: list[PairView]
    """Results that count, by vantage."""
    muted: Mute | None
    condition: TargetCondition | None = None
    """How the detector judges the target across vantages (`state.judge`)."""


@dataclass(frozen=True, slots=True)
class ServiceState:
    """What one service looks like now."""

    name: str
    status: ServiceStatus
    since: float | None
    targets: list[TargetState]
    incidents: list[str]
    """Ids of the open incidents naming this service."""


@dataclass(frozen=True, slots=True)
class VantageState:
    """One vantage: when it was last heard from and how its results look."""

    name: str
    local: bool
    country: str | None
    in_country: bool
    last_seen: float | None
    targets: int
    ok: int
    health: VantageHealth
    reason: str = ""
    clock_offset_s: float | None = None
    """How far its clock is estimated to run behind the server's (agents only)."""


Listener = Callable[[ChangeKind, dict[str, Any]], object]

CLOCK_SAMPLES = 16
"""An agent's clock offset is the smallest delay over this many of its latest batches."""


class CurrentState:
    """The current state of everything watched; see the module docstring."""

    def __init__(self, config: Config, policy: StatePolicy | None = None) -> None:
        self.policy = policy or StatePolicy()
        self.lock = threading.RLock()
        """Held by whoever updates the paths (detection on its worker thread) and by readers
        that walk them, so nobody sees a table half-updated."""
        self._listeners: list[Listener] = []
        self._mutes: dict[str, Mute] = {}
        self.mutes_version = 0
        """Counts mute changes (the detector re-checks maintenance labels on a change)."""
        self._incidents: dict[str, Incident] = {}
        self._clock_samples: dict[str, deque[float]] = {}
        self.configure(config)
        self.paths = PathTable(
            self.policy.health, controls=self._controls, in_country=self._in_country
        )
        self.paths.add_listener(self._path_changed)

    def configure(self, config: Config) -> None:
        """Take the targets, services and vantages of `config` (also on a reload)."""
        self.config = config
        self._service_of: dict[str, str | None] = {t.name: t.service for t in config.targets}
        self._interval: dict[str, float] = {t.name: t.interval_s for t in config.targets}
        self._controls = frozenset(t.name for t in config.targets if t.control)
        self._targets_of: dict[str, list[str]] = {s.name: [] for s in config.services}
        for t in config.targets:
            if t.service is not None and not t.control:
                self._targets_of.setdefault(t.service, []).append(t.name)
        self._in_country = {config.vantage.name: config.vantage.in_country}
        self._country = {config.vantage.name: config.vantage.country}
        for agent in config.agents:
            self._in_country[agent.name] = agent.in_country
            self._country[agent.name] = agent.country
        self._shortest: dict[str, float] = {}
        """Per vantage, the shortest probe interval of the targets it reports on."""
        if hasattr(self, "paths"):
            self.paths.controls = self._controls
            self.paths.in_country.update(self._in_country)
            for vantage in self.paths.vantages():
                intervals = [self.interval_of(t) for t in self.paths.targets_of(vantage)]
                self._shortest[vantage] = min(intervals, default=self.policy.default_interval_s)

    # -- feeding --------------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        """Call `listener(kind, data)` on every change: `state` (a path appeared or changed
        state; data is its pair), `incident` (an incident event), `mutes` (set or lifted)."""
        self._listeners.append(listener)

    def observe(self, m: Measurement) -> PathChange:
        """Take one measurement in stream order (live detection does; see the module doc)."""
        return self.paths.observe(m)

    def observe_newer(self, m: Measurement) -> bool:
        """Take one measurement where nothing keeps stream order (a process without
        detection): one no newer than its path's newest is skipped, and vantages are judged
        again when a path changed state. Whether it was taken."""
        record = self.paths.get(m.target, m.vantage)
        if record is not None and m.ts <= record.last_ts:
            return False
        if self.paths.observe(m).state_changed:
            self.paths.rejudge_vantages(m.ts)
        return True

    def observe_clock(self, vantage: str, batch: Sequence[Measurement], received_at: float) -> None:
        """Take one batch an agent shipped, received at `received_at` (the server's clock).

        Each measurement ends at `ts` plus its duration on the agent's clock; it cannot
        reach the server before it ends, so received minus end is the agent's clock offset
        plus a delay. The smallest such figure over the last batches is the estimate
        (`clock_offset`): positive when the agent's clock runs behind the server's.
        """
        sample = min(received_at - m.ts - m.timings.get("total", 0.0) for m in batch)
        self._clock_samples.setdefault(vantage, deque(maxlen=CLOCK_SAMPLES)).append(sample)

    def clock_offset(self, vantage: str) -> float | None:
        """How far `vantage`'s clock is estimated to run behind the server's (s), or None
        for a vantage that never shipped a batch (this server's own, or a silent agent)."""
        samples = self._clock_samples.get(vantage)
        return min(samples) if samples else None

    def clock_offsets(self) -> dict[str, float]:
        """Every estimated agent clock offset, by vantage."""
        return {v: min(s) for v, s in self._clock_samples.items() if s}

    def apply_event(self, event: IncidentEvent) -> None:
        """Take one incident event: the open incidents change."""
        self.replace_incident(event.incident, event.kind.value, event.ts)

    def replace_incident(self, incident: Incident, kind: str, ts: float) -> None:
        """Take an incident read from elsewhere (a store): open ones are held."""
        if incident.open:
            self._incidents[incident.id] = incident
        else:
            self._incidents.pop(incident.id, None)
        self._tell("incident", _incident_change(incident, kind, ts))

    def set_mutes(self, mutes: Iterable[Mute]) -> None:
        """Replace the maintenance mutes."""
        self._mutes = {m.target: m for m in mutes}
        self._mutes_changed()

    def mute(self, mute: Mute) -> None:
        """Mute one target until `mute.until`."""
        self._mutes[mute.target] = mute
        self._mutes_changed()

    def unmute(self, target: str) -> bool:
        """Lift a target's mute; whether it had one."""
        found = self._mutes.pop(target, None) is not None
        self._mutes_changed()
        return found

    def _mutes_changed(self) -> None:
        self.mutes_version += 1
        self._tell("mutes", {"targets": sorted(self._mutes)})

    def _path_changed(self, record: PathRecord) -> None:
        interval = self.interval_of(record.target)
        shortest = self._shortest.get(record.vantage)
        if shortest is None or interval < shortest:
            self._shortest[record.vantage] = interval
        self._tell("state", self._pair(record, None).to_json())

    def _tell(self, kind: ChangeKind, data: dict[str, Any]) -> None:
        for listener in list(self._listeners):
            listener(kind, data)

    # -- the rules ------------------------------------------------------------------------

    def interval_of(self, target: str) -> float:
        """The probe interval of `target` (the default for one not configured)."""
        return self._interval.get(target, self.policy.default_interval_s)

    def stale_after(self, target: str) -> float:
        """Seconds after which a result of `target` no longer counts."""
        return self.policy.stale_intervals * self.interval_of(target)

    def silent_after(self, vantage: str) -> float:
        """Seconds without any result after which `vantage` is silent."""
        shortest = self._shortest.get(vantage, self.policy.default_interval_s)
        return max(self.policy.silent_min_s, self.policy.silent_intervals * shortest)

    def silent(self, vantage: str, now: float) -> bool:
        """Whether `vantage` has been silent too long for its results to count."""
        seen = self.paths.last_seen.get(vantage)
        return seen is None or now - seen > self.silent_after(vantage)

    def judge(self, target: str, now: float) -> Judgement:
        """How `target` fares across vantages at `now` (`state.judge.judge_target`)."""
        paths = [p for p in self.paths.paths_of(target) if not self.silent(p.vantage, now)]
        return judge_target(
            paths,
            impaired=self.paths.impaired,
            in_country=self.paths.in_country,
            now=now,
            stale_s=self.stale_after(target),
            impaired_until=self.paths.impaired_until,
        )

    def muted(self, target: str, now: float) -> Mute | None:
        """The mute on `target` in force at `now`, or None."""
        mute = self._mutes.get(target)
        return mute if mute is not None and mute.in_force(now) else None

    def mutes(self, now: float | None = None) -> list[Mute]:
        """Every mute (in force at `now`, when given), by target."""
        return [m for _, m in sorted(self._mutes.items()) if now is None or m.in_force(now)]

    def mute_map(self) -> dict[str, Mute]:
        """Every mute held, by target (expired ones included: rules check `until`)."""
        return dict(self._mutes)

    def open_incidents(self) -> list[Incident]:
        """The open incidents, oldest first."""
        return sorted(self._incidents.values(), key=lambda i: (i.start, i.id))

    # -- views ----------------------------------------------------------------------------

    def _pair(self, record: PathRecord, judgement: Judgement | None) -> PairView:
        ok = not record.failing
        if judgement is not None and record.vantage in judgement.down:
            ok = False  # corroborated: other vantages see the same target fail at once
        return PairView(
            record.target,
            record.vantage,
            record.kind,
            ok,
            record.state.value,
            record.outcome,
            record.phase,
            record.since,
            record.last_ts,
            record.latency_s,
            record.address,
            record.failures,
            record.cert_days_left,
        )

    def fresh_pairs(self, target: str, now: float) -> list[PairView]:
        """The results of `target` that count at `now`, by vantage."""
        return self.target(target, now).pairs

    def pairs(self) -> list[PairView]:
        """Every path held, fresh or not, by target then vantage."""
        return [self._pair(r, None) for r in self.paths.records()]

    def target_names(self) -> list[str]:
        """Configured targets first (config order), then any others results came for."""
        names = list(self._service_of)
        return names + sorted(t for t in self.paths.targets() if t not in self._service_of)

    def is_known_target(self, name: str) -> bool:
        """Whether `name` is configured or has results."""
        return name in self._service_of or self.paths.vantages_of(name) != []

    def service_of(self, target: str) -> str | None:
        """The service `target` belongs to, if any."""
        return self._service_of.get(target)

    def target(self, name: str, now: float) -> TargetState:
        """What `name` looks like at `now`."""
        judgement = self.judge(name, now)
        limit = self.stale_after(name)
        records = [
            r
            for v in sorted(self.paths.vantages_of(name))
            if (r := self.paths.get(name, v)) is not None
            and now - r.last_ts <= limit
            and not self.silent(v, now)
        ]
        pairs = [self._pair(r, judgement) for r in records]
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
        muted = self.muted(name, now)
        return TargetState(
            name, self._service_of.get(name), status, since, pairs, muted, judgement.condition
        )

    def service_names(self) -> list[str]:
        """Configured services, in config order."""
        return list(self._targets_of)

    def service(self, name: str, now: float, vantage: str | None = None) -> ServiceState:
        """What service `name` looks like at `now` (from `vantage` only, when given)."""
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
        return ServiceState(name, status, since, views, incidents)

    def _in_maintenance(self, service: str, now: float) -> bool:
        return any(w.covers(service, now) for w in self.config.maintenance)

    def services(self, now: float) -> list[ServiceState]:
        """Every configured service, in config order."""
        return [self.service(s, now) for s in self._targets_of]

    def vantage_names(self) -> list[str]:
        """This server's vantage, the configured agents, then any other vantage heard from."""
        names = [self.config.vantage.name, *(a.name for a in self.config.agents)]
        return names + sorted(v for v in self.paths.last_seen if v not in names)

    def vantages(self, now: float, extra: Iterable[str] = ()) -> list[VantageState]:
        """Every vantage (plus `extra` names) with its health."""
        names = self.vantage_names()
        names += sorted(v for v in set(extra) if v not in names)
        agents = {a.name: a for a in self.config.agents}
        out = []
        for name in names:
            targets = ok = 0
            for t in self.paths.targets_of(name):
                record = self.paths.get(t, name)
                if record is not None and now - record.last_ts <= self.stale_after(t):
                    targets += 1
                    ok += not record.failing
            health: VantageHealth
            reason = ""
            view = self.paths.vantage_views.get(name)
            if self.silent(name, now):
                health = "silent"
                seen = self.paths.last_seen.get(name)
                reason = "never heard from" if seen is None else "no results lately"
            elif name in self.paths.impaired:
                health = "impaired"
                reason = view.reason if view is not None else ""
            else:
                health = "healthy"
            local = name == self.config.vantage.name
            agent = agents.get(name)
            country = self._country.get(name) if (local or agent) else None
            in_country = self._in_country.get(name, False)
            seen = self.paths.last_seen.get(name)
            offset = self.clock_offset(name)
            out.append(
                VantageState(
                    name, local, country, in_country, seen, targets, ok, health, reason, offset
                )
            )
        return out


def _only(view: TargetState, vantage: str) -> TargetState:
    """`view` narrowed to one vantage's result."""
    pairs = [p for p in view.pairs if p.vantage == vantage]
    if not pairs:
        return TargetState(view.name, view.service, "unknown", None, [], view.muted)
    p = pairs[0]
    status: TargetStatus = "up" if p.ok else "down"
    return TargetState(view.name, view.service, status, p.since, pairs, view.muted)


def _incident_change(incident: Incident, kind: str, ts: float) -> dict[str, Any]:
    return {
        "kind": kind,
        "ts": ts,
        "id": incident.id,
        "state": incident.state.value,
        "provisional": incident.confirmed_at is None,
        "cause": incident.cause.value,
        "confidence": incident.confidence,
        "services": list(incident.services),
        "targets": list(incident.targets),
        "start": incident.start,
        "end": incident.end,
    }

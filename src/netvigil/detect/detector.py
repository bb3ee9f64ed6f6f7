"""The streaming outage detector: measurements in, incident events out (pure, no I/O).

Time comes only from measurement timestamps. Measurements may arrive out of order by up
to `lateness_s`: they wait in a reorder buffer and are processed in (ts, id) order once
the watermark (the newest timestamp seen, minus `lateness_s`) has passed them, so any
arrival order within the bound yields the same incidents. A measurement older than the
watermark on arrival is counted in `late` and dropped.

Per measurement: the path's health (`health.py`) and history (`features.py`) are
updated; when a path changes state, vantages and the target are judged again
(`correlate.py`), failing targets are grouped into co-fated incidents, and incidents
are confirmed, classified (`netvigil.classify`) and resolved. Open incidents are
classified again every `reclassify_s` of stream time, so a cause can change as evidence
grows (the history is kept).

Planned maintenance (the config's `[[maintenance]]` windows, and targets muted with
`set_mutes`) labels an incident (`Incident.maintenance`) and makes its events quiet;
see `netvigil.maintenance`.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from netvigil.cause import Cause
from netvigil.classify import RULES, Rule, classify
from netvigil.classify.weights import DEFAULT_WEIGHTS
from netvigil.config.model import Config
from netvigil.detect.baseline import AnomalyDetector
from netvigil.detect.correlate import (
    FAILING,
    TargetCondition,
    TargetView,
    VantageCounts,
    VantageView,
    judge_target,
    judge_vantages,
)
from netvigil.detect.features import FeatureSettings, PathHistory, compute_features
from netvigil.detect.health import HealthPolicy, HealthState, PathHealth
from netvigil.evidence import EvidenceWindow, OrgPeer, VantageFacts
from netvigil.incident import CauseChange, EventKind, Incident, IncidentEvent, IncidentState
from netvigil.maintenance import Mute, maintenance_note
from netvigil.model import Measurement

__all__ = ["Detector", "DetectorSettings"]


@dataclass(frozen=True, slots=True)
class DetectorSettings:
    """Tunables; durations in probe intervals are multiplied by each target's interval_s.

    stale_intervals    a path without data for this long is set aside
    resolve_intervals  an incident resolves once its targets stayed out of failure this long
                       (so a flapping target does not chop one outage into many)
    hold_intervals     a partial failure (some vantages only) waits this long before it
                       opens an incident, unless the failing vantages' controls vouch for them;
                       filtering (in-country down, abroad fine) is confirmed after this long
    cofate_intervals   services of one organization failing this close to an incident's
                       onset join it (services on the same network always do)
    reclassify_s       open incidents are classified again this often (stream seconds), or
                       every `reclassify_intervals` probe intervals when that is sooner
    switch_margin      a new cause must beat the current one by this much probability
    """

    health: HealthPolicy = field(default_factory=HealthPolicy)
    features: FeatureSettings = field(default_factory=FeatureSettings)
    stale_intervals: float = 5.0
    hold_intervals: float = 3.0
    resolve_intervals: float = 5.0
    cofate_intervals: float = 3.0
    reclassify_s: float = 15.0
    reclassify_intervals: float = 1.0
    switch_margin: float = 0.1
    default_interval_s: float = 60.0


@dataclass(frozen=True, slots=True)
class _TargetInfo:
    service: str | None
    network: str | None
    organization: str | None
    control: bool
    interval_s: float


@dataclass(slots=True)
class _Tracked:
    """Detector-side state of one incident."""

    incident: Incident
    onsets: dict[str, tuple[float, str | None]] = field(default_factory=dict)
    last_classified: float = float("-inf")
    seeded: bool = False
    signature: tuple[int, int, IncidentState] | None = None
    quiet_since: float | None = None
    """When the last affected target stopped failing (the incident resolves after a hold)."""
    recovered_at: float | None = None
    complete_seen: bool = False
    """Loss was once steady and complete for `hold_intervals`: answers afterwards are recovery."""
    answered_at: float | None = None
    """When a member path answered again after complete loss."""
    announced_maintenance: str | None = None
    """The maintenance label of the incident's latest event (a mute set, lifted or expired
    since changes it: an `updated` event says so)."""


class Detector:
    """Streaming detector; see the module docstring.

    Usage::

        detector = Detector(config, lateness_s=30)
        for m in measurements:
            for event in detector.feed(m):
                ...
        detector.advance(now)      # live: let the watermark move without new data
        detector.flush()           # replay: process whatever is still buffered
    """

    def __init__(
        self,
        config: Config,
        *,
        lateness_s: float = 30.0,
        settings: DetectorSettings | None = None,
        rules: Sequence[Rule] | None = None,
        weights: Mapping[str, float] | None = None,
        incidents: Iterable[Incident] = (),
        anomaly_detector: type[AnomalyDetector] | None = None,
    ) -> None:
        if lateness_s < 0:
            raise ValueError("lateness_s must be >= 0")
        self.config = config
        self.lateness_s = lateness_s
        self.settings = settings or DetectorSettings()
        self.rules: Sequence[Rule] = rules if rules is not None else RULES
        self.weights: Mapping[str, float] = {**DEFAULT_WEIGHTS, **(weights or {})}
        self._anomaly_detector = anomaly_detector
        self.late = 0
        """Measurements dropped because they arrived behind the watermark."""
        self._buffer: list[tuple[float, str, str, str, Measurement]] = []
        self._buffered_ids: set[str] = set()
        self._max_ts = float("-inf")
        self._processed_to = float("-inf")
        self._now = float("-inf")
        self._targets: dict[str, _TargetInfo] = {}
        self._service_targets: dict[str, list[str]] = {}
        self._network_services: dict[str, list[str]] = {}
        self._org_services: dict[str, list[str]] = {}
        self._index_config()
        self._in_country: dict[str, bool] = {config.vantage.name: config.vantage.in_country}
        self._country: dict[str, str | None] = {config.vantage.name: config.vantage.country}
        for agent in config.agents:
            self._in_country[agent.name] = agent.in_country
            self._country[agent.name] = agent.country
        self._paths: dict[tuple[str, str], PathHealth] = {}
        self._histories: dict[tuple[str, str], PathHistory] = {}
        self._target_vantages: dict[str, list[str]] = {}
        self._vantage_targets: dict[str, list[str]] = {}
        self._counts: dict[str, VantageCounts] = {}
        self._vantage_views: dict[str, VantageView] = {}
        self._impaired: set[str] = set()
        self._impaired_until: dict[str, float] = {}
        """When each vantage last stopped being impaired."""
        self._views: dict[str, TargetView] = {}
        self._pending: dict[str, float] = {}
        self._tracked: dict[str, _Tracked] = {}
        self._order: list[str] = []
        self._open: dict[str, None] = {}
        self._quieting: dict[str, None] = {}
        self._opened_now: set[str] = set()
        self._filtered_since: dict[str, float] = {}
        self._awaiting: dict[str, float] = {}
        self._target_incident: dict[str, str] = {}
        self._vantage_incident: dict[str, str] = {}
        self._unverified: dict[str, str] = {}
        self._dirty_targets: set[str] = set()
        self._dirty_incidents: set[str] = set()
        self._mutes: dict[str, Mute] = {}
        self._labels_due = float("inf")
        """When a maintenance label may next change by itself: a mute set or lifted
        (now), a mute running out, a window opening or closing."""
        self.seed(incidents)

    # -- configuration -------------------------------------------------------------

    def _index_config(self) -> None:
        services = {s.name: s for s in self.config.services}
        for spec in self.config.targets:
            svc = services.get(spec.service) if spec.service else None
            self._targets[spec.name] = _TargetInfo(
                service=spec.service,
                network=svc.network if svc else None,
                organization=svc.organization if svc else None,
                control=spec.control,
                interval_s=spec.interval_s,
            )
            if spec.service:
                self._service_targets.setdefault(spec.service, []).append(spec.name)
        for svc in self.config.services:
            if svc.network:
                self._network_services.setdefault(svc.network, []).append(svc.name)
            if svc.organization:
                self._org_services.setdefault(svc.organization, []).append(svc.name)

    def _info(self, target: str) -> _TargetInfo:
        info = self._targets.get(target)
        if info is None:
            info = _TargetInfo(target, None, None, False, self.settings.default_interval_s)
            self._targets[target] = info
            self._service_targets.setdefault(target, []).append(target)
        return info

    # -- public API ----------------------------------------------------------------

    @property
    def watermark(self) -> float:
        """Measurements older than this have been processed (or will be dropped as late)."""
        return max(self._processed_to, self._max_ts - self.lateness_s)

    def feed(self, m: Measurement) -> list[IncidentEvent]:
        """Take one measurement; return the events that processing it (and older ones) caused."""
        if m.ts < self._processed_to:
            self.late += 1
            return []
        if m.id in self._buffered_ids:
            return []
        self._buffered_ids.add(m.id)
        heapq.heappush(self._buffer, (m.ts, m.id, m.vantage, m.target, m))
        if m.ts > self._max_ts:
            self._max_ts = m.ts
        return self._drain(self._max_ts - self.lateness_s)

    def feed_many(self, measurements: Iterable[Measurement]) -> list[IncidentEvent]:
        """Feed several measurements; return all events."""
        events: list[IncidentEvent] = []
        for m in measurements:
            events.extend(self.feed(m))
        return events

    def advance(self, ts: float) -> list[IncidentEvent]:
        """Stream time has reached `ts`: process everything older than `ts - lateness_s`."""
        return self._drain(ts - self.lateness_s)

    def flush(self) -> list[IncidentEvent]:
        """Process everything buffered (end of a replay)."""
        if not self._buffer:
            return []
        return self._drain(self._max_ts + 1e-9)

    def incidents(self) -> list[Incident]:
        """Snapshots of all incidents (open and resolved), oldest first."""
        return [self._tracked[i].incident.copy() for i in self._order]

    def open_incidents(self) -> list[Incident]:
        """Snapshots of the open incidents, oldest first."""
        return [inc for inc in self.incidents() if inc.open]

    def seed(self, incidents: Iterable[Incident]) -> None:
        """Adopt incidents still open from an earlier run (e.g. reloaded from the store).

        A seeded incident takes its targets back when they fail again, and resolves once
        each of its targets has recovered from some vantage.
        """
        for inc in incidents:
            if not inc.open or inc.id in self._tracked:
                continue
            own = inc.copy()
            tracked = _Tracked(own, seeded=True, announced_maintenance=own.maintenance)
            tracked.signature = (len(own.targets), len(own.vantages), own.state)
            self._tracked[own.id] = tracked
            self._order.append(own.id)
            self._open[own.id] = None
            if own.vantage is not None:
                self._vantage_incident[own.vantage] = own.id
                continue
            for target in own.targets:
                self._target_incident.setdefault(target, own.id)
                self._unverified[target] = own.id

    def set_mutes(self, mutes: Iterable[Mute]) -> None:
        """Replace the targets muted for maintenance (none unless set: replay ignores them).

        From now on an incident whose every target is muted at the stream time of its
        next event (or covered by a `[[maintenance]]` window) is labelled maintenance
        and its events are quiet; once a mute is lifted or expires they are not.
        """
        self._mutes = {m.target: m for m in mutes}
        self._labels_due = float("-inf")

    # -- processing ----------------------------------------------------------------

    def _drain(self, watermark: float) -> list[IncidentEvent]:
        events: list[IncidentEvent] = []
        buffer = self._buffer
        while buffer and buffer[0][0] < watermark:
            m = heapq.heappop(buffer)[4]
            self._buffered_ids.discard(m.id)
            self._process(m, events)
        if watermark > self._processed_to:
            self._processed_to = watermark
        return events

    def _process(self, m: Measurement, events: list[IncidentEvent]) -> None:
        self._now = m.ts
        key = (m.target, m.vantage)
        path = self._paths.get(key)
        if path is None:
            path = self._new_path(m.target, m.vantage)
        self._histories[key].observe(m)
        before = path.state
        first = not path.has_data
        was_corroborating = path.corroborating
        changed = path.observe(m)
        info = self._targets[m.target]
        counts = self._counts[m.vantage]
        if first:
            counts.paths += 1
            if info.control:
                counts.controls += 1
        if changed or first:
            self._count_transition(counts, info.control, before, path.state, first)
            if changed:
                self._dirty_targets.add(m.target)
                self._rejudge_vantages()
        elif path.corroborating is not was_corroborating:
            # Not a state change of its own, but it may tip the target with other vantages.
            self._dirty_targets.add(m.target)
        if self._unverified and m.target in self._unverified:
            self._check_unverified(m.target)
        if self._quieting:
            self._dirty_incidents.update(self._quieting)
        if self._awaiting:
            for inc_id, due in list(self._awaiting.items()):
                if m.ts >= due:
                    del self._awaiting[inc_id]
                    self._dirty_incidents.add(inc_id)
        if self._dirty_targets or self._pending or self._dirty_incidents:
            self._evaluate(events)
        self._reclassify_due(events)

    def _new_path(self, target: str, vantage: str) -> PathHealth:
        self._info(target)
        key = (target, vantage)
        path = PathHealth(target, vantage, self.settings.health)
        self._paths[key] = path
        detector = self._anomaly_detector() if self._anomaly_detector is not None else None
        self._histories[key] = PathHistory(self.settings.features, detector)
        self._target_vantages.setdefault(target, []).append(vantage)
        self._vantage_targets.setdefault(vantage, []).append(target)
        if vantage not in self._counts:
            self._counts[vantage] = VantageCounts()
            self._in_country.setdefault(vantage, False)
            self._country.setdefault(vantage, None)
        return path

    @staticmethod
    def _count_transition(
        counts: VantageCounts, control: bool, before: HealthState, after: HealthState, first: bool
    ) -> None:
        if not first:
            if before is HealthState.DOWN:
                counts.down -= 1
                if control:
                    counts.controls_down -= 1
            if control and before is not HealthState.OK:
                counts.controls_bad -= 1
        if after is HealthState.DOWN:
            counts.down += 1
            if control:
                counts.controls_down += 1
        if control and after is not HealthState.OK:
            counts.controls_bad += 1

    def _rejudge_vantages(self) -> None:
        views = judge_vantages(self._counts, self._in_country)
        impaired = {name for name, view in views.items() if view.impaired}
        self._vantage_views = views
        if impaired != self._impaired:
            for vantage in sorted(impaired ^ self._impaired):
                self._dirty_targets.update(self._vantage_targets.get(vantage, ()))
            for vantage in self._impaired - impaired:
                self._impaired_until[vantage] = self._now
            self._impaired = impaired

    def _hold_s(self, target: str) -> float:
        return self.settings.hold_intervals * self._targets[target].interval_s

    def _stale_s(self, target: str) -> float:
        return self.settings.stale_intervals * self._targets[target].interval_s

    def _judge(self, target: str) -> TargetView:
        paths = [self._paths[(target, v)] for v in self._target_vantages.get(target, ())]
        return judge_target(
            paths,
            impaired=self._impaired,
            in_country=self._in_country,
            now=self._now,
            stale_s=self._stale_s(target),
        )

    def _controls_vouch(self, vantages: Iterable[str]) -> bool:
        for v in vantages:
            c = self._counts.get(v)
            if c is None or not c.controls or c.controls_bad:
                return False
        return True

    def _evaluate(self, events: list[IncidentEvent]) -> None:
        now = self._now
        self._opened_now.clear()
        dirty = sorted(self._dirty_targets)
        self._dirty_targets.clear()
        for target in dirty:
            view = self._judge(target)
            self._views[target] = view
            if view.condition is TargetCondition.FILTERED:
                self._filtered_since.setdefault(target, now)
            else:
                self._filtered_since.pop(target, None)
            inc_id = self._target_incident.get(target)
            own = self._tracked.get(inc_id) if inc_id is not None else None
            if own is not None:
                self._dirty_incidents.add(own.incident.id)
            if view.condition in FAILING:
                if own is not None and own.incident.open:
                    self._join(own, target, view)
                    self._pending.pop(target, None)
                elif view.condition is not TargetCondition.DEGRADED or self._controls_vouch(
                    view.down
                ):
                    self._attach(target, view, events)
                else:
                    self._pending.setdefault(target, now)
            else:
                self._pending.pop(target, None)
        for target, since in sorted(self._pending.items()):
            if now - since >= self._hold_s(target):
                del self._pending[target]
                view = self._judge(target)
                self._views[target] = view
                if view.condition in FAILING:
                    self._attach(target, view, events)
        self._update_vantage_incidents(events)
        for inc_id in sorted(self._dirty_incidents):
            tracked = self._tracked.get(inc_id)
            if tracked is not None:
                self._refresh(tracked, events)
        self._dirty_incidents.clear()

    # -- grouping ------------------------------------------------------------------

    def _attach(self, target: str, view: TargetView, events: list[IncidentEvent]) -> None:
        info = self._targets[target]
        onset = view.onset_ts if view.onset_ts is not None else self._now
        candidates = [
            self._tracked[i] for i in self._open if self._tracked[i].incident.vantage is None
        ]
        chosen: _Tracked | None = None
        for t in candidates:
            if info.service is not None and info.service in t.incident.services:
                chosen = t
                break
        if chosen is None and info.network is not None:
            chosen = next((t for t in candidates if info.network in t.incident.networks), None)
        if chosen is None and info.organization is not None:
            window = self.settings.cofate_intervals * info.interval_s
            chosen = next(
                (
                    t
                    for t in candidates
                    if info.organization in t.incident.organizations
                    and abs(t.incident.start - onset) <= window
                ),
                None,
            )
        if chosen is None:
            inc_id = f"inc-{view.onset_id or target}"
            while inc_id in self._tracked:
                inc_id += "+"
            incident = Incident(
                id=inc_id,
                state=IncidentState.SUSPECTED,
                start=onset,
                first_measurement_id=view.onset_id,
                updated=self._now,
            )
            chosen = _Tracked(incident)
            self._tracked[inc_id] = chosen
            self._order.append(inc_id)
            self._open[inc_id] = None
            self._opened_now.add(inc_id)
            self._join(chosen, target, view)
            self._views[target] = view
            self._classify(chosen, events)
            events.append(self._event(EventKind.OPENED, chosen))
            return
        self._join(chosen, target, view)

    def _join(self, tracked: _Tracked, target: str, view: TargetView) -> None:
        inc = tracked.incident
        info = self._targets[target]
        self._unverified.pop(target, None)
        self._target_incident[target] = inc.id
        if view.onset_ts is not None:
            old = tracked.onsets.get(target)
            if old is None or view.onset_ts < old[0]:
                tracked.onsets[target] = (view.onset_ts, view.onset_id)
            if view.onset_ts < inc.start:
                inc.start = view.onset_ts
                inc.first_measurement_id = view.onset_id
        _add(inc.targets, target)
        if info.service is not None:
            _add(inc.services, info.service)
        if info.network is not None:
            _add(inc.networks, info.network)
        if info.organization is not None:
            _add(inc.organizations, info.organization)
        for v in view.down:
            _add(inc.vantages, v)
        inc.maintenance = self._maintenance(inc)
        self._dirty_incidents.add(inc.id)

    def _update_vantage_incidents(self, events: list[IncidentEvent]) -> None:
        for vantage in sorted(self._impaired):
            inc_id = self._vantage_incident.get(vantage)
            tracked = self._tracked.get(inc_id) if inc_id else None
            if tracked is None or not tracked.incident.open:
                down = [
                    self._paths[(t, vantage)]
                    for t in self._vantage_targets.get(vantage, ())
                    if self._paths[(t, vantage)].state is HealthState.DOWN
                ]
                first = min(
                    down, key=lambda p: (p.episode_start_ts or self._now, p.target), default=None
                )
                start = (first.episode_start_ts if first else None) or self._now
                inc_id = f"inc-vantage-{vantage}-{first.episode_start_id if first else start}"
                while inc_id in self._tracked:
                    inc_id += "+"
                incident = Incident(
                    id=inc_id,
                    state=IncidentState.SUSPECTED,
                    start=start,
                    first_measurement_id=first.episode_start_id if first else None,
                    vantage=vantage,
                    vantages=[vantage],
                    updated=self._now,
                )
                tracked = _Tracked(incident)
                self._tracked[inc_id] = tracked
                self._order.append(inc_id)
                self._open[inc_id] = None
                self._vantage_incident[vantage] = inc_id
                self._opened_now.add(inc_id)
            inc = tracked.incident
            before = (len(inc.targets), len(inc.services))
            for t in self._vantage_targets.get(vantage, ()):
                if self._paths[(t, vantage)].state is HealthState.DOWN:
                    _add(inc.targets, t)
                    svc = self._targets[t].service
                    if svc is not None:
                        _add(inc.services, svc)
            if inc.id in self._opened_now:
                self._classify(tracked, events)
                events.append(self._event(EventKind.OPENED, tracked))
            if before != (len(inc.targets), len(inc.services)) or inc.state is not (
                IncidentState.CONFIRMED
            ):
                self._dirty_incidents.add(inc.id)
        for vantage, inc_id in sorted(self._vantage_incident.items()):
            known = self._tracked.get(inc_id)
            if vantage not in self._impaired and known is not None and known.incident.open:
                self._dirty_incidents.add(inc_id)

    # -- incident life -------------------------------------------------------------

    def _refresh(self, tracked: _Tracked, events: list[IncidentEvent]) -> None:
        inc = tracked.incident
        if not inc.open:
            return
        now = self._now
        if inc.vantage is not None:
            failing = inc.vantage in self._impaired
            confirmed = failing
        else:
            views = [self._views.get(t) for t in inc.targets]
            failing = any(v is not None and v.condition in FAILING for v in views)
            confirmed = any(v is not None and v.condition is TargetCondition.DOWN for v in views)
            due = [
                self._filtered_since[t] + self._hold_s(t)
                for t in inc.targets
                if t in self._filtered_since
            ]
            if any(now >= d for d in due) or self._filtering_corroborated(inc):
                confirmed = True
            elif due and inc.confirmed_at is None:
                self._awaiting[inc.id] = min(due)
            if tracked.seeded and not failing:
                failing = any(t in self._unverified for t in inc.targets)
        if not failing:
            explained = inc.confirmed_at is None and any(
                (v := self._views.get(t)) is not None
                and v.condition is TargetCondition.VANTAGE_ONLY
                for t in inc.targets
            )
            if tracked.quiet_since is None:
                tracked.quiet_since = now
                tracked.recovered_at = self._recovery_ts(inc)
            if not explained and now - tracked.quiet_since < self._resolve_hold(inc):
                self._quieting[inc.id] = None
                return
            self._quieting.pop(inc.id, None)
            self._open.pop(inc.id, None)
            inc.state = IncidentState.RESOLVED
            inc.end = tracked.recovered_at
            inc.updated = now
            events.append(self._event(EventKind.RESOLVED, tracked))
            if inc.confirmed_at is None:
                # Never confirmed (noise, or explained away by a failing vantage): withdrawn.
                self._order.remove(inc.id)
                del self._tracked[inc.id]
                self._awaiting.pop(inc.id, None)
                for t in inc.targets:
                    if self._target_incident.get(t) == inc.id:
                        del self._target_incident[t]
                if inc.vantage is not None and self._vantage_incident.get(inc.vantage) == inc.id:
                    del self._vantage_incident[inc.vantage]
            return
        if tracked.quiet_since is not None:
            tracked.quiet_since = None
            tracked.recovered_at = None
            self._quieting.pop(inc.id, None)
        kind = EventKind.UPDATED
        if confirmed and inc.state is IncidentState.SUSPECTED:
            inc.state = IncidentState.CONFIRMED
            inc.confirmed_at = now
            kind = EventKind.CONFIRMED
        if inc.vantage is None:
            for t in inc.targets:
                tview = self._views.get(t)
                if tview is not None and tview.condition in FAILING:
                    for name in tview.down:
                        _add(inc.vantages, name)
        self._classify(tracked, events)
        signature = (len(inc.targets), len(inc.vantages), inc.state)
        if kind is EventKind.CONFIRMED or (
            signature != tracked.signature and inc.id not in self._opened_now
        ):
            inc.updated = now
            events.append(self._event(kind, tracked))
        tracked.signature = signature

    def _filtering_corroborated(self, inc: Incident) -> bool:
        """Whether filtering is confirmed before the hold: several services (or several
        in-country vantages) fail at once, the failing vantages' controls answer, and every
        vantage abroad answered since."""
        answered = [
            t for t in inc.targets if t in self._filtered_since and self._abroad_answered(t)
        ]
        if not answered:
            return False
        services = {self._targets[t].service or t for t in answered}
        vantages = {v for t in answered for v in self._views[t].down}
        # The in-country vantages must vouch for themselves: their own controls answer,
        # without a single recent failure (a vantage losing its link fails everything,
        # its controls a moment later).
        if not self._controls_vouch(vantages):
            return False
        # ... and must have vouched all along: failures that began while a vantage was
        # impaired (its link coming back before the paths recover) are no filtering.
        onset = min(self._views[t].onset_ts or self._now for t in answered)
        if any(self._impaired_until.get(v, float("-inf")) >= onset for v in vantages):
            return False
        return len(services) >= 2 or len(vantages) >= 2

    def _abroad_answered(self, target: str) -> bool:
        """Whether every vantage abroad answered `recover` probes in a row, and failed none,
        since the in-country failure began: then it is not a wider outage abroad has yet
        to see, and filtering needs no longer hold."""
        view = self._views.get(target)
        if view is None or view.onset_ts is None:
            return False
        need = self.settings.health.recover
        abroad = 0
        for v in self._target_vantages.get(target, ()):
            if self._in_country.get(v, False) or v in self._impaired:
                continue
            samples = self._histories[(target, v)].since(view.onset_ts)
            if len(samples) < need or not all(s.ok for s in samples):
                return False
            abroad += 1
        return abroad > 0

    def _resolve_hold(self, inc: Incident) -> float:
        interval = min(
            (self._targets[t].interval_s for t in inc.targets if t in self._targets),
            default=self.settings.default_interval_s,
        )
        return self.settings.resolve_intervals * interval

    def _recovery_ts(self, inc: Incident) -> float:
        end = None
        for t in inc.targets:
            for v in self._target_vantages.get(t, ()):
                if inc.vantage is not None and v != inc.vantage:
                    continue
                p = self._paths[(t, v)]
                if p.state is HealthState.OK and p.ok_run_start_ts is not None:
                    end = p.ok_run_start_ts if end is None else max(end, p.ok_run_start_ts)
        return end if end is not None else self._now

    def _check_unverified(self, target: str) -> None:
        inc_id = self._unverified[target]
        tracked = self._tracked.get(inc_id)
        if tracked is None or not tracked.incident.open:
            del self._unverified[target]
            return
        paths = [self._paths[(target, v)] for v in self._target_vantages.get(target, ())]
        if any(p.recovered for p in paths if p.vantage not in self._impaired):
            del self._unverified[target]
            self._dirty_incidents.add(inc_id)

    def _reclassify_every(self, inc: Incident) -> float:
        interval = min(
            (self._targets[t].interval_s for t in inc.targets if t in self._targets),
            default=self.settings.default_interval_s,
        )
        return min(self.settings.reclassify_s, self.settings.reclassify_intervals * interval)

    def _relabel_due(self) -> bool:
        """Whether maintenance labels may have changed since they were last checked
        (see `_labels_due`); when so, the next such moment is found."""
        now = self._now
        if now < self._labels_due:
            return False
        edges = [m.until for m in self._mutes.values()]
        if self._mutes:
            edges += [t for w in self.config.maintenance for t in (w.start_ts, w.end_ts)]
        self._labels_due = min((t for t in edges if t > now), default=float("inf"))
        return True

    def _reclassify_due(self, events: list[IncidentEvent]) -> None:
        relabel = self._relabel_due()
        for inc_id in list(self._open):
            tracked = self._tracked[inc_id]
            inc = tracked.incident
            if relabel and self._maintenance(inc) != tracked.announced_maintenance:
                inc.updated = self._now  # a mute was set, lifted or ran out
                events.append(self._event(EventKind.UPDATED, tracked))
            if tracked.quiet_since is None and self._now - tracked.last_classified >= (
                self._reclassify_every(inc)
            ):
                cause, confidence = inc.cause, inc.confidence
                self._classify(tracked, events)
                if inc.cause is cause and abs(inc.confidence - confidence) >= 0.05:
                    events.append(self._event(EventKind.UPDATED, tracked))

    def _classify(self, tracked: _Tracked, events: list[IncidentEvent]) -> None:
        inc = tracked.incident
        if tracked.seeded and not tracked.onsets and inc.vantage is None:
            return
        if inc.cause_history and inc.vantage is None:
            if not any(
                (v := self._views.get(t)) is not None and v.condition in FAILING
                for t in inc.targets
            ):
                return
            if tracked.complete_seen and self._answering(inc):
                # Loss was complete and probes answer again: the outage is ending, and the
                # partial loss of a recovery must not rewrite the cause it was judged to
                # have. Only a partial regime that outlasts the hold (a flood going on
                # behind a lifted cut) is judged again.
                if tracked.answered_at is None:
                    tracked.answered_at = self._now
                if self._now - tracked.answered_at < self._hold_s(inc.targets[0]):
                    return
            else:
                tracked.answered_at = None
        tracked.last_classified = self._now
        window = self._window(tracked)
        f = window.features
        if f.steady_complete and f.complete_s >= self.settings.hold_intervals * f.interval_s:
            tracked.complete_seen = True
        result = classify(window, self.rules)
        inc.features = window.features
        inc.probabilities = result.probabilities
        inc.evidence = result.evidence
        inc.maintenance = window.maintenance
        winner = result.cause
        if not inc.cause_history:
            self._set_cause(inc, winner, result.confidence)
            return
        current = result.probabilities.get(inc.cause.value, 0.0)
        if winner is not inc.cause and result.confidence >= current + self.settings.switch_margin:
            self._set_cause(inc, winner, result.confidence)
            events.append(self._event(EventKind.CAUSE_CHANGED, tracked))
        else:
            inc.confidence = current

    def _answering(self, inc: Incident) -> bool:
        """Whether a member path from a failing vantage answered its latest probe."""
        for t in inc.targets:
            for v in inc.vantages:
                p = self._paths.get((t, v))
                if p is not None and p.recent and p.recent[-1] and v not in self._impaired:
                    return True
        return False

    def _set_cause(self, inc: Incident, cause: Cause, confidence: float) -> None:
        inc.cause = cause
        inc.confidence = confidence
        inc.cause_history.append(CauseChange(self._now, cause, round(confidence, 6)))

    def _event(self, kind: EventKind, tracked: _Tracked) -> IncidentEvent:
        inc = tracked.incident
        inc.maintenance = self._maintenance(inc)  # a mute may have come or gone since
        tracked.announced_maintenance = inc.maintenance
        return IncidentEvent(kind, self._now, inc.copy(), quiet=inc.maintenance is not None)

    # -- evidence window -----------------------------------------------------------

    def _window(self, tracked: _Tracked) -> EvidenceWindow:
        inc = tracked.incident
        now = self._now
        vantage_incident = inc.vantage is not None
        members = list(inc.targets)
        paths: list[tuple[str, PathHistory]] = []
        path_onsets: list[float] = []
        member_down: dict[str, int] = {}
        member_total: dict[str, int] = {}
        member_ok: dict[str, int] = {}
        for t in members:
            tview = self._views.get(t)
            down_from = tview.down if tview is not None else ()
            for v in self._target_vantages.get(t, ()):
                p = self._paths[(t, v)]
                if not p.has_data:
                    continue
                member_total[v] = member_total.get(v, 0) + 1
                if p.state is HealthState.DOWN or v in down_from:
                    member_down[v] = member_down.get(v, 0) + 1
                elif p.state is HealthState.OK:
                    member_ok[v] = member_ok.get(v, 0) + 1
                if vantage_incident:
                    use = v == inc.vantage
                else:
                    use = v not in self._impaired and v in inc.vantages
                if use:
                    paths.append((v, self._histories[(t, v)]))
                    path_onsets.append(tracked.onsets.get(t, (inc.start, None))[0])
        vantages = [
            VantageFacts(
                name=v,
                country=self._country.get(v),
                in_country=self._in_country.get(v, False),
                failing=member_down.get(v, 0) > 0,
                impaired=v in self._impaired,
                controls_down=c.controls_down,
                controls_total=c.controls,
                paths_down=c.down,
                paths_total=c.paths,
                members_down=member_down.get(v, 0),
                members_total=member_total.get(v, 0),
                members_ok=member_ok.get(v, 0),
            )
            for v, c in sorted(self._counts.items())
        ]
        services = sorted(inc.services)
        service_onsets: dict[str, float] = {}
        for t, (ts, _) in tracked.onsets.items():
            svc = self._targets[t].service or t
            if svc not in service_onsets or ts < service_onsets[svc]:
                service_onsets[svc] = ts
        spread = (
            max(service_onsets.values()) - min(service_onsets.values()) if service_onsets else 0
        )
        cohosted = sorted(
            {s for n in inc.networks for s in self._network_services.get(n, ())} - set(services)
        )
        cohosted_up = [s for s in cohosted if self._service_up(s)]
        org_peers = self._org_peers(inc)
        interval = min((self._targets[t].interval_s for t in members), default=60.0)
        failing_vantages = [v for v in vantages if v.failing and not v.impaired]
        inside = [v for v in vantages if v.in_country and not v.impaired and v.members_total]
        abroad = [v for v in vantages if not v.in_country and not v.impaired and v.members_total]
        controls_total = sum(v.controls_total for v in vantages if v.failing)
        maintenance = self._maintenance(inc)
        on_networks = len(cohosted) + len([s for s in services if self._network_of(s)])
        extra = {
            "n_targets": float(len(members)),
            "n_services": float(len(services)),
            "n_networks": float(len(inc.networks)),
            "n_vantages_failing": float(len(failing_vantages)),
            "n_countries_failing": float(len({v.country for v in failing_vantages if v.country})),
            "onset_spread_s": float(spread),
            "network_scope": (len(services) - 0.0) / on_networks if on_networks else -1.0,
            "cohosted_up": float(len(cohosted_up)),
            "org_elsewhere_up": float(
                sum(1 for p in org_peers if p.probes and p.ok_probes == p.probes)
            ),
            "in_country_fail_frac": sum(v.failing for v in inside) / len(inside)
            if inside
            else -1.0,
            "abroad_fail_frac": sum(v.failing for v in abroad) / len(abroad) if abroad else -1.0,
            "impaired_vantages": float(len(self._impaired)),
            "controls_fail_frac": sum(v.controls_down for v in vantages if v.failing)
            / controls_total
            if controls_total
            else -1.0,
            "maintenance": 1.0 if maintenance is not None else 0.0,
            "interval_s": interval,
        }
        features, outcomes, class_vantages = compute_features(
            paths,
            onset=inc.start,
            now=now,
            settings=self.settings.features,
            recent_s=self.settings.features.recent_intervals * interval,
            extra=extra,
            path_onsets=path_onsets,
        )
        return EvidenceWindow(
            now=now,
            onset=inc.start,
            features=features,
            services=services,
            targets=sorted(members),
            networks=sorted(inc.networks),
            organizations=sorted(inc.organizations),
            vantages=vantages,
            outcomes=outcomes,
            class_vantages=class_vantages,
            service_onsets=service_onsets,
            cohosted_up=cohosted_up,
            cohosted_total=len(cohosted),
            org_peers=org_peers,
            vantage_incident=vantage_incident,
            maintenance=maintenance,
            weights=self.weights,
        )

    def _network_of(self, service: str) -> str | None:
        svc = self.config.service(service)
        return svc.network if svc else None

    def _service_up(self, service: str) -> bool:
        """Whether every path to the service is in good health (no recent failure at all):
        a neighbour whose probes have just started failing is not evidence that it stays up."""
        for t in self._service_targets.get(service, ()):
            for v in self._target_vantages.get(t, ()):
                if v not in self._impaired and self._paths[(t, v)].state is not HealthState.OK:
                    return False
        return True

    def _service_failing(self, service: str) -> bool:
        for t in self._service_targets.get(service, ()):
            view = self._views.get(t)
            if view is not None and view.condition in FAILING:
                return True
        return False

    def _org_peers(self, inc: Incident) -> list[OrgPeer]:
        peers: list[OrgPeer] = []
        for org in inc.organizations:
            for svc in self._org_services.get(org, ()):
                network = self._network_of(svc)
                if svc in inc.services or (network is not None and network in inc.networks):
                    continue
                ok = total = 0
                for t in self._service_targets.get(svc, ()):
                    for v in self._target_vantages.get(t, ()):
                        if v in self._impaired:
                            continue
                        for s in self._histories[(t, v)].since(inc.start):
                            total += 1
                            ok += s.ok
                peers.append(OrgPeer(svc, network, ok, total))
        return sorted(peers, key=lambda p: (-(p.probes > 0 and p.ok_probes == p.probes), p.service))

    def _maintenance(self, inc: Incident) -> str | None:
        """Why `inc` is planned maintenance, or None: a window covers its services at its
        start, or mutes (and windows) cover its targets now (`netvigil.maintenance`)."""
        if not self.config.maintenance and not self._mutes:
            return None
        return maintenance_note(
            inc.services,
            inc.targets,
            windows=self.config.maintenance,
            mutes=self._mutes,
            start=inc.start,
            now=self._now,
            service_of=self._service_of,
        )

    def _service_of(self, target: str) -> str | None:
        info = self._targets.get(target)
        return info.service if info is not None else None


def _add(items: list[str], name: str) -> None:
    if name not in items:
        items.append(name)
        items.sort()

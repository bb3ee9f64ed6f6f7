"""The streaming outage detector: measurements in, incident events out (pure, no I/O).

Time comes only from measurement timestamps. Measurements may arrive out of order by up
to `lateness_s`: they wait in a reorder buffer (`reorder.py`) and are processed in (ts, id)
order once the watermark has passed them, so any arrival order within the bound yields
the same incidents. A measurement older than the watermark on arrival is counted in
`late` and dropped.

Per measurement: the path's health goes into the current state (`netvigil.state`: the
one table every reader shares) and its history into the evidence builder
(`evidence_builder.py`); when a path changes state, vantages and the target are judged
again (`state.judge`), failing targets are grouped into co-fated incidents (kept in the
incident book, `book.py`), and incidents are confirmed, classified
(`netvigil.classify`) and resolved. Open incidents are classified again every
`reclassify_s` of stream time, so a cause can change as evidence grows (the history is
kept).

Planned maintenance (the config's `[[maintenance]]` windows, and targets muted in the
current state) labels an incident (`Incident.maintenance`) and makes its events quiet;
see `netvigil.maintenance`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

from netvigil.cause import Cause
from netvigil.classify import RULES, Rule
from netvigil.classify.weights import DEFAULT_WEIGHTS
from netvigil.config.model import Config
from netvigil.detect.attribution import PROVISIONAL_CAP, Attribution
from netvigil.detect.baseline import AnomalyDetector
from netvigil.detect.book import IncidentBook, Tracked, add_name
from netvigil.detect.evidence_builder import EvidenceBuilder
from netvigil.detect.filtering import filtering_corroborated
from netvigil.detect.labels import MaintenanceLabels
from netvigil.detect.reorder import ReorderBuffer
from netvigil.detect.settings import DetectorSettings
from netvigil.detect.signature import families_of
from netvigil.detect.spread import failing_everywhere
from netvigil.detect.targets import TargetIndex
from netvigil.detect.vantages import VantageWatch
from netvigil.evidence import EvidenceWindow
from netvigil.incident import CauseChange, EventKind, Incident, IncidentEvent, IncidentState
from netvigil.maintenance import Mute
from netvigil.model import Measurement
from netvigil.state.current import CurrentState, StatePolicy
from netvigil.state.judge import FAILING, TargetCondition, TargetView

__all__ = ["Detector", "DetectorSettings"]

_DUE_SLACK_S = 1e-3
"""Due times kept as lower bounds are compared with this much slack, so that rounding
(`now >= since + hold` against `now - since >= hold`) never skips a due check."""


class Detector:
    """Streaming detector over one config's targets; see the module docstring.

        detector = Detector(config, lateness_s=30)
        for m in measurements:
            for event in detector.feed(m):
                ...
        events = detector.flush()

    `state` is the current state it keeps up to date (one is made when none is given);
    readers of that state see exactly the paths and vantages the detector judges.
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
        state: CurrentState | None = None,
    ) -> None:
        self.config = config
        self.settings = settings or DetectorSettings()
        self.rules: Sequence[Rule] = rules if rules is not None else RULES
        self.weights: Mapping[str, float] = {**DEFAULT_WEIGHTS, **(weights or {})}
        self._buffer = ReorderBuffer(lateness_s)
        self.lateness_s = lateness_s
        self.state = state or CurrentState(
            config,
            StatePolicy(
                health=self.settings.health,
                stale_intervals=self.settings.stale_intervals,
                default_interval_s=self.settings.default_interval_s,
            ),
        )
        self.paths = self.state.paths
        self.index = TargetIndex(config, self.settings.default_interval_s)
        country = {config.vantage.name: config.vantage.country}
        country.update({a.name: a.country for a in config.agents})
        self.evidence = EvidenceBuilder(
            self.index,
            self.paths,
            self.settings.features,
            weights=self.weights,
            country=country,
            anomaly_detector=anomaly_detector,
        )
        self.book = IncidentBook()
        self._now = float("-inf")
        self._views: dict[str, TargetView] = {}
        self._pending: dict[str, float] = {}
        self._pending_due = float("inf")
        """No pending target's hold ends before this (a lower bound)."""
        self._holds: dict[str, float] = {}
        """Per target, `hold_intervals` of its probe interval (cached until reconfigured)."""
        self._quieting: dict[str, float] = {}
        """Incidents whose targets stopped failing, and when they may resolve."""
        self._opened_now: set[str] = set()
        self._filtered_since: dict[str, float] = {}
        self._awaiting: dict[str, float] = {}
        self._unverified: dict[str, str] = {}
        self._dirty_targets: set[str] = set()
        self._dirty_incidents: set[str] = set()
        self.vantages = VantageWatch(self.state, self.book, self.index)
        self._silence_checked = float("-inf")
        self._budget = self.settings.reclassify_budget
        """Periodic reclassifications left in this call (`DetectorSettings.reclassify_budget`)."""
        self._due_at = float("-inf")
        """When an open incident is next due to be classified again (a lower bound)."""
        self._touched: dict[str, Tracked] = {}
        """Incidents that may have become due sooner since `_due_at` was set (opened,
        regrouped, failing again): `_reclassify_due` lowers `_due_at` by their due times."""
        self.labels = MaintenanceLabels(config, self.state, self.index.service_of)
        self.attribution = Attribution(
            self.rules, self.weights, switch_margin=self.settings.switch_margin
        )
        self.seed(incidents)

    # -- public API ----------------------------------------------------------------

    @property
    def late(self) -> int:
        """Measurements dropped because they arrived behind the watermark."""
        return self._buffer.late

    @property
    def late_by_vantage(self) -> dict[str, int]:
        """Per vantage, measurements dropped because they arrived behind the watermark."""
        return dict(self._buffer.late_by)

    @property
    def watermark(self) -> float:
        """Measurements older than this have been processed (or will be dropped as late)."""
        return self._buffer.watermark

    def feed(self, m: Measurement) -> list[IncidentEvent]:
        """Take one measurement; return the events that processing it (and older ones) caused."""
        if not self._buffer.push(m):
            return []
        return self._drain(self._buffer.watermark)

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
        if not len(self._buffer):
            return []
        return self._drain(self._buffer.max_ts + 1e-9)

    def incidents(self) -> list[Incident]:
        """Snapshots of all incidents (open and resolved), oldest first."""
        return self.book.snapshots()

    def open_incidents(self) -> list[Incident]:
        """Snapshots of the open incidents, oldest first."""
        return [inc for inc in self.incidents() if inc.open]

    def seed(self, incidents: Iterable[Incident]) -> None:
        """Adopt incidents still open from an earlier run (e.g. reloaded from the store).

        A seeded incident takes its targets back when they fail again, and resolves once
        each of its targets has recovered from some vantage.
        """
        for tracked in self.book.seed(incidents):
            if tracked.incident.vantage is None:
                for target in tracked.incident.targets:
                    self._unverified[target] = tracked.incident.id

    def reconfigure(self, config: Config) -> None:
        """Take a reloaded config: its targets, services, networks, organizations and
        maintenance windows count from the next measurement on; incidents and path
        histories are kept (a removed target's paths go stale)."""
        self.config = config
        self.index = TargetIndex(config, self.settings.default_interval_s)
        self._holds.clear()
        self._pending_due = float("-inf")
        self.evidence.index = self.index
        self.vantages.index = self.index
        self.labels = MaintenanceLabels(config, self.state, self.index.service_of)
        self.state.configure(config)

    def rescope(self, config: Config, lost: Collection[str]) -> None:
        """Detect over another part of the targets from now on: `config` names them (as in
        `reconfigure`), and everything about the `lost` targets is dropped (their paths,
        histories, held measurements and judgements), so that one named again later
        starts empty, as a new target. Incidents are kept: one whose targets were all
        lost resolves once its hold is over, as if they had recovered."""
        self.reconfigure(config)
        gone = set(lost)
        if not gone:
            return
        self._buffer.discard(gone)
        self.paths.forget(gone)
        self.evidence.forget(gone)
        for table in (self._views, self._pending, self._filtered_since, self._unverified):
            for target in gone & table.keys():
                del table[target]
        self._dirty_targets -= gone
        for vantage in sorted(self.paths.rejudge_vantages(self._now)):
            self._dirty_targets.update(self.paths.targets_of(vantage))  # as in `_process`
        self._dirty_incidents.update(
            inc_id for t in gone if (inc_id := self.book.by_target.get(t)) is not None
        )

    def set_mutes(self, mutes: Iterable[Mute]) -> None:
        """Replace the targets muted for maintenance (none unless set: replay ignores them).

        From now on an incident whose every target is muted at the stream time of its
        next event (or covered by a `[[maintenance]]` window) is labelled maintenance
        and its events are quiet; once a mute is lifted or expires they are not. Mutes
        live in the current state: setting them there has the same effect.
        """
        self.state.set_mutes(mutes)

    # -- processing ----------------------------------------------------------------

    def _drain(self, watermark: float) -> list[IncidentEvent]:
        events: list[IncidentEvent] = []
        self._budget = self.settings.reclassify_budget
        for m in self._buffer.release(watermark):
            self._process(m, events)
        return events

    def _process(self, m: Measurement, events: list[IncidentEvent]) -> None:
        self._now = m.ts
        self.evidence.observe(m)
        change = self.paths.observe(m)
        if change.first:
            self.index[m.target]  # a target the config does not name becomes its own service
        if change.state_changed:
            self._dirty_targets.add(m.target)
            for vantage in sorted(self.paths.rejudge_vantages(m.ts)):
                self._dirty_targets.update(self.paths.targets_of(vantage))
        elif change.corroboration_changed:
            # Not a state change of its own, but it may tip the target with other vantages.
            self._dirty_targets.add(m.target)
        if m.ts - self._silence_checked >= 1.0 or m.vantage in self.vantages.silent:
            self._silence_checked = m.ts
            self._dirty_targets.update(self.vantages.check_silence(m.ts))
        if self._unverified and m.target in self._unverified:
            self._check_unverified(m.target)
        if self._quieting:
            self._dirty_incidents.update(i for i, due in self._quieting.items() if m.ts >= due)
        if self._awaiting:
            for inc_id, due in list(self._awaiting.items()):
                if m.ts >= due:
                    del self._awaiting[inc_id]
                    self._dirty_incidents.add(inc_id)
        if self._dirty_targets or self._pending or self._dirty_incidents:
            self._evaluate(events)
        self._reclassify_due(events)

    def _hold_s(self, target: str) -> float:
        hold = self._holds.get(target)
        if hold is None:
            hold = self.settings.hold_intervals * self.index[target].interval_s
            self._holds[target] = hold
        return hold

    def _judge(self, target: str) -> TargetView:
        return self.state.judge(target, self._now)

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
            own = self.book.get(self.book.by_target.get(target))
            if own is not None:
                self._dirty_incidents.add(own.incident.id)
            if view.condition in FAILING:
                if own is not None and own.incident.open and self._fails_anew(own, target, view):
                    self._close(own, events)  # it had recovered: this is another failure
                    own = None
                if own is not None and own.incident.open:
                    self._join(own, target, view)
                    self._pending.pop(target, None)
                elif view.condition is TargetCondition.DOWN or self.paths.controls_vouch(view.down):
                    self._attach(target, view, events)
                elif target not in self._pending:
                    self._pending[target] = now
                    self._pending_due = min(self._pending_due, now + self._hold_s(target))
            else:
                self._pending.pop(target, None)
        if self._pending and now >= self._pending_due - _DUE_SLACK_S:
            self._attach_held(events)
        self._update_vantage_incidents(events)
        for inc_id in sorted(self._dirty_incidents):
            tracked = self.book.get(inc_id)
            if tracked is not None:
                self._refresh(tracked, events)
        self._dirty_incidents.clear()

    def _attach_held(self, events: list[IncidentEvent]) -> None:
        """Targets whose partial failure outlasted the hold open or join an incident."""
        now = self._now
        next_due = float("inf")
        for target, since in sorted(self._pending.items()):
            due = since + self._hold_s(target)
            if now - since >= self._hold_s(target):
                del self._pending[target]
                view = self._judge(target)
                self._views[target] = view
                if view.condition in FAILING:
                    self._attach(target, view, events)
            else:
                next_due = min(next_due, due)
        self._pending_due = next_due

    # -- grouping ------------------------------------------------------------------

    def _attach(self, target: str, view: TargetView, events: list[IncidentEvent]) -> None:
        info = self.index[target]
        onset = view.onset_ts if view.onset_ts is not None else self._now
        families = families_of(target, view.down, self.paths)
        window = self.settings.cofate_intervals * info.interval_s
        chosen = self.book.joinable(info, families, onset=onset, window_s=window)
        if chosen is None:
            inc_id = self.book.unique_id(f"inc-{view.onset_id or target}")
            incident = Incident(
                id=inc_id,
                state=IncidentState.SUSPECTED,
                start=onset,
                first_measurement_id=view.onset_id,
                updated=self._now,
            )
            chosen = self.book.add(Tracked(incident))
            self._opened_now.add(inc_id)
            self._touched[inc_id] = chosen
            self._join(chosen, target, view)
            self._views[target] = view
            self._classify(chosen, events)
            events.append(self._event(EventKind.OPENED, chosen))
            return
        self._join(chosen, target, view)

    def _join(self, tracked: Tracked, target: str, view: TargetView) -> None:
        tracked.families |= families_of(target, view.down, self.paths)
        self._unverified.pop(target, None)
        self.book.join(tracked, target, self.index[target], down=view.down)
        if view.onset_ts is not None:
            tracked.onset(target, view.onset_ts, view.onset_id)
        tracked.incident.maintenance = self._maintenance(tracked.incident)
        self._dirty_incidents.add(tracked.incident.id)

    def _update_vantage_incidents(self, events: list[IncidentEvent]) -> None:
        for vantage in self.vantages.troubled():
            tracked = self.book.get(self.book.by_vantage.get(vantage))
            opened = tracked is None or not tracked.incident.open
            if tracked is None or opened:
                tracked = self.vantages.open(vantage, self._now)
                self._opened_now.add(tracked.incident.id)
                self._touched[tracked.incident.id] = tracked
            grew = self.vantages.extend(tracked, self._views)
            if opened:
                self._classify(tracked, events)
                events.append(self._event(EventKind.OPENED, tracked))
            if grew or tracked.incident.state is not IncidentState.CONFIRMED:
                self._dirty_incidents.add(tracked.incident.id)
        for vantage, inc_id in sorted(self.book.by_vantage.items()):
            known = self.book.get(inc_id)
            if not self.vantages.in_trouble(vantage) and known is not None and known.incident.open:
                self._dirty_incidents.add(inc_id)

    # -- incident life -------------------------------------------------------------

    def _refresh(self, tracked: Tracked, events: list[IncidentEvent]) -> None:
        inc = tracked.incident
        if not inc.open:
            return
        failing, confirmed = self._standing(tracked)
        if not failing:
            self._quiet(tracked, events)
            return
        if tracked.quiet_since is not None:
            tracked.quiet_since = None
            tracked.recovered_at = None
            self._quieting.pop(inc.id, None)
            self._touched[inc.id] = tracked
        kind = EventKind.UPDATED
        if confirmed and inc.state is IncidentState.SUSPECTED:
            inc.state = IncidentState.CONFIRMED
            inc.confirmed_at = self._now
            kind = EventKind.CONFIRMED
        if inc.vantage is None:
            for t in inc.targets:
                tview = self._views.get(t)
                if tview is not None and tview.condition in FAILING:
                    for name in tview.down:
                        add_name(inc.vantages, name)
        signature = (len(inc.targets), len(inc.vantages), inc.state)
        if kind is EventKind.CONFIRMED or not inc.cause_history:
            self._classify(tracked, events)
        elif signature != tracked.signature and inc.id not in self._opened_now:
            # Targets or vantages joined: judged again, and told in one `updated` event,
            # at most every `regroup_intervals` (`_reclassify_due`), however many join.
            tracked.regrouped = True
            self._touched[inc.id] = tracked
        if kind is EventKind.CONFIRMED:
            inc.updated = self._now
            events.append(self._event(kind, tracked))
            tracked.regrouped = False
        tracked.signature = signature

    def _standing(self, tracked: Tracked) -> tuple[bool, bool]:
        """Whether the incident is still failing, and whether it is confirmed."""
        inc = tracked.incident
        now = self._now
        if inc.vantage is not None:
            failing = self.vantages.in_trouble(inc.vantage)
            return failing, failing
        views = [self._views.get(t) for t in inc.targets]
        failing = any(v is not None and v.condition in FAILING for v in views)
        confirmed = any(v is not None and v.condition is TargetCondition.DOWN for v in views)
        if not confirmed and inc.confirmed_at is None:
            confirmed = failing_everywhere(inc.targets, self._views, self.index.service_of)
        due = [
            self._filtered_since[t] + self._hold_s(t)
            for t in inc.targets
            if t in self._filtered_since
        ]
        if any(now >= d for d in due) or filtering_corroborated(
            inc,
            views=self._views,
            filtered_since=self._filtered_since,
            paths=self.paths,
            evidence=self.evidence,
            recover=self.settings.health.recover,
            now=now,
        ):
            confirmed = True
        elif due and inc.confirmed_at is None:
            self._awaiting[inc.id] = min(due)
        if tracked.seeded and not failing:
            failing = any(t in self._unverified for t in inc.targets)
        return failing, confirmed

    def _quiet(self, tracked: Tracked, events: list[IncidentEvent]) -> None:
        """Its targets stopped failing: resolve once they stayed so for the hold (at once
        when a failing vantage explains an unconfirmed one away)."""
        inc = tracked.incident
        now = self._now
        explained = inc.confirmed_at is None and any(
            (v := self._views.get(t)) is not None and v.condition is TargetCondition.VANTAGE_ONLY
            for t in inc.targets
        )
        if tracked.quiet_since is None:
            tracked.quiet_since = now
            tracked.recovered_at = self.paths.recovered_at(inc.targets, inc.vantage) or now
        resolve_at = tracked.quiet_since + self._resolve_hold(tracked)
        if not explained and now < resolve_at:
            self._quieting[inc.id] = resolve_at
            return
        self._close(tracked, events)

    def _fails_anew(self, tracked: Tracked, target: str, view: TargetView) -> bool:
        """Whether `target`, a member of `tracked`, fails again after all of the incident's
        targets had recovered, and in another way (no failure family in common): a new
        failure (a crash after a route came back), not the old one continuing."""
        if tracked.quiet_since is None or tracked.incident.vantage is not None:
            return False
        return not tracked.looks_like(families_of(target, view.down, self.paths))

    def _close(self, tracked: Tracked, events: list[IncidentEvent]) -> None:
        """Resolve `tracked` now, ending it when its targets recovered."""
        inc = tracked.incident
        now = self._now
        self._quieting.pop(inc.id, None)
        self.book.close(inc)
        self.attribution.forget(inc.id)
        inc.state = IncidentState.RESOLVED
        inc.end = tracked.recovered_at
        inc.updated = now
        events.append(self._event(EventKind.RESOLVED, tracked))
        if inc.confirmed_at is None:
            # Never confirmed (noise, or explained away by a failing vantage): withdrawn.
            self.book.withdraw(inc)
            self._awaiting.pop(inc.id, None)

    def _resolve_hold(self, tracked: Tracked) -> float:
        return self.settings.resolve_intervals * self._interval(tracked)

    def _check_unverified(self, target: str) -> None:
        inc_id = self._unverified[target]
        tracked = self.book.get(inc_id)
        if tracked is None or not tracked.incident.open:
            del self._unverified[target]
            return
        paths = self.paths.paths_of(target)
        if any(p.recovered for p in paths if p.vantage not in self.paths.impaired):
            del self._unverified[target]
            self._dirty_incidents.add(inc_id)

    def _interval(self, tracked: Tracked) -> float:
        """The shortest probe interval of the incident's targets (cached per size)."""
        targets = tracked.incident.targets
        if tracked.interval_of[0] != len(targets):
            vantage = tracked.incident.vantage
            if not targets and vantage is not None:
                interval = self.state.silent_after(vantage) / self.state.policy.silent_intervals
            else:
                interval = self.index.interval(targets)
            tracked.interval_of = (len(targets), interval)
        return tracked.interval_of[1]

    def _reclassify_every(self, interval: float) -> float:
        return min(self.settings.reclassify_s, self.settings.reclassify_intervals * interval)

    def _reclassify_due(self, events: list[IncidentEvent]) -> None:
        """Relabel incidents whose maintenance label changed, and classify again those due
        (most overdue first, at most the budget of this call: the rest wait their turn)."""
        relabel = self.labels.due(self._now)
        if self._touched:
            for tracked in self._touched.values():
                if tracked.incident.open and tracked.quiet_since is None:
                    self._due_at = min(self._due_at, self._next_due(tracked))
            self._touched.clear()
        if not relabel and (self._now < self._due_at or self._budget <= 0):
            # Nothing is due yet, or this call's budget is spent (what is due waits for the
            # next call: `_due_at` stays at -inf): no need to look at every open incident.
            return
        due: list[Tracked] = []
        next_due = float("inf")
        for tracked in self.book.open_tracked():
            inc = tracked.incident
            if relabel and self._maintenance(inc) != tracked.announced_maintenance:
                inc.updated = self._now  # a mute was set, lifted or ran out
                events.append(self._event(EventKind.UPDATED, tracked))
            if tracked.quiet_since is not None:
                continue
            interval = self._interval(tracked)
            wait = self._reclassify_every(interval) * tracked.steady
            if tracked.regrouped:
                wait = min(wait, self.settings.regroup_intervals * interval)
            if self._now - tracked.last_classified >= wait:
                due.append(tracked)
                wait = self._reclassify_every(interval)  # after it is classified now
                next_due = min(next_due, self._now + wait)
            else:
                next_due = min(next_due, tracked.last_classified + wait)
        due.sort(key=lambda tr: tr.last_classified)
        self._due_at = next_due
        for tracked in due:
            if self._budget <= 0:
                self._due_at = float("-inf")  # the rest wait for the next call
                break
            inc = tracked.incident
            cause, confidence = inc.cause, inc.confidence
            regrouped = tracked.regrouped
            if self._classify(tracked, events):
                self._budget -= 1
            tracked.regrouped = False
            # The same verdict again: look less often (up to `steady_max` times the period);
            # anything new (a cause, a confidence, members) and the period is back to one.
            same = inc.cause is cause and abs(inc.confidence - confidence) < 0.02
            tracked.steady = (
                min(self.settings.steady_max, tracked.steady * 2) if same and not regrouped else 1
            )
            if inc.cause is cause and (regrouped or abs(inc.confidence - confidence) >= 0.05):
                inc.updated = self._now
                events.append(self._event(EventKind.UPDATED, tracked))

    def _next_due(self, tracked: Tracked) -> float:
        """When `_reclassify_due` finds `tracked` due, less a slack (so that rounding never
        makes the bound later than the check)."""
        interval = self._interval(tracked)
        wait = self._reclassify_every(interval) * tracked.steady
        if tracked.regrouped:
            wait = min(wait, self.settings.regroup_intervals * interval)
        return tracked.last_classified + wait - _DUE_SLACK_S

    def _classify(self, tracked: Tracked, events: list[IncidentEvent]) -> bool:
        """Judge the incident's cause again when that can tell something new; whether it was."""
        inc = tracked.incident
        if tracked.seeded and not tracked.onsets and inc.vantage is None:
            return False
        if inc.cause_history and inc.vantage is None:
            if not any(
                (v := self._views.get(t)) is not None and v.condition in FAILING
                for t in inc.targets
            ):
                return False
            if tracked.complete_seen and self.paths.answering(inc.targets, inc.vantages):
                # Loss was complete and probes answer again: the outage is ending, and the
                # partial loss of a recovery must not rewrite the cause it was judged to
                # have. Only a partial regime that outlasts the hold (a flood going on
                # behind a lifted cut) is judged again.
                if tracked.answered_at is None:
                    tracked.answered_at = self._now
                if self._now - tracked.answered_at < self._hold_s(inc.targets[0]):
                    return False
            else:
                tracked.answered_at = None
        tracked.last_classified = self._now
        tracked.regrouped = False
        if inc.vantage is not None and inc.vantage in self.vantages.silent:
            return self._judge_silence(tracked, events)
        window = self._window(tracked)
        f = window.features
        if f.steady_complete and f.complete_s >= self.settings.hold_intervals * f.interval_s:
            tracked.complete_seen = True
        if self.attribution.judge(inc, window, self._now):
            events.append(self._event(EventKind.CAUSE_CHANGED, tracked))
        return True

    def _judge_silence(self, tracked: Tracked, events: list[IncidentEvent]) -> bool:
        """A silent vantage: nothing to weigh but the silence itself."""
        inc = tracked.incident
        inc.evidence = [self.vantages.silence_evidence(inc.vantage or "", self._now)]
        if inc.cause is not Cause.VANTAGE_PROBLEM:
            changed = bool(inc.cause_history)
            confidence = 0.9 if inc.confirmed_at is not None else PROVISIONAL_CAP
            inc.cause, inc.confidence = Cause.VANTAGE_PROBLEM, confidence
            inc.cause_history.append(CauseChange(self._now, inc.cause, confidence))
            if changed:
                events.append(self._event(EventKind.CAUSE_CHANGED, tracked))
        return True

    def _event(self, kind: EventKind, tracked: Tracked) -> IncidentEvent:
        inc = tracked.incident
        inc.maintenance = self._maintenance(inc)  # a mute may have come or gone since
        tracked.announced_maintenance = inc.maintenance
        return IncidentEvent(kind, self._now, inc.copy(), quiet=inc.maintenance is not None)

    def _window(self, tracked: Tracked) -> EvidenceWindow:
        return self.evidence.window(
            tracked,
            now=self._now,
            views=self._views,
            maintenance=self._maintenance(tracked.incident),
        )

    def _maintenance(self, inc: Incident) -> str | None:
        return self.labels.note(inc, self._now)

"""Judging changed targets, and grouping failing ones into co-fated incidents.

A target down from every vantage (or whose controls vouch for its failure) opens or
joins an incident at once; a partial failure waits out the hold first (`hold_intervals`
of its probe interval). Targets failing in the same way within `cofate_intervals` join
one incident (`IncidentBook.joinable`); a vantage in trouble gets an incident of its
own (`VantageWatch`).
"""

from __future__ import annotations

from netvigil.detect.book import Tracked
from netvigil.detect.detector_base import DUE_SLACK_S
from netvigil.detect.incident_life import IncidentLife
from netvigil.detect.signature import families_of
from netvigil.incident import EventKind, Incident, IncidentEvent, IncidentState
from netvigil.state.judge import FAILING, TargetCondition, TargetView

__all__ = ["IncidentGrouping"]

EARLIER = frozenset({TargetCondition.OK, TargetCondition.SUSPECTED})
"""A target's conditions before it is `filtered` that let the filtering hold count from
the failure's first failed probe: nothing but the in-country failure beginning."""


class IncidentGrouping(IncidentLife):
    """The detector's grouping: `_evaluate` the targets whose state may have changed."""

    def _evaluate(self, events: list[IncidentEvent]) -> None:
        now = self._now
        self._opened_now.clear()
        dirty = sorted(self._dirty_targets)
        self._dirty_targets.clear()
        for target in dirty:
            view = self._judge(target)
            before = self._views.get(target)
            self._views[target] = view
            if view.condition is TargetCondition.FILTERED:
                if target not in self._filtered_since:
                    self._filtered_since[target] = self._filtering_onset(target, view, before)
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
        if self._pending and now >= self._pending_due - DUE_SLACK_S:
            self._attach_held(events)
        self._update_vantage_incidents(events)
        for inc_id in sorted(self._dirty_incidents):
            tracked = self.book.get(inc_id)
            if tracked is not None:
                self._refresh(tracked, events)
        self._dirty_incidents.clear()

    def _filtering_onset(self, target: str, view: TargetView, before: TargetView | None) -> float:
        """Where the filtering hold of a target now `filtered` counts from: the start of
        the failure that brought its in-country paths down (the first failed probe since
        each one's last answer; the earliest of them), when nothing but that failure came
        before: the vantages abroad have answered all along, so the hold is the time they
        had to see it too. A path failing now and then (a flood seen from inside the
        country) has answered lately, so its hold counts from about now. Now, when the
        target was failing abroad as well a moment ago, or its vantage was in trouble."""
        now = self._now
        if view.onset_ts is None or (before is not None and before.condition not in EARLIER):
            return now
        start = now
        for vantage in view.down:
            samples = self.evidence.history(target, vantage).since(view.onset_ts)
            for sample in reversed(samples):
                if sample.ok:
                    break
                start = min(start, sample.ts)
        return start

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

    def _attach(self, target: str, view: TargetView, events: list[IncidentEvent]) -> None:
        info = self.index[target]
        onset = view.onset_ts if view.onset_ts is not None else self._now
        families = families_of(target, view.down, self.paths)
        window = self.settings.cofate_intervals * info.interval_s
        chosen = self.book.joinable(info, families, onset=onset, window_s=window)
        if (
            chosen is not None
            and info.service not in chosen.incident.services
            and self.evidence.blackholed_apart(chosen.incident, target, self._now)
        ):
            chosen = None  # a blackholed address's incident: another address fails apart
        if chosen is not None and self._fails_anew(chosen, target, view):
            self._close(chosen, events)  # every target of it had recovered: another failure
            chosen = None
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

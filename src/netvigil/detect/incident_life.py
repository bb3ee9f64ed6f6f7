"""An incident's life after it opens: confirmation, quieting and resolution.

An incident is confirmed when one of its targets is down (every healthy vantage confirms
the failure), when partial failures over several of its services are seen from every
vantage (`spread.py`), or when filtering outlasts the hold or is corroborated
(`filtering.py`); a vantage's incident, while its vantage is in trouble. It resolves
once its targets stayed recovered for `resolve_intervals` of their shortest probe
interval (at once when a failing vantage explains an unconfirmed one away); resolved
without ever being confirmed, it is withdrawn. A seeded incident resolves once each of
its targets has recovered from some vantage.
"""

from __future__ import annotations

from netvigil.detect.book import Tracked, add_name
from netvigil.detect.filtering import filtering_corroborated
from netvigil.detect.reclassification import Reclassification
from netvigil.detect.sample import Sample
from netvigil.detect.signature import families_of
from netvigil.detect.spread import erring_everywhere, failing_everywhere
from netvigil.incident import EventKind, IncidentEvent, IncidentState
from netvigil.state.judge import FAILING, TargetCondition, TargetView

__all__ = ["IncidentLife"]


class IncidentLife(Reclassification):
    """The detector's incident life: `_refresh` an incident whose members changed."""

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
            vantages, views = inc.vantages, self._views
            for t in inc.targets:
                tview = views.get(t)
                if tview is not None and tview.condition in FAILING:
                    for name in tview.down:
                        if name not in vantages:  # mostly there: no call to add it
                            add_name(vantages, name)
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
            confirmed = failing_everywhere(
                inc.targets, self._views, self.index.service_of
            ) or erring_everywhere(inc.targets, self._views, self._samples_since)
        due = [
            (t, self._filtered_since[t] + self._hold_s(t))
            for t in inc.targets
            if t in self._filtered_since
        ]
        held = [t for t, d in due if now >= d]
        if any(self._failing_still(t) for t in held) or filtering_corroborated(
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
            # Before the hold ends: look again when it does; after it, with the newest
            # probe answered: at the next probe.
            self._awaiting[inc.id] = (
                now + min(self.index[t].interval_s for t in held)
                if held
                else min(d for _, d in due)
            )
        if tracked.seeded and not failing:
            failing = any(t in self._unverified for t in inc.targets)
        return failing, confirmed

    def _failing_still(self, target: str) -> bool:
        """Whether the newest probe of one of the target's failing paths failed: filtering
        is confirmed by its hold only while it goes on (a path that just answered is
        still down until it answers `recover` times, and would be a blip confirmed)."""
        view = self._views.get(target)
        return view is not None and any(self.paths.health(target, v).ok_run == 0 for v in view.down)

    def _samples_since(self, target: str, vantage: str, ts: float) -> list[Sample]:
        """The samples of one path from `ts` on."""
        return self.evidence.history(target, vantage).since(ts)

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
        """Whether `target`, a member of `tracked` or one about to join it, fails (again)
        after all of the incident's targets had recovered, and in another way (no failure
        family in common) or after a change in its network's routing
        (`EvidenceBuilder.routed_anew`: a new routing event of its own, or the routes
        withdrawn earlier back in place): a new failure (a crash after a route came back,
        a withdrawal after a cut, a cut after the routes came back), not the old one
        continuing."""
        recovered = tracked.recovered_at  # set with `quiet_since` (`_quiet`)
        if recovered is None or tracked.incident.vantage is not None:
            return False
        if not tracked.looks_like(families_of(target, view.down, self.paths)):
            return True
        return self.evidence.routed_anew(tracked.incident, target, recovered, self._now)

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

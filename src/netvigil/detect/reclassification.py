"""Judging an incident's cause, and judging it again as evidence grows.

An incident is classified when it opens and when it is confirmed, and again (at most
every `regroup_intervals`) when targets or vantages join it. Open incidents are
classified again every `reclassify_s` of stream time (or `reclassify_intervals` probe
intervals, if sooner; less often while the verdict stays the same, and at most
`reclassify_budget` of them per call), so a cause can change as evidence grows (the
history is kept). A silent vantage's incident has nothing to weigh but the silence.
"""

from __future__ import annotations

from netvigil.cause import Cause
from netvigil.detect.attribution import PROVISIONAL_CAP
from netvigil.detect.book import Tracked
from netvigil.detect.detector_base import DUE_SLACK_S, DetectorBase
from netvigil.incident import CauseChange, EventKind, IncidentEvent
from netvigil.state.judge import FAILING

__all__ = ["Reclassification"]


class Reclassification(DetectorBase):
    """The detector's classification: `_classify` now, `_reclassify_due` when due."""

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
        return tracked.last_classified + wait - DUE_SLACK_S

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
            if self._recovering(tracked):
                # Loss was complete and probes answer again, or most answers come at their
                # usual time again: the outage is ending, and the partial loss of a
                # recovery must not rewrite the cause it was judged to have. Only a
                # partial regime that outlasts the hold (a flood going on behind a lifted
                # cut) is judged again.
                if tracked.answered_at is None:
                    tracked.answered_at = self._now
                if self._now - tracked.answered_at < self._hold_s(inc.targets[0]):
                    return False
            else:
                tracked.answered_at = None
        tracked.last_classified = self._now
        tracked.regrouped = False
        self.judgements += 1
        if inc.vantage is not None and inc.vantage in self.vantages.silent:
            return self._judge_silence(tracked, events)
        window = self._window(tracked)
        f = window.features
        if f.steady_complete and f.complete_s >= self.settings.hold_intervals * f.interval_s:
            tracked.complete_seen = True
        if self.attribution.judge(inc, window, self._now):
            events.append(self._event(EventKind.CAUSE_CHANGED, tracked))
        return True

    def _recovering(self, tracked: Tracked) -> bool:
        """Whether `tracked`'s incident looks like an outage ending: probes answer again
        after loss was complete, or its paths answer again at their usual time
        (`EvidenceBuilder.answering_as_usual`)."""
        inc = tracked.incident
        if tracked.complete_seen and self.paths.answering(inc.targets, inc.vantages):
            return True
        return self.evidence.answering_as_usual(inc)

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

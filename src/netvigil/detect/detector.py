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

A call may be bounded (`budget`, a `CallBudget`): it stops once it has made that many
judgements or processed that many measurements and carries the rest to the next call
(`resume`). The work, its order and so the events are those of the unbounded call, only
split over several (`pipeline.worker` holds the current state's lock per bounded call, so
that readers get it between).

The detector is built in layers, one module each (`detector_base.py` lists them):
this module holds its public API and the path of a measurement.
"""

from __future__ import annotations

import collections
from collections.abc import Collection, Iterable
from dataclasses import dataclass

from netvigil.config.model import Config
from netvigil.detect.grouping import IncidentGrouping
from netvigil.detect.labels import MaintenanceLabels
from netvigil.detect.reorder import ExactWatermark
from netvigil.detect.settings import DetectorSettings
from netvigil.detect.targets import TargetIndex
from netvigil.incident import Incident, IncidentEvent
from netvigil.maintenance import Mute
from netvigil.model import Measurement

__all__ = ["CallBudget", "Detector", "DetectorSettings"]


@dataclass(frozen=True, slots=True)
class CallBudget:
    """How much one bounded call of the detector may do before it stops and carries the
    rest to the next (`Detector.resume`): `judgements` (an incident's cause weighed, when
    it opens, is confirmed, grows or is due again; about a millisecond each) and
    `measurements` processed (tens of microseconds each, at an outage's onset, when
    each turns a path down and joins an incident)."""

    judgements: int = 4
    measurements: int = 64

    def spent(self, judgements: int, measurements: int) -> bool:
        """Whether that many judgements and measurements spend it."""
        return judgements >= self.judgements or measurements >= self.measurements


class Detector(IncidentGrouping):
    """Streaming detector over one config's targets; see the module docstring.

        detector = Detector(config, lateness_s=30)
        for m in measurements:
            for event in detector.feed(m):
                ...
        events = detector.flush()

    `state` is the current state it keeps up to date (one is made when none is given);
    readers of that state see exactly the paths and vantages the detector judges.
    """

    # -- public API ----------------------------------------------------------------

    def follow(self, exact: ExactWatermark | None) -> None:
        """Release `exact.vantage`'s measurements by its exact mark (`ReorderBuffer.follow`;
        None: by the lateness rule again)."""
        self._buffer.follow(exact)

    def mark(
        self, vantage: str, at: float, *, budget: CallBudget | None = None
    ) -> list[IncidentEvent]:
        """`vantage` reports that none of its measurements still to come is stamped before
        `at` (`ReorderBuffer.mark`): process what that releases; return the events.

        With a `budget` the call stops once it is spent (see `resume`)."""
        events: list[IncidentEvent] = []
        if self._carried:
            self._work(events, None)
        self._buffer.mark(vantage, at)
        self._drain(self._buffer.watermark, budget, events)
        return events

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
        """Measurements older than this have been released for processing (processed, or
        carried by a bounded call: `carrying`) or will be dropped as late."""
        return self._buffer.watermark

    @property
    def carrying(self) -> int:
        """Measurements a bounded call released but did not process yet (`resume`)."""
        return len(self._carried)

    def feed(self, m: Measurement, *, budget: CallBudget | None = None) -> list[IncidentEvent]:
        """Take one measurement; return the events that processing it (and older ones) caused.

        With a `budget` the call stops once it is spent (see `resume`)."""
        events: list[IncidentEvent] = []
        if self._carried:
            self._work(events, None)  # what a bounded call left comes first
        if self._buffer.push(m):
            self._drain(self._buffer.watermark, budget, events)
        return events

    def feed_many(self, measurements: Iterable[Measurement]) -> list[IncidentEvent]:
        """Feed several measurements; return all events."""
        events: list[IncidentEvent] = []
        for m in measurements:
            events.extend(self.feed(m))
        return events

    def advance(self, ts: float, *, budget: CallBudget | None = None) -> list[IncidentEvent]:
        """Stream time has reached `ts`: process everything older than `ts - lateness_s`.

        With a `budget` the call stops once it is spent (see `resume`)."""
        events = self._finish_carried()
        self._drain(ts - self.lateness_s, budget, events)
        return events

    def resume(self, *, budget: CallBudget | None = None) -> list[IncidentEvent]:
        """Go on with what a bounded call left (`carrying`); return the events.

        A call with a `budget` processes the measurements it released one by one and
        stops after the one that spent the budget (counted in `judgements` and
        `processed`), carrying the rest, so that a caller holding a lock can release it
        between calls (`pipeline.worker`). `resume` goes on where it stopped, within its
        own `budget`. The work and its order are those of the unbounded call, so are the
        events, split over the calls: a call made while work is carried (`feed`,
        `advance`, `flush`) first finishes it, whatever its budget. A call always
        processes at least one measurement.
        """
        events: list[IncidentEvent] = []
        self._work(events, budget)
        return events

    def flush(self) -> list[IncidentEvent]:
        """Process everything buffered (end of a replay)."""
        events = self._finish_carried()
        if len(self._buffer):
            self._drain(self._buffer.max_ts + 1e-9, None, events)
        return events

    def incidents(self) -> list[Incident]:
        """Snapshots of all incidents (open and resolved), oldest first."""
        return self.book.snapshots()

    def open_incidents(self) -> list[Incident]:
        """Snapshots of the open incidents, oldest first."""
        return [inc for inc in self.incidents() if inc.open]

    def reconfigure(self, config: Config) -> None:
        """Take a reloaded config: its targets, services, networks, organizations and
        maintenance windows count from the next measurement on; incidents and path
        histories are kept (a removed target's paths go stale)."""
        self.config = config
        self._buffer.expect([agent.name for agent in config.agents])
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
        self._carried = collections.deque(m for m in self._carried if m.target not in gone)
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

    def _drain(
        self, watermark: float, budget: CallBudget | None, events: list[IncidentEvent]
    ) -> None:
        """One call's work: release what the watermark passed and process it (see `resume`)."""
        self._budget = self.settings.reclassify_budget
        self._carried.extend(self._buffer.release(watermark))
        self._work(events, budget)

    def _work(self, events: list[IncidentEvent], budget: CallBudget | None) -> None:
        """Process carried measurements in order, until `budget` is spent."""
        carried = self._carried
        if budget is None:
            while carried:
                self._process(carried.popleft(), events)
            return
        judged_by = self.judgements + budget.judgements
        processed_by = self.processed + budget.measurements
        while carried:
            self._process(carried.popleft(), events)
            if self.judgements >= judged_by or self.processed >= processed_by:
                return  # spent

    def _finish_carried(self) -> list[IncidentEvent]:
        """The events of finishing what a bounded call carried (none when nothing is)."""
        events: list[IncidentEvent] = []
        if self._carried:
            self._work(events, None)
        return events

    def _process(self, m: Measurement, events: list[IncidentEvent]) -> None:
        self.processed += 1
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

"""What every part of the streaming detector shares: settings, working tables, helpers.

`Detector` (`detector.py`) is built in layers, each a module of one concept:
`DetectorBase` here (the constructor, the tables the parts share and the small helpers
they all use), `Reclassification` (`reclassification.py`: judging an incident's cause,
and judging it again when due), `IncidentLife` (`incident_life.py`: confirmation,
quieting and resolution), `IncidentGrouping` (`grouping.py`: judging changed targets
and opening or joining incidents) and `Detector` itself (the public API and the path
of a measurement). Each layer uses what the layers below it define.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Mapping, Sequence

from netvigil.classify import RULES, Rule
from netvigil.classify.weights import DEFAULT_WEIGHTS
from netvigil.config.model import Config
from netvigil.detect.attribution import Attribution
from netvigil.detect.baseline import AnomalyDetector
from netvigil.detect.book import IncidentBook, Tracked
from netvigil.detect.evidence_builder import EvidenceBuilder
from netvigil.detect.labels import MaintenanceLabels
from netvigil.detect.reorder import ReorderBuffer
from netvigil.detect.settings import DetectorSettings
from netvigil.detect.targets import TargetIndex
from netvigil.detect.vantages import VantageWatch
from netvigil.evidence import EvidenceWindow
from netvigil.incident import EventKind, Incident, IncidentEvent
from netvigil.model import Measurement
from netvigil.state.current import CurrentState, StatePolicy
from netvigil.state.judge import TargetView

__all__ = ["DUE_SLACK_S", "DetectorBase"]

DUE_SLACK_S = 1e-3
"""Due times kept as lower bounds are compared with this much slack, so that rounding
(`now >= since + hold` against `now - since >= hold`) never skips a due check."""


class DetectorBase:
    """The detector's settings and working tables, and the helpers every layer uses.

    The constructor is `Detector`'s (see there); `seed` adopts incidents still open from
    an earlier run.
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
        self._buffer.expect([agent.name for agent in config.agents])  # may come any time
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
        self._carried: collections.deque[Measurement] = collections.deque()
        """Measurements a bounded call released but did not process (`Detector.resume`)."""
        self.judgements = 0
        """Judgements made so far (an incident's cause weighed: when it opens, is confirmed,
        grows or is due again); a bounded call counts them against its budget."""
        self.processed = 0
        """Measurements processed so far; a bounded call counts them against its budget."""
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

    def seed(self, incidents: Iterable[Incident]) -> None:
        """Adopt incidents still open from an earlier run (e.g. reloaded from the store).

        A seeded incident takes its targets back when they fail again, and resolves once
        each of its targets has recovered from some vantage.
        """
        for tracked in self.book.seed(incidents):
            if tracked.incident.vantage is None:
                for target in tracked.incident.targets:
                    self._unverified[target] = tracked.incident.id

    def _hold_s(self, target: str) -> float:
        hold = self._holds.get(target)
        if hold is None:
            hold = self.settings.hold_intervals * self.index[target].interval_s
            self._holds[target] = hold
        return hold

    def _judge(self, target: str) -> TargetView:
        return self.state.judge(target, self._now)

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

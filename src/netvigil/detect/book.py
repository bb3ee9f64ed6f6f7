"""The incident book: every incident the detector tracks, open or resolved, and which
target or vantage belongs to which open one.

The detector decides; the book keeps: new incidents get unique ids, a withdrawn incident
(resolved before it was ever confirmed) leaves no trace, and snapshots are copies.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from netvigil.detect.targets import TargetInfo
from netvigil.incident import Incident, IncidentState

__all__ = ["IncidentBook", "Tracked", "add_name"]


@dataclass(slots=True)
class Tracked:
    """An incident and what the detector remembers about it."""

    incident: Incident
    onsets: dict[str, tuple[float, str | None]] = field(default_factory=dict)
    """Per target, when (and with which measurement) it began to fail."""
    last_classified: float = float("-inf")
    seeded: bool = False
    signature: tuple[int, int, IncidentState] | None = None
    quiet_since: float | None = None
    """When its targets stopped failing (resolution waits a hold after this)."""
    recovered_at: float | None = None
    complete_seen: bool = False
    """Loss was complete for long enough once (a cut, not a flood)."""
    answered_at: float | None = None
    """When probes from the failing vantages answered again after complete loss."""
    announced_maintenance: str | None = None
    """The maintenance label its last event carried."""
    regrouped: bool = False
    steady: int = 1
    """How many reclassification periods to wait: doubles while the verdict stays the same."""
    """Targets or vantages joined since it was last classified."""
    interval_of: tuple[int, float] = (-1, 0.0)
    """(number of targets, their shortest probe interval), cached."""
    extended_at: tuple[int, int] = (-1, -1)
    """For a vantage-problem incident: the vantage's (down, bad) counts when its targets
    were last gathered."""
    families: frozenset[str] = frozenset()
    """The failure families its targets showed when they joined (`detect.signature`)."""

    def looks_like(self, families: frozenset[str]) -> bool:
        """Whether failures of `families` may join it by network or organization: they
        share a family (or either side has none to tell, like an incident taken over
        from an earlier run)."""
        return not self.families or not families or bool(self.families & families)

    def onset(self, target: str, ts: float, measurement_id: str | None) -> None:
        """`target` began to fail at `ts` (the earliest onset of each target is kept; the
        incident starts at the earliest of all)."""
        old = self.onsets.get(target)
        if old is None or ts < old[0]:
            self.onsets[target] = (ts, measurement_id)
        inc = self.incident
        if ts < inc.start:
            inc.start = ts
            inc.first_measurement_id = measurement_id


class IncidentBook:
    """Incidents by id in the order they opened; open ones and their members indexed."""

    def __init__(self) -> None:
        self._tracked: dict[str, Tracked] = {}
        self._order: list[str] = []
        self.open: dict[str, None] = {}
        """Ids of the open incidents, in the order they opened."""
        self.by_target: dict[str, str] = {}
        """Target -> the incident it belongs to."""
        self.by_vantage: dict[str, str] = {}
        """Vantage -> its vantage-problem incident."""

    def get(self, incident_id: str | None) -> Tracked | None:
        """The tracked incident, or None."""
        return self._tracked.get(incident_id) if incident_id is not None else None

    def __getitem__(self, incident_id: str) -> Tracked:
        return self._tracked[incident_id]

    def __contains__(self, incident_id: object) -> bool:
        return incident_id in self._tracked

    def open_tracked(self) -> Iterator[Tracked]:
        """The open incidents, in the order they opened."""
        for inc_id in list(self.open):
            yield self._tracked[inc_id]

    def joinable(
        self, info: TargetInfo, families: frozenset[str], *, onset: float, window_s: float
    ) -> Tracked | None:
        """The open outage incident a newly failing target (described by `info`, failing
        with `families`, since `onset`) joins, or None for a new one: its own service's;
        else one on its network that looks alike; else one of its organization that looks
        alike and began within `window_s` of it."""
        candidates = [t for t in self.open_tracked() if t.incident.vantage is None]
        if info.service is not None:
            for t in candidates:
                if info.service in t.incident.services:
                    return t
        alike = [t for t in candidates if t.looks_like(families)]
        if info.network is not None:
            for t in alike:
                if info.network in t.incident.networks:
                    return t
        if info.organization is not None:
            for t in alike:
                inc = t.incident
                if info.organization in inc.organizations and abs(inc.start - onset) <= window_s:
                    return t
        return None

    def unique_id(self, wanted: str) -> str:
        """`wanted`, or `wanted` with `+` appended until no incident has it."""
        while wanted in self._tracked:
            wanted += "+"
        return wanted

    def add(self, tracked: Tracked) -> Tracked:
        """Track a new open incident."""
        inc = tracked.incident
        self._tracked[inc.id] = tracked
        self._order.append(inc.id)
        self.open[inc.id] = None
        if inc.vantage is not None:
            self.by_vantage[inc.vantage] = inc.id
        return tracked

    def join(self, tracked: Tracked, target: str, info: TargetInfo, *, down: Iterable[str]) -> None:
        """`target` (seen down from `down`) belongs to `tracked`'s incident from now on."""
        inc = tracked.incident
        self.by_target[target] = inc.id
        add_name(inc.targets, target)
        if info.service is not None:
            add_name(inc.services, info.service)
        if info.network is not None:
            add_name(inc.networks, info.network)
        if info.organization is not None:
            add_name(inc.organizations, info.organization)
        for v in down:
            add_name(inc.vantages, v)

    def close(self, inc: Incident) -> None:
        """`inc` resolved: it is no longer open."""
        self.open.pop(inc.id, None)

    def withdraw(self, inc: Incident) -> None:
        """Forget `inc` entirely (resolved before it was confirmed)."""
        self.open.pop(inc.id, None)
        self._order.remove(inc.id)
        del self._tracked[inc.id]
        for t in inc.targets:
            if self.by_target.get(t) == inc.id:
                del self.by_target[t]
        if inc.vantage is not None and self.by_vantage.get(inc.vantage) == inc.id:
            del self.by_vantage[inc.vantage]

    def seed(self, incidents: Iterable[Incident]) -> list[Tracked]:
        """Adopt open incidents from an earlier run; return those adopted."""
        adopted: list[Tracked] = []
        for inc in incidents:
            if not inc.open or inc.id in self._tracked:
                continue
            own = inc.copy()
            tracked = Tracked(own, seeded=True, announced_maintenance=own.maintenance)
            tracked.signature = (len(own.targets), len(own.vantages), own.state)
            self.add(tracked)
            if own.vantage is None:
                for target in own.targets:
                    self.by_target.setdefault(target, own.id)
            adopted.append(tracked)
        return adopted

    def snapshots(self) -> list[Incident]:
        """Copies of every incident, oldest first."""
        return [self._tracked[i].incident.copy() for i in self._order]


def add_name(items: list[str], name: str) -> None:
    """Add `name` to the sorted list `items` unless it is there."""
    if name not in items:
        items.append(name)
        items.sort()

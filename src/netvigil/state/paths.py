"""The path table: every (target, vantage) path's health, its newest result, and each
vantage's counts and judgement.

This is the one place where "is this target up from this vantage" and "is this vantage
impaired" are decided. Live detection feeds it in stream order (`observe`); every reader
(the detector, the web state, the status page, `netvigil status`) reads it.

    table = PathTable(policy=HealthPolicy(), in_country={"tirana": True})
    change = table.observe(m)
    if change.state_changed:
        table.rejudge_vantages(now=m.ts)
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass

from netvigil.model import Measurement
from netvigil.state.health import HealthPolicy, HealthState, PathHealth
from netvigil.state.judge import VantageCounts, VantageView, judge_vantages

__all__ = ["PathChange", "PathRecord", "PathTable"]


@dataclass(slots=True)
class PathRecord:
    """One path: its health state machine and the facts of its newest result."""

    health: PathHealth
    kind: str = ""
    outcome: str = ""
    phase: str | None = None
    latency_s: float | None = None
    address: str | None = None
    failing: bool = False
    """Failing now: confirmed down, or suspected with its newest probe failed."""
    since: float = 0.0
    """When the path last started failing (its episode's first failure) or answering."""
    cert_days_left: float | None = None
    """Days left on the certificate its newest TLS result was shown."""

    @property
    def target(self) -> str:
        """The target measured."""
        return self.health.target

    @property
    def vantage(self) -> str:
        """The vantage measuring it."""
        return self.health.vantage

    @property
    def state(self) -> HealthState:
        """The confirmed state: ok, suspected or down."""
        return self.health.state

    @property
    def last_ts(self) -> float:
        """When the newest result was taken."""
        return self.health.last_ts or 0.0

    @property
    def failures(self) -> int:
        """Failed results in the confirmation window."""
        return self.health.failures


@dataclass(slots=True)
class PathChange:
    """What one observation changed."""

    record: PathRecord
    first: bool
    """The path's first result."""
    before: HealthState
    state_changed: bool
    corroboration_changed: bool


PathListener = Callable[[PathRecord], object]


class PathTable:
    """Every path's health and newest result, and per vantage its counts and judgement.

    `controls` names the control targets; `in_country` says which vantages sit inside
    the watched country (unknown vantages are abroad). Listeners are called with the
    record of a path that appeared or changed state.
    """

    def __init__(
        self,
        policy: HealthPolicy,
        *,
        controls: frozenset[str] = frozenset(),
        in_country: Mapping[str, bool] | None = None,
    ) -> None:
        self.policy = policy
        self.controls = controls
        self.in_country: dict[str, bool] = dict(in_country or {})
        self._paths: dict[tuple[str, str], PathRecord] = {}
        self._target_vantages: dict[str, list[str]] = {}
        self._vantage_targets: dict[str, list[str]] = {}
        self.counts: dict[str, VantageCounts] = {}
        self.last_seen: dict[str, float] = {}
        """Per vantage, the newest timestamp it reported."""
        self.vantage_views: dict[str, VantageView] = {}
        self.impaired: set[str] = set()
        self.impaired_until: dict[str, float] = {}
        """When each vantage last stopped being impaired."""
        self._listeners: list[PathListener] = []

    # -- feeding --------------------------------------------------------------------------

    def add_listener(self, listener: PathListener) -> None:
        """Call `listener(record)` whenever a path appears or changes state."""
        self._listeners.append(listener)

    def observe(self, m: Measurement) -> PathChange:
        """Take one measurement, in stream order."""
        key = (m.target, m.vantage)
        record = self._paths.get(key)
        if record is None:
            record = self._add(m.target, m.vantage)
        health = record.health
        before = health.state
        first = not health.has_data
        was_corroborating = health.corroborating
        changed = health.observe(m)
        record.kind = m.kind
        record.outcome = m.outcome  # a StrEnum: the value itself
        record.phase = m.phase
        record.latency_s = m.timings.get("total") if m.ok else None
        record.address = m.address
        if m.kind == "tls" and m.detail:
            days = m.detail.get("days_to_expiry")
            record.cert_days_left = float(days) if isinstance(days, int | float) else None
        seen = self.last_seen.get(m.vantage)
        if seen is None or m.ts > seen:
            self.last_seen[m.vantage] = m.ts
        failing = health.state is HealthState.DOWN or (
            health.state is HealthState.SUSPECTED and not m.ok
        )
        flipped = failing is not record.failing
        if first or flipped:
            record.failing = failing
            record.since = (health.episode_start_ts or m.ts) if failing else m.ts
        if changed or first:
            self._count(m.target in self.controls, m.vantage, before, health.state, first)
        if changed or first or flipped:
            for listener in self._listeners:
                listener(record)
        return PathChange(
            record, first, before, changed, health.corroborating is not was_corroborating
        )

    def _add(self, target: str, vantage: str) -> PathRecord:
        record = PathRecord(PathHealth(target, vantage, self.policy))
        self._paths[(target, vantage)] = record
        self._target_vantages.setdefault(target, []).append(vantage)
        self._vantage_targets.setdefault(vantage, []).append(target)
        if vantage not in self.counts:
            self.counts[vantage] = VantageCounts()
            self.in_country.setdefault(vantage, False)
        return record

    def _count(
        self, control: bool, vantage: str, before: HealthState, after: HealthState, first: bool
    ) -> None:
        counts = self.counts[vantage]
        if first:
            counts.paths += 1
            if control:
                counts.controls += 1
        else:
            if before is HealthState.DOWN:
                counts.down -= 1
                if control:
                    counts.controls_down -= 1
            if before is not HealthState.OK:
                counts.bad -= 1
                if control:
                    counts.controls_bad -= 1
        if after is HealthState.DOWN:
            counts.down += 1
            if control:
                counts.controls_down += 1
        if after is not HealthState.OK:
            counts.bad += 1
            if control:
                counts.controls_bad += 1

    def forget(self, targets: Collection[str]) -> None:
        """Drop every path to `targets` (with its vantage's counts): a target named again
        later starts empty, as a new one. The vantages' newest timestamps are kept."""
        gone = {t for t in targets if t in self._target_vantages}
        touched: set[str] = set()
        for target in gone:
            control = int(target in self.controls)
            for vantage in self._target_vantages.pop(target):
                state = self._paths.pop((target, vantage)).health.state
                counts = self.counts[vantage]
                counts.paths -= 1
                counts.controls -= control
                if state is HealthState.DOWN:
                    counts.down -= 1
                    counts.controls_down -= control
                if state is not HealthState.OK:
                    counts.bad -= 1
                    counts.controls_bad -= control
                touched.add(vantage)
        for vantage in touched:
            kept = [t for t in self._vantage_targets[vantage] if t not in gone]
            self._vantage_targets[vantage] = kept

    def rejudge_vantages(self, now: float) -> set[str]:
        """Judge every vantage again; return the vantages whose impairment changed."""
        views = judge_vantages(self.counts, self.in_country)
        impaired = {name for name, view in views.items() if view.impaired}
        self.vantage_views = views
        flipped = impaired ^ self.impaired
        for vantage in self.impaired - impaired:
            self.impaired_until[vantage] = now
        self.impaired = impaired
        return flipped

    # -- reading --------------------------------------------------------------------------

    def get(self, target: str, vantage: str) -> PathRecord | None:
        """The record of one path, or None."""
        return self._paths.get((target, vantage))

    def health(self, target: str, vantage: str) -> PathHealth:
        """The health of a path that exists (KeyError otherwise)."""
        return self._paths[(target, vantage)].health

    def vantages_of(self, target: str) -> list[str]:
        """The vantages that reported on `target`, in order of first report."""
        return self._target_vantages.get(target, [])

    def targets_of(self, vantage: str) -> list[str]:
        """The targets `vantage` reported on, in order of first report."""
        return self._vantage_targets.get(vantage, [])

    def paths_of(self, target: str) -> list[PathHealth]:
        """The health of every path to `target`."""
        return [self._paths[(target, v)].health for v in self._target_vantages.get(target, ())]

    def records(self) -> Iterator[PathRecord]:
        """Every path record, by target then vantage."""
        for target in sorted(self._target_vantages):
            for vantage in sorted(self._target_vantages[target]):
                yield self._paths[(target, vantage)]

    def targets(self) -> list[str]:
        """Every target with a result."""
        return list(self._target_vantages)

    def vantages(self) -> list[str]:
        """Every vantage with a result."""
        return list(self._vantage_targets)

    def recovered_at(self, targets: list[str], vantage: str | None = None) -> float | None:
        """When the last of `targets`' paths (from `vantage` only, when given) that is ok
        again began answering; None when none is."""
        end: float | None = None
        for t in targets:
            for v in self.vantages_of(t):
                if vantage is not None and v != vantage:
                    continue
                p = self.health(t, v)
                if p.state is HealthState.OK and p.ok_run_start_ts is not None:
                    end = p.ok_run_start_ts if end is None else max(end, p.ok_run_start_ts)
        return end

    def answering(self, targets: list[str], vantages: list[str]) -> bool:
        """Whether a path from one of `vantages` (not impaired) to one of `targets`
        answered its latest probe."""
        for t in targets:
            for v in vantages:
                r = self._paths.get((t, v))
                if r is None or v in self.impaired:
                    continue
                recent = r.health.recent
                if recent and recent[-1]:
                    return True
        return False

    def controls_vouch(self, vantages: list[str] | set[str] | tuple[str, ...]) -> bool:
        """Whether every one of `vantages` has controls and none of them is failing."""
        for v in vantages:
            c = self.counts.get(v)
            if c is None or not c.controls or c.controls_bad:
                return False
        return True

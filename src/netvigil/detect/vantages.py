"""Vantage troubles: a vantage whose own network fails (impaired: its controls down) or
that stopped reporting (silent), and the vantage-problem incident each gets.

A vantage-problem incident names the targets that only that vantage sees failing; an
outage the other vantages see too is an incident of its own, never absorbed here. A
silent vantage's incident names no target at all: nothing is known about them.
"""

from __future__ import annotations

from collections.abc import Mapping

from netvigil.cause import Cause, Evidence, Topic
from netvigil.detect.book import IncidentBook, Tracked
from netvigil.detect.targets import TargetIndex
from netvigil.incident import Incident, IncidentState
from netvigil.state.current import CurrentState
from netvigil.state.health import HealthState, PathHealth
from netvigil.state.judge import FAILING, TargetView
from netvigil.words import clock, duration

__all__ = ["VantageWatch"]


class VantageWatch:
    """Which vantages are in trouble, and their incidents."""

    def __init__(self, state: CurrentState, book: IncidentBook, index: TargetIndex) -> None:
        self.state = state
        self.paths = state.paths
        self.book = book
        self.index = index
        self.silent: dict[str, float] = {}
        """Vantages silent for longer than the state's `silent_after`, with when they were
        last heard from."""

    def check_silence(self, now: float) -> set[str]:
        """Note the vantages that fell silent or spoke again; return their targets (to be
        judged again without, or with, them)."""
        changed: set[str] = set()
        for vantage, seen in self.paths.last_seen.items():
            silent = self.state.silent(vantage, now)
            if silent == (vantage in self.silent):
                continue
            if silent:
                self.silent[vantage] = seen
            else:
                del self.silent[vantage]
            changed.update(self.paths.targets_of(vantage))
        return changed

    def troubled(self) -> list[str]:
        """Vantages impaired or silent now."""
        return sorted(self.paths.impaired | self.silent.keys())

    def in_trouble(self, vantage: str) -> bool:
        """Whether `vantage` is impaired or silent now."""
        return vantage in self.paths.impaired or vantage in self.silent

    def open(self, vantage: str, now: float) -> Tracked:
        """A new incident for `vantage`, starting at its first failure (or last word)."""
        down = [
            p
            for t in self.paths.targets_of(vantage)
            if (p := self.paths.health(t, vantage)).state is HealthState.DOWN
        ]
        first = min(down, key=lambda p: (p.episode_start_ts or now, p.target), default=None)
        start = (first.episode_start_ts if first else None) or self.silent.get(vantage, now)
        inc_id = self.book.unique_id(f"inc-vantage-{vantage}-{self._key(vantage, down, start)}")
        incident = Incident(
            id=inc_id,
            state=IncidentState.SUSPECTED,
            start=start,
            first_measurement_id=first.episode_start_id if first else None,
            vantage=vantage,
            vantages=[vantage],
            updated=now,
        )
        return self.book.add(Tracked(incident))

    def _key(self, vantage: str, down: list[PathHealth], start: float) -> str:
        """What names a vantage's incident: the first failure of its controls, else the
        last result of its controls (silent), else `start`. Detectors sharing the
        targets (`netvigil.cluster`) all read the controls, so they name it alike and
        the one that keeps it next continues it."""
        controls = self.paths.controls
        failed = [p for p in down if p.target in controls and p.episode_start_id is not None]
        if failed:
            return str(
                min(failed, key=lambda p: (p.episode_start_ts or 0.0, p.target)).episode_start_id
            )
        heard = [
            r.health.last_ts
            for t in controls
            if (r := self.paths.get(t, vantage)) is not None and r.health.last_ts is not None
        ]
        return str(max(heard) if heard else start)

    def extend(self, tracked: Tracked, views: Mapping[str, TargetView]) -> bool:
        """Add the targets only this vantage sees down; whether any was added."""
        inc = tracked.incident
        vantage = inc.vantage or ""
        if vantage in self.silent:
            return False
        counts = self.paths.counts.get(vantage)
        seen = (counts.down, counts.bad) if counts is not None else (0, 0)
        if tracked.extended_at == seen:
            return False  # nothing changed on this vantage since the last look
        tracked.extended_at = seen
        targets, services = set(inc.targets), set(inc.services)
        for t in self.paths.targets_of(vantage):
            if t in targets or self.paths.health(t, vantage).state is not HealthState.DOWN:
                continue
            view = views.get(t)
            if view is not None and view.condition in FAILING:
                continue  # the others see it too: an outage of its own
            targets.add(t)
            svc = self.index[t].service
            if svc is not None:
                services.add(svc)
        grew = len(targets) > len(inc.targets) or len(services) > len(inc.services)
        if grew:
            inc.targets[:] = sorted(targets)
            inc.services[:] = sorted(services)
        return grew

    def silence_evidence(self, vantage: str, now: float) -> Evidence:
        """The statement a silent vantage's incident rests on."""
        seen = self.silent[vantage]
        after = self.state.silent_after(vantage)
        return Evidence(
            f"no result from {vantage} since {clock(seen)} ({duration(now - seen)}, "
            f"more than {after:.0f} s): its results no longer count",
            Topic.VANTAGE,
            1.0,
            Cause.VANTAGE_PROBLEM,
        )

"""Maintenance labels: why an incident is planned maintenance (a `[[maintenance]]` window
over its services at its start, or mutes over its targets now), and when a label can next
change by itself, so the detector checks labels only then (`netvigil.maintenance`).
"""

from __future__ import annotations

from collections.abc import Callable

from netvigil.config.model import Config
from netvigil.incident import Incident
from netvigil.maintenance import maintenance_note
from netvigil.state.current import CurrentState

__all__ = ["MaintenanceLabels"]


class MaintenanceLabels:
    """Maintenance notes of incidents, from the config's windows and the state's mutes."""

    def __init__(
        self, config: Config, state: CurrentState, service_of: Callable[[str], str | None]
    ) -> None:
        self.config = config
        self.state = state
        self.service_of = service_of
        self._mutes_seen = -1
        self._due = float("inf")
        """When a label may next change by itself: a mute set or lifted (now), a mute
        running out, a window opening or closing."""

    def due(self, now: float) -> bool:
        """Whether labels may have changed since they were last checked; when so, the
        next such moment is found."""
        if self.state.mutes_version != self._mutes_seen:
            self._mutes_seen = self.state.mutes_version
        elif now < self._due:
            return False
        mutes = self.state.mute_map()
        edges = [m.until for m in mutes.values()]
        if mutes:
            edges += [t for w in self.config.maintenance for t in (w.start_ts, w.end_ts)]
        self._due = min((t for t in edges if t > now), default=float("inf"))
        return True

    def note(self, inc: Incident, now: float) -> str | None:
        """Why `inc` is planned maintenance at `now`, or None."""
        mutes = self.state.mute_map()
        if not self.config.maintenance and not mutes:
            return None
        return maintenance_note(
            inc.services,
            inc.targets,
            windows=self.config.maintenance,
            mutes=mutes,
            start=inc.start,
            now=now,
            service_of=self.service_of,
        )

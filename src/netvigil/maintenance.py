"""Planned maintenance: windows from the config and mutes set through the admin API.

Both label an incident and quiet its events (they are stored, never alerted):

- a `[[maintenance]]` window covers *services* over a fixed span of time, and applies
  to an incident when every service it names is covered at the incident's start;
- a `Mute` covers one *target* until a time, from the moment it is set (or until it
  is lifted), and applies when every target of the incident is covered at the time
  of judgement, by a mute or by a window over its service.

`maintenance_note` decides both and says why:

    note = maintenance_note(
        services, targets, windows=config.maintenance, mutes=mutes,
        start=incident.start, now=now, service_of=lambda t: ...,
    )
    # -> "datacentre move", "muted until 2026-11-23 18:00 UTC: router swap", or None
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from netvigil.config.model import MaintenanceConfig

__all__ = ["WINDOW_NOTE", "Mute", "maintenance_note", "mute_note", "window_note"]

WINDOW_NOTE = "maintenance window"
"""The note of a window without one of its own."""


@dataclass(frozen=True, slots=True)
class Mute:
    """A target muted for maintenance until `until` (epoch s), with why and when set."""

    target: str
    until: float
    note: str = ""
    created: float = 0.0

    def in_force(self, ts: float) -> bool:
        """Whether the mute still holds at `ts` (epoch s)."""
        return ts < self.until

    def describe(self) -> str:
        """The mute in words: `muted until 2026-11-23 18:00 UTC: <note>`."""
        until = datetime.fromtimestamp(self.until, UTC).strftime("%Y-%m-%d %H:%M UTC")
        return f"muted until {until}: {self.note}" if self.note else f"muted until {until}"


def window_note(
    windows: Sequence[MaintenanceConfig], services: Iterable[str], ts: float
) -> str | None:
    """The note of the windows covering every one of `services` at `ts`, or None.

    None also when `services` is empty; several windows' notes are joined with "; ".
    """
    notes: list[str] = []
    found = False
    for svc in services:
        window = next((w for w in windows if w.covers(svc, ts)), None)
        if window is None:
            return None
        found = True
        if window.note and window.note not in notes:
            notes.append(window.note)
    if not found:
        return None
    return "; ".join(notes) or WINDOW_NOTE


def mute_note(
    mutes: Mapping[str, Mute],
    targets: Iterable[str],
    now: float,
    *,
    covered: Callable[[str], str | None] = lambda _target: None,
) -> str | None:
    """The note of the mutes covering every one of `targets` at `now`, or None.

    `covered(target)` may vouch for a target a mute does not cover (returning the
    note of what covers it, e.g. a window over its service); at least one target
    must be muted. None also when `targets` is empty.
    """
    notes: list[str] = []
    muted = False
    for target in targets:
        mute = mutes.get(target)
        if mute is not None and mute.in_force(now):
            muted = True
            note = mute.describe()
        else:
            other = covered(target)
            if other is None:
                return None
            note = other
        if note not in notes:
            notes.append(note)
    return "; ".join(notes) if muted else None


def maintenance_note(
    services: Sequence[str],
    targets: Sequence[str],
    *,
    windows: Sequence[MaintenanceConfig],
    mutes: Mapping[str, Mute],
    start: float,
    now: float,
    service_of: Callable[[str], str | None],
) -> str | None:
    """Why an incident over `services` and `targets` is planned maintenance, or None.

    Windows are judged at the incident's `start`, mutes at `now` (see the module
    docstring); a window covering every service wins over the mutes.
    """
    if windows:
        note = window_note(windows, services, start)
        if note is not None:
            return note
    if not mutes:
        return None

    def by_window(target: str) -> str | None:
        service = service_of(target)
        return None if service is None else window_note(windows, (service,), start)

    return mute_note(mutes, targets, now, covered=by_window)

"""The status page's memory: each service's last 90 days and the public incidents in them.

A day (UTC, midnight to midnight) of one service gets one state, by this rule:

1. no result from any of the service's targets that day: "unknown" (no data);
2. else a public incident touched the service that day (confirmed, not a vantage's own
   trouble), or the day overlaps one of the config's maintenance windows for it: when
   every such incident or window was planned maintenance, "maintenance"; otherwise
   "down" when fewer than half the day's checks succeeded, else "degraded";
3. else (no incident): "down" when fewer than half the checks succeeded, "degraded"
   when fewer than `degraded_below` (99 %), "working" otherwise.

Checks are the day's per-minute rollups of the service's targets from every vantage,
summed (`Store.rollups` with `RollupQuery(step=86400)`). The uptime over the period is
the successful share of the checks of every day with data, maintenance days left out.

`StatusHistory` computes all this in the background, at most every `refresh_s`, and
keeps the result (`snapshot`) for the pages to render from memory. A day before
yesterday is read from the store once and kept; each refresh reads today and
yesterday again (late results from agents land there), plus the public incidents of
the whole period. When the pages see an incident open or end live, the incidents
alone are read again at once (at most every `incidents_gap_s`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from netvigil.cause import Cause
from netvigil.config.model import Config
from netvigil.incident import Incident, IncidentState
from netvigil.store.base import IncidentQuery, RollupQuery, Store

__all__ = [
    "DAY_S",
    "DayBar",
    "DayState",
    "HistorySnapshot",
    "ServiceHistory",
    "StatusHistory",
    "day_state",
    "is_public",
    "uptime_words",
]

DAY_S = 86_400
"""One day, in seconds."""

DayState = Literal["working", "degraded", "down", "maintenance", "unknown"]

log = logging.getLogger(__name__)


def is_public(incident: Incident) -> bool:
    """Whether the public pages show `incident`: confirmed once, and not a vantage's own
    trouble (the same incidents `/status` shows while they last)."""
    confirmed = incident.state is IncidentState.CONFIRMED or (
        incident.state is IncidentState.RESOLVED and incident.confirmed_at is not None
    )
    return confirmed and incident.cause is not Cause.VANTAGE_PROBLEM


def day_state(
    count: int,
    ok_count: int,
    *,
    incident: bool,
    planned_only: bool,
    degraded_below: float = 0.99,
) -> DayState:
    """One service's state over one day (the rule of the module docstring).

    `incident`: a public incident or maintenance window touched the day; `planned_only`:
    each of those was planned maintenance.
    """
    if count == 0:
        return "unknown"
    ratio = ok_count / count
    if incident and planned_only:
        return "maintenance"
    if ratio < 0.5:
        return "down"
    if incident or ratio < degraded_below:
        return "degraded"
    return "working"


def uptime_words(ok_count: int, count: int) -> str:
    """The share of successful checks, rounded down to 0.01 %: '99.98%'; 'no data'."""
    if count == 0:
        return "no data"
    return f"{math.floor(ok_count / count * 10_000) / 100:.2f}%"


@dataclass(frozen=True, slots=True)
class DayBar:
    """Consecutive days of one service in the same state (one bar per day on the page)."""

    first: int
    """The start of the first day, epoch s."""
    days: int
    state: DayState
    ok_count: int
    count: int


@dataclass(frozen=True, slots=True)
class ServiceHistory:
    """One service over the period: its days merged into bars, oldest first, and uptime."""

    name: str
    bars: tuple[DayBar, ...]
    ok_count: int
    """Successful checks on the days that count for uptime (maintenance days left out)."""
    count: int

    @property
    def uptime(self) -> str:
        """'99.98%' or 'no data'."""
        return uptime_words(self.ok_count, self.count)


@dataclass(frozen=True, slots=True)
class HistorySnapshot:
    """What the history pages show, as of `computed_at`."""

    computed_at: float
    first_day: int
    days: int
    services: dict[str, ServiceHistory]
    incidents: tuple[Incident, ...]
    """The public incidents that touched the period, newest start first."""


@dataclass(slots=True)
class _Counts:
    count: int = 0
    ok_count: int = 0


@dataclass(slots=True)
class _Touch:
    """What touched one service on one day: incidents or windows, and whether all planned."""

    any: bool = False
    planned_only: bool = True
    ids: set[str] = field(default_factory=set)


class StatusHistory:
    """The last `days` days of every service, computed from `store` in the background.

    `status.css` draws up to 90 days (one width class per run length, `.n1` .. `.n90`).

    `snapshot` is None until the first computation ends. `maybe_refresh()` (called by the
    pages on each request) starts a computation when the last one began `refresh_s` ago
    or more and none runs; `refresh()` computes now and waits. `now` is the wall clock.
    """

    def __init__(
        self,
        store: Store,
        config: Config,
        *,
        days: int = 90,
        refresh_s: float = 300.0,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.config = config
        self.days = days
        self.refresh_s = refresh_s
        self.now = now
        self.snapshot: HistorySnapshot | None = None
        self.refreshes = 0
        """How many computations ended (for tests and metrics)."""
        self._started_at = float("-inf")
        self._task: asyncio.Task[None] | None = None
        self.incidents_gap_s = 5.0
        """The shortest time between two reads of the incidents alone."""
        self._incidents_at = float("-inf")
        self._closed_days: dict[int, dict[str, _Counts]] = {}
        self._per_day: dict[int, dict[str, _Counts]] = {}
        self._lock = asyncio.Lock()

    def configure(self, config: Config) -> None:
        """Take a reloaded config: the days kept are read again at the next computation
        (a target may now belong to another service), which starts at the next request."""
        self.config = config
        self._closed_days.clear()
        self._started_at = float("-inf")

    def maybe_refresh(self, *, incidents_changed: bool = False) -> None:
        """Start a background computation if one is due and none runs.

        `incidents_changed`: the live incidents differ from the snapshot's (one opened or
        ended), so the incidents are read again now (at most every `incidents_gap_s`).
        """
        if self._task is not None and not self._task.done():
            return
        now = self.now()
        if now - self._started_at >= self.refresh_s:
            self._started_at = now
            self._task = asyncio.get_running_loop().create_task(self._refresh_logged(False))
        elif incidents_changed and now - self._incidents_at >= self.incidents_gap_s:
            self._incidents_at = now
            self._task = asyncio.get_running_loop().create_task(self._refresh_logged(True))

    async def wait(self) -> None:
        """Wait for the background computation under way, if any."""
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task

    async def _refresh_logged(self, incidents_only: bool) -> None:
        try:
            if incidents_only:
                await self.refresh_incidents()
            else:
                await self.refresh()
        except Exception:
            log.exception("status history: could not read the store; keeping the last one")

    async def refresh(self) -> HistorySnapshot:
        """Compute the history now (store reads as the module docstring says).

        Raises StoreError when the store cannot be read; the last snapshot stays.
        """
        async with self._lock:
            now = self.now()
            self._started_at = max(self._started_at, now)
            today = int(now // DAY_S) * DAY_S
            first = today - (self.days - 1) * DAY_S
            per_day: dict[int, dict[str, _Counts]] = {}
            for day in range(first, today + DAY_S, DAY_S):
                closed = day < today - DAY_S
                counts = self._closed_days.get(day) if closed else None
                if counts is None:
                    counts = await self._read_day(day)
                    if closed:
                        self._closed_days[day] = counts
                per_day[day] = counts
            for day in [d for d in self._closed_days if d < first]:
                del self._closed_days[day]
            self._per_day = per_day
            incidents = await self._read_incidents(first, now)
            self.snapshot = self._build(now, first, per_day, incidents)
            self.refreshes += 1
            return self.snapshot

    async def refresh_incidents(self) -> HistorySnapshot | None:
        """Read the incidents again and keep the days' counts (a full `refresh` when
        there is no snapshot yet). Raises StoreError when the store cannot be read."""
        if self.snapshot is None:
            return await self.refresh()
        async with self._lock:
            now = self.now()
            first = self.snapshot.first_day
            incidents = await self._read_incidents(first, now)
            self.snapshot = self._build(now, first, self._per_day, incidents)
            self.refreshes += 1
            return self.snapshot

    async def _read_incidents(self, first: int, now: float) -> tuple[Incident, ...]:
        found = await self.store.incidents(IncidentQuery(since=first, until=now + 1, limit=100_000))
        return tuple(i for i in found if is_public(i))

    async def _read_day(self, day: int) -> dict[str, _Counts]:
        """Checks per service on the day starting at `day`."""
        service_of = {t.name: t.service for t in self.config.targets if t.service}
        rows = await self.store.rollups(RollupQuery(since=day, until=day + DAY_S, step=DAY_S))
        counts: dict[str, _Counts] = {}
        for r in rows:
            service = service_of.get(r.target)
            if service is None or r.minute != day:
                continue
            c = counts.setdefault(service, _Counts())
            c.count += r.count
            c.ok_count += r.ok_count
        return counts

    def _build(
        self,
        now: float,
        first: int,
        per_day: dict[int, dict[str, _Counts]],
        incidents: Sequence[Incident],
    ) -> HistorySnapshot:
        touches = self._touches(first, now, incidents)
        services: dict[str, ServiceHistory] = {}
        for svc in self.config.services:
            bars: list[DayBar] = []
            ok_total = total = 0
            for day in sorted(per_day):
                c = per_day[day].get(svc.name, _Counts())
                touch = touches.get((svc.name, day), _Touch())
                state = day_state(
                    c.count, c.ok_count, incident=touch.any, planned_only=touch.planned_only
                )
                if state != "maintenance":
                    ok_total += c.ok_count
                    total += c.count
                bars.append(DayBar(day, 1, state, c.ok_count, c.count))
            services[svc.name] = ServiceHistory(svc.name, tuple(_merge(bars)), ok_total, total)
        ordered = sorted(incidents, key=lambda i: (-i.start, i.id))
        return HistorySnapshot(now, first, self.days, services, tuple(ordered))

    def _touches(
        self, first: int, now: float, incidents: Iterable[Incident]
    ) -> dict[tuple[str, int], _Touch]:
        """Which (service, day) the incidents and maintenance windows touched."""
        spans: list[tuple[Sequence[str], float, float, bool]] = [
            (i.services, i.start, i.end if i.end is not None else now, i.maintenance is not None)
            for i in incidents
        ]
        spans += [(m.services, m.start_ts, m.end_ts, True) for m in self.config.maintenance]
        touches: dict[tuple[str, int], _Touch] = {}
        for services, start, end, planned in spans:
            lo = max(first, int(start // DAY_S) * DAY_S)
            hi = min(now, max(start, end - 1e-6))
            for day in range(lo, int(hi // DAY_S) * DAY_S + DAY_S, DAY_S):
                for name in services:
                    touch = touches.setdefault((name, day), _Touch())
                    touch.any = True
                    touch.planned_only = touch.planned_only and planned
        return touches


def _merge(bars: Iterable[DayBar]) -> list[DayBar]:
    """Consecutive days in the same state as one bar each (counts summed)."""
    out: list[DayBar] = []
    for bar in bars:
        last = out[-1] if out else None
        if last is not None and last.state == bar.state:
            out[-1] = DayBar(
                last.first,
                last.days + bar.days,
                last.state,
                last.ok_count + bar.ok_count,
                last.count + bar.count,
            )
        else:
            out.append(bar)
    return out

"""What `netvigil run` shows while it works: a live table on a terminal, log lines otherwise.

The live table lists the newest result per target and vantage, with the open incidents
(cause, confidence, services, since) under it; incident events are also logged, one
line each (`IncidentLog`), and paths that turn down or up one summary line per second
at most (`LatestState.log_changes`; one line per path at DEBUG).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from netvigil.cli._time import format_ts
from netvigil.cli.incidents import incident_line
from netvigil.config import Config
from netvigil.incident import IncidentEvent
from netvigil.model import Measurement
from netvigil.monitor import Monitor
from netvigil.pipeline.detection import LiveDetection
from netvigil.state.current import CurrentState, PairView
from netvigil.words import names

__all__ = ["IncidentLog", "LatestState", "PathChange", "log_progress", "show_live", "summary_line"]

log = logging.getLogger("netvigil.run")

SUMMARY_TARGETS = 50
"""The most targets a path-change summary line names (the rest are counted)."""


@dataclass(frozen=True, slots=True)
class PathChange:
    """One path that turned down or up, as the progress log tells it."""

    target: str
    vantage: str
    down: bool
    outcome: str
    phase: str | None

    def line(self) -> str:
        """The per-path log line (DEBUG)."""
        state = f"DOWN ({self.outcome}, phase {self.phase})" if self.down else "up"
        return f"{self.target} from {self.vantage} is {state}"


def summary_line(changes: list[PathChange], limit: int = SUMMARY_TARGETS) -> str:
    """One line for a burst of path changes: per direction, how many paths and which
    targets (each with its vantages and, when down, its outcomes), the first `limit`
    targets by name."""
    parts = []
    for down in (True, False):
        by_target: dict[str, list[PathChange]] = {}
        for c in changes:
            if c.down is down:
                by_target.setdefault(c.target, []).append(c)
        if not by_target:
            continue
        paths = sum(len(cs) for cs in by_target.values())
        named = []
        for target in sorted(by_target)[:limit]:
            vantages = ", ".join(sorted({c.vantage for c in by_target[target]}))
            outcomes = ", ".join(sorted({c.outcome for c in by_target[target]}))
            named.append(f"{target} from {vantages}" + (f" ({outcomes})" if down else ""))
        more = len(by_target) - len(named)
        parts.append(
            f"{paths} path(s) {'DOWN' if down else 'up'} on {len(by_target)} target(s): "
            + "; ".join(named)
            + (f"; and {more} more target(s)" if more > 0 else "")
        )
    return " | ".join(parts)


class LatestState:
    """What the live view reads: the current state's paths (the same ones the dashboard and
    the detector read), a count of checks (a measurement sink), and the paths that turned
    up or down.

    A path change is heard on the thread that changes the current state (the detection
    thread) and only noted there: `log_changes()`, called from the event loop (the live
    view and the progress log call it every second), writes one INFO line per direction
    for everything noted since the last call (which targets, from which vantages) and,
    at DEBUG, one line per path. A large outage turns about a thousand paths down within
    seconds; formatting and writing a line each on the detection thread cost it about an
    eighth of its time.
    """

    def __init__(self, current: CurrentState) -> None:
        self.current = current
        self.checks = 0
        self._down: set[tuple[str, str]] = set()
        self._noted: collections.deque[PathChange] = collections.deque()
        current.add_listener(self._changed)

    def submit(self, m: Measurement) -> None:
        self.checks += 1

    def _changed(self, kind: str, data: dict[str, Any]) -> None:
        if kind != "state":
            return
        key = (data["target"], data["vantage"])
        if data["state"] == "down" and key not in self._down:
            self._down.add(key)
            down = True
        elif data["state"] == "ok" and key in self._down:
            self._down.discard(key)
            down = False
        else:
            return
        self._noted.append(PathChange(key[0], key[1], down, data["outcome"], data["phase"]))

    def log_changes(self) -> int:
        """Log the path changes noted since the last call (see the class docstring);
        returns how many there were."""
        changes: list[PathChange] = []
        with contextlib.suppress(IndexError):
            while True:
                changes.append(self._noted.popleft())
        if not changes:
            return 0
        if log.isEnabledFor(logging.DEBUG):
            for c in changes:
                log.debug("%s", c.line())
        log.info("%s", summary_line(changes))
        return len(changes)

    def rows(self) -> list[PairView]:
        with self.current.lock:
            return self.current.pairs()

    def failing(self) -> list[PairView]:
        return [p for p in self.rows() if not p.ok]


class IncidentLog:
    """An event sink logging each incident event as one line (see `incident_line`)."""

    def submit(self, event: IncidentEvent) -> None:
        log.info("%s", incident_line(event))


def _incidents(detection: LiveDetection) -> Table | None:
    found = detection.open_incidents()
    if not found:
        return None
    table = Table(box=None, header_style="bold", expand=False, title="open incidents")
    for column in ("incident", "state", "cause", "confidence", "services", "vantages", "since"):
        table.add_column(column)
    for inc in found[-20:]:
        table.add_row(
            inc.id,
            f"[bold red]{inc.state.value}[/bold red]",
            inc.cause.value,
            f"{inc.confidence:.2f}",
            names(inc.services or inc.targets, limit=4),
            names([inc.vantage] if inc.vantage else inc.vantages, limit=4),
            format_ts(inc.start),
        )
    return table


def _table(
    state: LatestState, config: Config, monitor: Monitor, detection: LiveDetection | None
) -> Group:
    services = {t.name: t.service or ("control" if t.control else "") for t in config.targets}
    table = Table(box=None, header_style="bold", expand=False)
    for column in ("service", "target", "vantage", "state", "outcome", "total ms", "since"):
        table.add_column(column)
    rows = sorted(state.rows(), key=lambda p: (services.get(p.target, ""), p.target, p.vantage))
    for p in rows[:60]:
        table.add_row(
            services.get(p.target, ""),
            p.target,
            p.vantage,
            "[green]up[/green]" if p.ok else "[bold red]down[/bold red]",
            p.outcome,
            "" if p.latency_s is None else f"{p.latency_s * 1000:.1f}",
            format_ts(p.since),
        )
    lag = monitor.lag_summary()
    open_count = len(detection.open_incidents()) if detection is not None else 0
    header = Text(
        f"netvigil — vantage {config.vantage.name} — {len(config.targets)} targets, "
        f"{state.checks} checks, {len(state.failing())} failing, {open_count} open incidents, "
        f"schedule lag p99 {lag.p99_s * 1000:.0f} ms — {format_ts(time.time())}"
    )
    incidents = _incidents(detection) if detection is not None else None
    return Group(header, table) if incidents is None else Group(header, table, incidents)


async def show_live(
    state: LatestState,
    config: Config,
    monitor: Monitor,
    stop: asyncio.Event,
    detection: LiveDetection | None = None,
) -> None:
    """Redraw the live table (and open incidents) every second until `stop` is set, and log
    the paths that turned up or down meanwhile (`LatestState.log_changes`)."""
    first = _table(state, config, monitor, detection)
    with Live(first, refresh_per_second=2, transient=False) as live:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
            state.log_changes()
            live.update(_table(state, config, monitor, detection))


async def log_progress(
    state: LatestState,
    monitor: Monitor,
    stop: asyncio.Event,
    every_s: float = 30.0,
    detection: LiveDetection | None = None,
    changes_every_s: float = 1.0,
) -> None:
    """Log a one-line summary every `every_s` seconds until `stop` is set, and the paths
    that turned up or down every `changes_every_s` (`LatestState.log_changes`)."""
    loop = asyncio.get_running_loop()
    next_summary = loop.time() + every_s
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            wait = min(changes_every_s, max(0.0, next_summary - loop.time()))
            await asyncio.wait_for(stop.wait(), timeout=wait)
        state.log_changes()
        if loop.time() < next_summary and not stop.is_set():
            continue
        next_summary = loop.time() + every_s
        lag = monitor.lag_summary()
        failing = sorted({p.target for p in state.failing()})
        open_count = len(detection.open_incidents()) if detection is not None else 0
        log.info(
            "%d checks so far; %d target(s) failing%s; %d open incident(s); "
            "schedule lag p99 %.0f ms",
            state.checks,
            len(failing),
            f": {', '.join(failing[:10])}" if failing else "",
            open_count,
            lag.p99_s * 1000,
        )

"""What `netvigil run` shows while it works: a live table on a terminal, log lines otherwise.

The live table lists the newest result per target and vantage, with the open incidents
(cause, confidence, services, since) under it; incident events are also logged, one
line each (`IncidentLog`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time

from rich.console import Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from netvigil.cli._time import format_ts
from netvigil.cli.incidents import incident_line
from netvigil.config import Config
from netvigil.detect.live import LiveDetection
from netvigil.incident import IncidentEvent
from netvigil.model import Measurement
from netvigil.monitor import Monitor
from netvigil.words import names

__all__ = ["IncidentLog", "LatestState", "log_progress", "show_live"]

log = logging.getLogger("netvigil.run")


class LatestState:
    """A measurement sink keeping the newest result per (target, vantage) and when the
    state last changed; logs every change between up and down."""

    def __init__(self) -> None:
        self.latest: dict[tuple[str, str], Measurement] = {}
        self.since: dict[tuple[str, str], float] = {}
        self.checks = 0

    def submit(self, m: Measurement) -> None:
        key = (m.target, m.vantage)
        previous = self.latest.get(key)
        self.checks += 1
        if previous is not None and previous.ts > m.ts:
            return
        if previous is None or previous.ok != m.ok:
            self.since[key] = m.ts
            if previous is not None:
                state = "up" if m.ok else f"DOWN ({m.outcome.value}, phase {m.phase})"
                log.info("%s from %s is %s", m.target, m.vantage, state)
        self.latest[key] = m

    def failing(self) -> list[Measurement]:
        return [m for m in self.latest.values() if not m.ok]


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
    rows = sorted(
        state.latest.values(), key=lambda m: (services.get(m.target, ""), m.target, m.vantage)
    )
    for m in rows[:60]:
        total = m.timings.get("total")
        table.add_row(
            services.get(m.target, ""),
            m.target,
            m.vantage,
            "[green]up[/green]" if m.ok else "[bold red]down[/bold red]",
            m.outcome.value,
            "" if total is None else f"{total * 1000:.1f}",
            format_ts(state.since[(m.target, m.vantage)]),
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
    """Redraw the live table (and open incidents) every second until `stop` is set."""
    first = _table(state, config, monitor, detection)
    with Live(first, refresh_per_second=2, transient=False) as live:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
            live.update(_table(state, config, monitor, detection))


async def log_progress(
    state: LatestState,
    monitor: Monitor,
    stop: asyncio.Event,
    every_s: float = 30.0,
    detection: LiveDetection | None = None,
) -> None:
    """Log a one-line summary every `every_s` seconds until `stop` is set."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_s)
        lag = monitor.lag_summary()
        failing = sorted({m.target for m in state.failing()})
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

"""What `netvigil run` shows while it works: a live table on a terminal, log lines otherwise."""

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
from netvigil.config import Config
from netvigil.model import Measurement
from netvigil.monitor import Monitor

__all__ = ["LatestState", "log_progress", "show_live"]

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


def _table(state: LatestState, config: Config, monitor: Monitor) -> Group:
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
    header = Text(
        f"netvigil — vantage {config.vantage.name} — {len(config.targets)} targets, "
        f"{state.checks} checks, {len(state.failing())} failing, "
        f"schedule lag p99 {lag.p99_s * 1000:.0f} ms — {format_ts(time.time())}"
    )
    return Group(header, table)


async def show_live(
    state: LatestState, config: Config, monitor: Monitor, stop: asyncio.Event
) -> None:
    """Redraw the live table every second until `stop` is set."""
    with Live(_table(state, config, monitor), refresh_per_second=2, transient=False) as live:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=1.0)
            live.update(_table(state, config, monitor))


async def log_progress(
    state: LatestState, monitor: Monitor, stop: asyncio.Event, every_s: float = 30.0
) -> None:
    """Log a one-line summary every `every_s` seconds until `stop` is set."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every_s)
        lag = monitor.lag_summary()
        failing = sorted({m.target for m in state.failing()})
        log.info(
            "%d checks so far; %d target(s) failing%s; schedule lag p99 %.0f ms",
            state.checks,
            len(failing),
            f": {', '.join(failing[:10])}" if failing else "",
            lag.p99_s * 1000,
        )

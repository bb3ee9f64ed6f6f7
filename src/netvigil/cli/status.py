"""`netvigil status`: the state of every target from every vantage, from the store.

The state is judged by the same rules (`netvigil.state`) live detection, the dashboard and
the status page use, over the last results of each path in the store.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Annotated

import typer
from rich.table import Table

from netvigil.cli._common import (
    ConfigOption,
    DBOption,
    load_optional_config,
    output_console,
    reading_store,
)
from netvigil.cli._loop import run_async
from netvigil.cli._time import format_ts
from netvigil.config import Config
from netvigil.model import Measurement
from netvigil.pipeline.catch_up import catch_up, horizon
from netvigil.state.current import CurrentState, PairView
from netvigil.store.open import OpenedStore


def status(
    config_path: ConfigOption = None,
    db: DBOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Show the state of each target from each vantage; exit 1 if any is failing."""
    config = load_optional_config(config_path)
    opener = reading_store(config_path, config, db)
    current = CurrentState(config or Config())
    latest = run_async(_latest(opener.open, current))
    pairs = current.pairs()
    services = {t.name: t.service for t in config.targets} if config else {}
    pairs.sort(key=lambda p: (services.get(p.target) or "", p.target, p.vantage))
    if as_json:
        for p in pairs:
            row = latest[(p.target, p.vantage)].to_json() | p.to_json()
            row["service"] = services.get(p.target)
            sys.stdout.write(json.dumps(row, separators=(",", ":")) + "\n")
    else:
        output_console().print(_table(pairs, latest, config))
    if any(not p.ok for p in pairs):
        raise typer.Exit(1)


async def _latest(
    opener: Callable[[], Awaitable[OpenedStore]], current: CurrentState
) -> dict[tuple[str, str], Measurement]:
    """Bring `current` up to date from the store `opener` opens (the rules live detection
    applies, over the last results that can count for each path) and return the newest
    measurement of every path."""
    async with await opener() as store:
        latest = {(m.target, m.vantage): m for m in await store.latest()}
        if latest:
            await catch_up(current, store, max(m.ts for m in latest.values()) - horizon(current))
        for m in sorted(latest.values(), key=lambda m: m.ts):
            if current.paths.get(m.target, m.vantage) is None:
                current.observe(m)  # a path silent for longer: its newest result alone
        return latest


def _table(
    pairs: list[PairView], latest: dict[tuple[str, str], Measurement], config: Config | None
) -> Table:
    services = (
        {t.name: t.service or ("control" if t.control else "") for t in config.targets}
        if config
        else {}
    )
    now = time.time()
    table = Table(box=None, header_style="bold", title="latest state per target and vantage")
    for column in ("service", "target", "vantage", "state", "outcome", "total ms", "checked"):
        table.add_column(column, justify="right" if column == "total ms" else "left")
    for p in pairs:
        m = latest[(p.target, p.vantage)]
        state = "[green]up[/green]" if p.ok else f"[red]down[/red] since {format_ts(p.since)}"
        total = m.timings.get("total")
        table.add_row(
            services.get(m.target, ""),
            m.target,
            m.vantage,
            state,
            m.outcome.value,
            "" if total is None else f"{total * 1000:.1f}",
            f"{format_ts(m.ts)} ({now - m.ts:.0f}s ago)",
        )
    if not pairs:
        table.caption = "no measurements stored yet"
    return table

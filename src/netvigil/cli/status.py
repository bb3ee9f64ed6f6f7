"""`netvigil status`: the latest state of every target from every vantage, from the store."""

from __future__ import annotations

import json
import sys
import time
from typing import Annotated

import typer
from rich.table import Table

from netvigil.cli._common import (
    ConfigOption,
    DBOption,
    load_optional_config,
    output_console,
    store_path,
)
from netvigil.cli._loop import run_async
from netvigil.cli._time import format_ts
from netvigil.config import Config
from netvigil.errors import StoreError
from netvigil.model import Measurement
from netvigil.store.sqlite import SQLiteStore


def status(
    config_path: ConfigOption = None,
    db: DBOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Show the newest measurement of each target from each vantage; exit 1 if any is failing."""
    config = load_optional_config(config_path)
    path = store_path(config_path, config, db)
    if not path.exists():
        raise StoreError(f"{path}: no store here (run `netvigil run -c FILE` first, or pass --db)")
    latest = run_async(_latest(str(path)))
    services = {t.name: t.service for t in config.targets} if config else {}
    latest.sort(key=lambda m: (services.get(m.target) or "", m.target, m.vantage))
    if as_json:
        for m in latest:
            row = m.to_json() | {"service": services.get(m.target)}
            sys.stdout.write(json.dumps(row, separators=(",", ":")) + "\n")
    else:
        output_console().print(_table(latest, config))
    if any(not m.ok for m in latest):
        raise typer.Exit(1)


async def _latest(path: str) -> list[Measurement]:
    async with await SQLiteStore.open(path) as store:
        return await store.latest()


def _table(latest: list[Measurement], config: Config | None) -> Table:
    services = (
        {t.name: t.service or ("control" if t.control else "") for t in config.targets}
        if config
        else {}
    )
    now = time.time()
    table = Table(box=None, header_style="bold", title="latest state per target and vantage")
    for column in ("service", "target", "vantage", "state", "outcome", "total ms", "checked"):
        table.add_column(column, justify="right" if column == "total ms" else "left")
    for m in latest:
        state = "[green]up[/green]" if m.ok else "[red]down[/red]"
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
    if not latest:
        table.caption = "no measurements stored yet"
    return table

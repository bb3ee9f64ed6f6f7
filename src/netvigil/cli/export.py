"""`netvigil export`: raw measurements from the store as CSV or JSON lines."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import IO, Annotated

import typer

from netvigil.cli._common import (
    ConfigOption,
    DBOption,
    StoreOpener,
    load_optional_config,
    reading_store,
)
from netvigil.cli._loop import run_async
from netvigil.cli._time import parse_moment
from netvigil.export import write_csv, write_jsonl
from netvigil.store.base import MeasurementQuery

PAGE = 5_000


class Format(StrEnum):
    csv = "csv"
    jsonl = "jsonl"


def export(
    fmt: Annotated[Format, typer.Option("--format", "-f", help="Output format.")] = Format.jsonl,
    since: Annotated[
        str | None, typer.Option(help="From this moment: an age (2h, 7d) or ISO-8601 time.")
    ] = None,
    until: Annotated[str | None, typer.Option(help="Up to this moment (same forms).")] = None,
    target: Annotated[
        list[str] | None, typer.Option("--target", "-t", help="Only this target (repeatable).")
    ] = None,
    vantage: Annotated[
        list[str] | None, typer.Option("--vantage", help="Only this vantage (repeatable).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Write to FILE instead of stdout.")
    ] = None,
    config_path: ConfigOption = None,
    db: DBOption = None,
) -> None:
    """Write stored measurements, oldest first, in the format `netvigil replay` reads."""
    since_ts = parse_moment(since, option="--since") if since else None
    until_ts = parse_moment(until, option="--until") if until else None
    config = load_optional_config(config_path)
    opener = reading_store(config_path, config, db)
    query = MeasurementQuery(
        since=since_ts, until=until_ts, targets=target or None, vantages=vantage or None, limit=PAGE
    )
    if out is None:
        run_async(_export(opener, query, fmt, sys.stdout))
        return
    with out.open("w", encoding="utf-8", newline="") as fp:
        count = run_async(_export(opener, query, fmt, fp))
    typer.echo(f"wrote {count} measurements to {out}", err=True)


async def _export(opener: StoreOpener, query: MeasurementQuery, fmt: Format, fp: IO[str]) -> int:
    count = 0
    async with await opener.open() as store:
        while True:
            page = await store.measurements(query)
            if not page:
                break
            if fmt is Format.jsonl:
                count += write_jsonl(page, fp)
            else:
                count += write_csv(page, fp, header=count == 0)
            query = MeasurementQuery(
                since=query.since,
                until=query.until,
                targets=query.targets,
                vantages=query.vantages,
                limit=query.limit,
                after_id=page[-1].id,
            )
    return count

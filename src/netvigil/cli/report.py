"""`netvigil report ID --out FILE`: an incident report (Markdown or HTML) from the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from netvigil.cli._common import (
    ConfigOption,
    DBOption,
    StoreOpener,
    load_optional_config,
    reading_store,
)
from netvigil.cli._loop import run_async
from netvigil.config import Config
from netvigil.errors import NetvigilError

SUFFIXES = (".md", ".markdown", ".html", ".htm")
"""Report formats by file suffix (what `netvigil.report.write_report` writes)."""


def report(
    incident_id: Annotated[str, typer.Argument(help="Incident id (see `netvigil incidents`).")],
    out: Annotated[
        Path,
        typer.Option(
            "--out", "-o", help="Report file: .md (plus figures) or .html.", show_default=False
        ),
    ],
    config_path: ConfigOption = None,
    db: DBOption = None,
) -> None:
    """Write a report of one incident: timeline, charts from every vantage, evidence."""
    if out.suffix.lower() not in SUFFIXES:
        raise typer.BadParameter(
            f"{out}: unsupported report format {out.suffix or '(no suffix)'!r}; use .md or .html",
            param_hint="--out",
        )
    config = load_optional_config(config_path)
    opener = reading_store(config_path, config, db)
    written = run_async(_report(opener, incident_id, config or Config(), out))
    typer.echo(f"wrote {', '.join(str(p) for p in written)}", err=True)


async def _report(opener: StoreOpener, incident_id: str, config: Config, out: Path) -> list[Path]:
    from netvigil.report import build_report, write_report  # matplotlib: load only when used

    async with await opener.open() as store:
        incident = await store.incident(incident_id)
        if incident is None:
            raise NetvigilError(f"no incident {incident_id!r} in {opener.name}")
        built = await build_report(incident, store, config)
    try:
        return write_report(built, out)
    except (OSError, ValueError) as exc:
        raise NetvigilError(f"{out}: cannot write the report: {exc}") from exc

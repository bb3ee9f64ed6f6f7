"""`netvigil config check [FILE]`: validate a config without running it."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from netvigil.cli._common import required_config
from netvigil.config import load_config

app = typer.Typer(help="Work with netvigil.toml files.", no_args_is_help=True)


@app.command("check")
def check_config(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="The config file to validate (default: ./netvigil.toml).", show_default=False
        ),
    ] = None,
) -> None:
    """Validate FILE and summarise what it declares; exit 2 with every problem if invalid."""
    file = required_config(file)
    config = load_config(file)
    kinds = Counter(t.kind for t in config.targets)
    controls = sum(1 for t in config.targets if t.control)
    by_kind = ", ".join(f"{n} {k}" for k, n in sorted(kinds.items())) or "none"
    Console().print(
        f"[green]ok[/green] {file}: vantage {config.vantage.name!r}, "
        f"{len(config.targets)} targets ({by_kind}; {controls} controls), "
        f"{len(config.services)} services, {len(config.networks)} networks, "
        f"{len(config.organizations)} organizations, {len(config.agents)} agents"
    )

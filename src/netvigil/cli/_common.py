"""Options and helpers shared by the commands that read a config or a store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from netvigil.config import Config, load_config

__all__ = ["ConfigOption", "DBOption", "load_optional_config", "output_console", "store_path"]

ConfigOption = Annotated[
    Path | None, typer.Option("--config", "-c", help="netvigil.toml to read.", show_default=False)
]
DBOption = Annotated[
    Path | None,
    typer.Option(
        "--db", help="Store file (default: the config's [store] path).", show_default=False
    ),
]


def load_optional_config(path: Path | None) -> Config | None:
    """Load the config at `path`, or None when no path was given. Raises ConfigError."""
    return None if path is None else load_config(path)


def store_path(config_path: Path | None, config: Config | None, db: Path | None) -> Path:
    """Where the store lives: --db, else the config's store.path (relative to the config
    file's folder), else ./netvigil.db."""
    if db is not None:
        return db
    if config is not None and config_path is not None:
        path = Path(config.store.path)
        return path if path.is_absolute() else config_path.parent / path
    return Path("netvigil.db")


def output_console() -> Console:
    """A Rich console for tables on stdout; 200 columns wide when stdout is not a terminal,
    so piped output is not folded."""
    console = Console()
    if not console.is_terminal:
        console.width = 200
    return console

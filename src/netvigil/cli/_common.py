"""Options and helpers shared by the commands that read a config or a store.

Without `-c`, a command uses `./netvigil.toml` when there is one (the file `netvigil init`
writes); without `--db`, the store is that config's `[store] path`, else `./netvigil.db`.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from netvigil.config import Config, load_config
from netvigil.errors import ConfigError, StoreError
from netvigil.store.open import OpenedStore, open_store
from netvigil.store.postgres_schema import redact_dsn
from netvigil.store.sqlite import SQLiteStore

__all__ = [
    "DEFAULT_CONFIG",
    "DEFAULT_STORE",
    "ConfigOption",
    "DBOption",
    "DetectionLogLevelOption",
    "LogLevel",
    "LogLevelOption",
    "StoreOpener",
    "existing_store",
    "found_config",
    "host_port",
    "load_optional_config",
    "output_console",
    "reading_store",
    "required_config",
    "store_path",
]

DEFAULT_CONFIG = Path("netvigil.toml")
"""The config a command reads when none is given, relative to the working directory."""
DEFAULT_STORE = Path("netvigil.db")
"""The store a command reads when neither --db nor a config names one."""

ConfigOption = Annotated[
    Path | None,
    typer.Option(
        "--config",
        "-c",
        help="netvigil.toml to read (default: ./netvigil.toml when it exists).",
        show_default=False,
    ),
]


class LogLevel(enum.StrEnum):
    """How much a long-running command logs (`--log-level`)."""

    DEBUG = "debug"
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"

    def configure(self) -> None:
        """Log at this level to stderr, one line per record."""
        logging.basicConfig(
            level=getattr(logging, self.name),
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )


LogLevelOption = Annotated[
    LogLevel,
    typer.Option("--log-level", case_sensitive=False, help="debug, info, warning or error."),
]

DetectionLogLevelOption = Annotated[
    LogLevel,
    typer.Option(
        "--log-level",
        case_sensitive=False,
        help="debug, info, warning or error (debug adds, among others, the detection "
        "thread's holds of the state's lock over 10 ms, with what they did).",
    ),
]
"""`--log-level` of the commands that detect (`run`, `detect`)."""

DBOption = Annotated[
    Path | None,
    typer.Option(
        "--db",
        help="Store file (default: the config's [store] path, else ./netvigil.db).",
        show_default=False,
    ),
]


def found_config(path: Path | None) -> Path | None:
    """`path` when given, else ./netvigil.toml when that file exists, else None."""
    if path is not None:
        return path
    return DEFAULT_CONFIG if DEFAULT_CONFIG.is_file() else None


def load_optional_config(path: Path | None) -> Config | None:
    """Load the config at `path` (or ./netvigil.toml), or None when there is none.

    Raises ConfigError.
    """
    found = found_config(path)
    return None if found is None else load_config(found)


def required_config(path: Path | None) -> Path:
    """The config a command that needs one runs with; ConfigError when there is none."""
    found = found_config(path)
    if found is None:
        raise ConfigError(
            str(DEFAULT_CONFIG),
            [("", "no config here; pass -c FILE, or write one with `netvigil init`")],
        )
    return found


def store_path(config_path: Path | None, config: Config | None, db: Path | None) -> Path:
    """Where the store lives: --db, else the config's store.path (relative to the config
    file's folder, the config being `config_path` or ./netvigil.toml), else ./netvigil.db."""
    if db is not None:
        return db
    config_path = found_config(config_path)
    if config is not None and config_path is not None:
        path = Path(config.store.path)
        return path if path.is_absolute() else config_path.parent / path
    return DEFAULT_STORE


def existing_store(config_path: Path | None, config: Config | None, db: Path | None) -> Path:
    """The store a reading command uses; raises StoreError when there is none."""
    path = store_path(config_path, config, db)
    if not path.exists():
        raise StoreError(
            f"{path}: no store here; `netvigil run` makes it, or pass --db FILE or -c CONFIG"
        )
    return path


@dataclass(frozen=True, slots=True)
class StoreOpener:
    """How a reading command opens its store (`open()`), and how messages name it."""

    name: str
    open: Callable[[], Awaitable[OpenedStore]]


def reading_store(config_path: Path | None, config: Config | None, db: Path | None) -> StoreOpener:
    """How a reading command opens its store: the config's PostgreSQL database (`[store]
    kind = "postgres"`, unless --db names a file), else the SQLite file that must exist
    (`existing_store`, which raises StoreError now when there is none). Never prunes."""
    if db is None and config is not None and config.store.kind == "postgres":
        settings = config.store
        name = redact_dsn(settings.dsn.get_secret_value()) if settings.dsn else "postgresql"
        return StoreOpener(name, lambda: open_store(settings, prune=False))
    path = existing_store(config_path, config, db)
    return StoreOpener(str(path), lambda: SQLiteStore.open(path))


def output_console() -> Console:
    """A Rich console for tables on stdout; 200 columns wide when stdout is not a terminal,
    so piped output is not folded."""
    console = Console()
    if not console.is_terminal:
        console.width = 200
    return console


def host_port(listen: str) -> tuple[str, int]:
    """HOST and PORT of a --listen value; a usage error unless PORT is 0-65535."""
    host, colon, port = listen.rpartition(":")
    if not colon or not host or not port.isdigit() or int(port) > 65535:
        raise typer.BadParameter(
            f"{listen!r} is not HOST:PORT with a port from 1 to 65535 (0: any free port)",
            param_hint="--listen",
        )
    return host.strip("[]"), int(port)

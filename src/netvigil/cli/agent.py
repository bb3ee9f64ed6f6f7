"""`netvigil agent`: probe from a remote vantage and ship measurements to a server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

import typer

from netvigil.agent.bus_agent import run_bus_agent
from netvigil.agent.runner import run_agent
from netvigil.agent.tokens import new_token
from netvigil.cli._common import LogLevel, LogLevelOption
from netvigil.cli._loop import run_async
from netvigil.config import Config, load_config
from netvigil.shutdown import stop_event

app = typer.Typer(
    help="Run a remote vantage, or make a token for one.", invoke_without_command=True
)


@app.callback()
def agent(
    ctx: typer.Context,
    server: Annotated[
        str | None, typer.Option(help="Base URL of the netvigil server, e.g. http://host:8080.")
    ] = None,
    token: Annotated[
        str | None,
        typer.Option(envvar="NETVIGIL_AGENT_TOKEN", help="This agent's bearer token."),
    ] = None,
    config_path: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="netvigil.toml with this vantage and its targets."),
    ] = None,
    spool: Annotated[
        Path, typer.Option(help="SQLite file holding measurements until the server has them.")
    ] = Path("netvigil-spool.db"),
    duration: Annotated[
        float | None, typer.Option(min=1, help="Stop after this many seconds.")
    ] = None,
    log_level: LogLevelOption = LogLevel.INFO,
) -> None:
    """Probe the config's targets as vantage [vantage].name and ship to --server
    (or publish to NATS when the config says `[bus] kind = "nats"`)."""
    if ctx.invoked_subcommand is not None:
        return
    if config_path is not None:
        config = load_config(config_path)
        if config.bus.kind == "nats":  # publish to NATS: no --server, no --token
            log_level.configure()
            run_async(_run_bus(config, spool, duration))
            return
    missing = [
        name
        for name, value in (("--server", server), ("--token", token), ("--config", config_path))
        if value is None
    ]
    if missing:
        raise typer.BadParameter(f"missing {', '.join(missing)}", param_hint="netvigil agent")
    assert server is not None and token is not None and config_path is not None
    parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise typer.BadParameter(f"{server!r} is not an http(s):// URL", param_hint="--server")
    config = load_config(config_path)
    log_level.configure()
    run_async(_run(config, server, token, spool, duration))


async def _run(
    config: Config, server: str, token: str, spool: Path, duration: float | None
) -> None:
    await run_agent(config, server, token, stop_event(duration), spool_path=spool)


async def _run_bus(config: Config, spool: Path, duration: float | None) -> None:
    await run_bus_agent(config, stop_event(duration), spool_path=spool)


@app.command("token")
def token_command(
    name: Annotated[str, typer.Argument(help="The agent's vantage name.")],
) -> None:
    """Make a new agent token: the token for the agent, the hash for the server's config."""
    token, digest = new_token()
    typer.echo(f"token (give it to the agent, e.g. as NETVIGIL_AGENT_TOKEN): {token}")
    typer.echo("add to the server's netvigil.toml:")
    typer.echo(f'[[agents]]\nname = "{name}"\ntoken_sha256 = "{digest}"')

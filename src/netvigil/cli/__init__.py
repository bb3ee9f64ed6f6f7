"""The `netvigil` command line: one module per command, all registered here."""

from __future__ import annotations

import sys

import typer

from netvigil.cli import agent, check, config, export, incidents, replay, report, run, status
from netvigil.cli import lab as lab_cli
from netvigil.errors import ConfigError, NetvigilError

__all__ = ["app", "main"]

app = typer.Typer(
    name="netvigil",
    help="An outage observatory: which services are down, seen from where, since when, and why.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("check")(check.check)
app.command("run")(run.run)
app.command("status")(status.status)
app.command("export")(export.export)
app.command("incidents")(incidents.incidents)
app.command("incident")(incidents.incident)
app.command("replay")(replay.replay)
app.command("report")(report.report)
app.add_typer(agent.app, name="agent")
app.add_typer(config.app, name="config")
app.add_typer(lab_cli.app, name="lab")


def main() -> None:
    """Entry point: run the app, turning netvigil errors into a message and an exit code.

    Exit codes: 0 success, 1 a check failed or work could not be done, 2 bad usage or config.
    """
    try:
        app()
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)  # noqa: T201
        sys.exit(2)
    except NetvigilError as exc:
        print(f"error: {exc}", file=sys.stderr)  # noqa: T201
        sys.exit(1)

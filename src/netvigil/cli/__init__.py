"""The `netvigil` command line: one module per command, all registered here."""

from __future__ import annotations

import sys
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as package_version
from typing import Annotated, Any

import typer

from netvigil.cli import (
    admin,
    agent,
    bgp,
    check,
    cluster,
    collector,
    config,
    detect,
    export,
    incidents,
    init,
    notify,
    prober,
    replay,
    report,
    run,
    signals,
    status,
    web,
)
from netvigil.cli import lab as lab_cli
from netvigil.errors import ConfigError, NetvigilError

__all__ = ["app", "main", "netvigil_version"]

app = typer.Typer(
    name="netvigil",
    help="An outage observatory: which services are down, seen from where, since when, and why.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def netvigil_version() -> str:
    """The installed netvigil version ("unknown" when run from a source tree not installed)."""
    try:
        return package_version("netvigil")
    except PackageNotFoundError:
        return "unknown"


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"netvigil {netvigil_version()}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            is_eager=True,
            callback=_print_version,
            help="Print the version and exit.",
        ),
    ] = False,
) -> None:
    """An outage observatory: which services are down, seen from where, since when, and why."""


app.command("init")(init.init)
app.command("check")(check.check)
app.command("run")(run.run)
app.command("prober")(prober.prober)
app.command("status")(status.status)
app.command("export")(export.export)
app.command("incidents")(incidents.incidents)
app.command("incident")(incidents.incident)
app.command("replay")(replay.replay)
app.command("report")(report.report)
app.add_typer(agent.app, name="agent")
app.command("collector")(collector.collector)
app.command("detect")(detect.detect)
app.command("web")(web.web)
app.command("notify")(notify.notify)
app.add_typer(admin.app, name="admin")
app.command("mute")(admin.mute)
app.add_typer(config.app, name="config")
app.add_typer(lab_cli.app, name="lab")
app.add_typer(signals.app, name="signals")
app.add_typer(bgp.app, name="bgp")
app.add_typer(cluster.app, name="cluster")


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app; every error ends as one line on stderr and an exit code.

    Exit codes: 0 success, 1 a check failed or work could not be done, 2 bad usage or config.
    """
    try:
        code = app(args=argv, prog_name="netvigil", standalone_mode=False)
    except typer.Abort:
        _fail("aborted", 130)
    except typer.TyperException as exc:  # the command line's own errors: usage, bad values
        _fail_usage(exc)
    except ConfigError as exc:
        _fail(str(exc), 2)
    except NetvigilError as exc:
        _fail(str(exc), 1)
    except OSError as exc:
        _fail(describe_os_error(exc), 1)
    sys.exit(code if isinstance(code, int) else 0)


def _fail_usage(exc: typer.TyperException) -> None:
    """A usage error in one line naming the command, or the help when no command was given."""
    ctx: Any = getattr(exc, "ctx", None)
    if type(exc).__name__ == "NoArgsIsHelpError" and ctx is not None:
        typer.echo(ctx.get_help())
        sys.exit(2)
    message = " ".join(exc.format_message().replace("Value error, ", "").split())
    if ctx is not None:
        message = f"{ctx.command_path}: {message} (see {ctx.command_path} --help)"
    _fail(message, exc.exit_code)


def describe_os_error(exc: OSError) -> str:
    """One line for an operating-system error: the file (when known) and what went wrong."""
    reason = exc.strerror or str(exc)
    if exc.filename is not None:
        return f"{exc.filename}: {reason}"
    return reason


def _fail(message: str, code: int) -> None:
    print(f"error: {message}", file=sys.stderr)  # noqa: T201
    sys.exit(code)

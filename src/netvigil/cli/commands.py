"""The commands of `netvigil`, each imported only when it runs.

A command's module pulls in what the command needs (the web app, the stores, the probes, numpy …);
importing all of them made every invocation — `netvigil --version` included — pay about a second
of imports. The root group lists the commands from the table below and imports one module when
click asks for that command (its help, or running it). `netvigil --help` still imports them all.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass

import typer
from typer import _click as click  # the click Typer carries: its commands are of these types
from typer.core import TyperGroup

__all__ = ["COMMANDS", "Command", "LazyCommands"]


@dataclass(frozen=True, slots=True)
class Command:
    """A top-level command: `name` runs `module.attribute` (a function, or a Typer app of
    subcommands)."""

    name: str
    module: str
    attribute: str


COMMANDS: Sequence[Command] = (
    Command("init", "netvigil.cli.init", "init"),
    Command("check", "netvigil.cli.check", "check"),
    Command("run", "netvigil.cli.run", "run"),
    Command("prober", "netvigil.cli.prober", "prober"),
    Command("status", "netvigil.cli.status", "status"),
    Command("export", "netvigil.cli.export", "export"),
    Command("incidents", "netvigil.cli.incidents", "incidents"),
    Command("incident", "netvigil.cli.incidents", "incident"),
    Command("replay", "netvigil.cli.replay", "replay"),
    Command("report", "netvigil.cli.report", "report"),
    Command("agent", "netvigil.cli.agent", "app"),
    Command("collector", "netvigil.cli.collector", "collector"),
    Command("detect", "netvigil.cli.detect", "detect"),
    Command("web", "netvigil.cli.web", "web"),
    Command("notify", "netvigil.cli.notify", "notify"),
    Command("admin", "netvigil.cli.admin", "app"),
    Command("mute", "netvigil.cli.admin", "mute"),
    Command("config", "netvigil.cli.config", "app"),
    Command("lab", "netvigil.cli.lab", "app"),
    Command("signals", "netvigil.cli.signals", "app"),
    Command("bgp", "netvigil.cli.bgp", "app"),
    Command("cluster", "netvigil.cli.cluster", "app"),
)


def load(command: Command) -> click.Command:
    """The click command of `command`, importing its module."""
    target = getattr(importlib.import_module(command.module), command.attribute)
    loaded: click.Command
    if isinstance(target, typer.Typer):  # a group, even of one subcommand (`config check`)
        loaded = typer.main.get_group(target)
    else:
        single = typer.Typer()
        single.command(command.name)(target)
        loaded = typer.main.get_command(single)
    loaded.name = command.name
    return loaded


class LazyCommands(TyperGroup):
    """The root group: the commands of `COMMANDS`, each loaded when first asked for."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._table = {c.name: c for c in COMMANDS}
        self._loaded: dict[str, click.Command] = {}

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *self._table]

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self._table:
            return super().get_command(ctx, cmd_name)
        if cmd_name not in self._loaded:
            self._loaded[cmd_name] = load(self._table[cmd_name])
        return self._loaded[cmd_name]

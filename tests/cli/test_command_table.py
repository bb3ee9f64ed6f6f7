"""The root command loads each command's module only when that command is asked for."""

from __future__ import annotations

import subprocess
import sys

from typer.testing import CliRunner

from netvigil.cli import app
from netvigil.cli.commands import COMMANDS

HEAVY = ("fastapi", "numpy", "asyncpg", "nats", "aiohttp", "matplotlib", "netvigil.web.app")


def test_the_version_imports_none_of_the_commands() -> None:
    probe = (
        "import sys\n"
        "from netvigil.cli import main\n"
        "try:\n"
        "    main(['--version'])\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("netvigil ")
    assert lines[-1] == "[]", f"imported for --version: {lines[-1]}"


def test_every_command_in_the_table_loads_and_has_help() -> None:
    runner = CliRunner()
    listing = runner.invoke(app, ["--help"])
    assert listing.exit_code == 0, listing.output
    for command in COMMANDS:
        assert command.name in listing.output
        shown = runner.invoke(app, [command.name, "--help"])
        assert shown.exit_code == 0, (command.name, shown.output)
        assert "Usage" in shown.output, command.name


def test_a_group_of_one_subcommand_stays_a_group() -> None:
    shown = CliRunner().invoke(app, ["config", "--help"])
    assert shown.exit_code == 0 and "check" in shown.output, shown.output


def test_an_unknown_command_is_a_usage_error() -> None:
    done = CliRunner().invoke(app, ["nosuch"])
    assert done.exit_code == 2

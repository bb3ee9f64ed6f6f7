"""Every failure of the command line is one line on stderr and an exit code: 2 for bad usage
or config, 1 when work could not be done."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

from test_cli import Result, netvigil

from netvigil.cli import netvigil_version

DEMO_TARGETS = """
[[services]]
name = "self"
[[targets]]
name = "self-tcp"
service = "self"
kind = "tcp"
host = "127.0.0.1"
port = 1
"""


def one_error_line(result: Result) -> str:
    lines = result.err.splitlines()
    assert len(lines) == 1, result.err
    assert lines[0].startswith("error: "), result.err
    return lines[0]


async def test_version_prints_the_package_version() -> None:
    result = await netvigil("--version")
    assert result.code == 0, result.err
    assert result.out.strip() == f"netvigil {netvigil_version()}"
    assert netvigil_version() != "unknown"


async def test_a_bad_flag_is_one_line_naming_the_command_and_flag() -> None:
    result = await netvigil("run", "--bogus")
    assert result.code == 2
    line = one_error_line(result)
    assert line == "error: netvigil run: No such option: --bogus (see netvigil run --help)"
    result = await netvigil("export", "--format", "xml")
    assert result.code == 2
    assert "'--format'" in one_error_line(result)
    commands = ("run", "agent", "detect", "collector", "prober", "web", "notify")
    results = await asyncio.gather(*(netvigil(c, "--log-level", "loud") for c in commands))
    for command, result in zip(commands, results, strict=True):
        assert result.code == 2, command
        line = one_error_line(result)
        assert f"netvigil {command}:" in line, line
        assert "'--log-level'" in line and "'loud'" in line, line


async def test_a_missing_config_is_one_line_with_exit_2(tmp_path: Path) -> None:
    missing = tmp_path / "absent.toml"
    for args in (("config", "check", str(missing)), ("run", "-c", str(missing))):
        result = await netvigil(*args)
        assert result.code == 2
        assert one_error_line(result) == (
            f"error: {missing}: cannot read file: No such file or directory"
        )


async def test_run_without_a_config_says_how_to_get_one(tmp_path: Path) -> None:
    result = await netvigil("run", cwd=tmp_path)
    assert result.code == 2
    assert "pass -c FILE, or write one with `netvigil init`" in one_error_line(result)


async def test_a_file_that_cannot_be_written_is_one_line_with_exit_1(tmp_path: Path) -> None:
    where = tmp_path / "no" / "such" / "netvigil.toml"
    result = await netvigil("init", str(where))
    assert result.code == 1
    assert one_error_line(result) == f"error: {where}: No such file or directory"


async def test_a_config_that_is_not_utf8_is_one_line_naming_the_byte(tmp_path: Path) -> None:
    path = tmp_path / "netvigil.toml"
    path.write_bytes(b'[vantage]\nname = "Durr\xebs"\n')
    result = await netvigil("config", "check", str(path))
    assert result.code == 2
    assert one_error_line(result) == (
        f"error: {path}: not UTF-8 text: byte 0xeb at offset 22; save it as UTF-8"
    )


async def test_config_check_reports_every_kind_of_problem_at_once(tmp_path: Path) -> None:
    path = tmp_path / "netvigil.toml"
    path.write_text(
        '[defaults]\ninterval_s = "often"\n[vantage]\ncountry = "al"\n'
        '[[targets]]\nname = "a"\nservice = "nope"\nkind = "tcp"\nhost = "h"\nprot = 1\n'
    )
    result = await netvigil("config", "check", str(path))
    assert result.code == 2
    assert result.err.splitlines() == [
        f"error: {path}: defaults.interval_s: Input should be a valid number,"
        " unable to parse string as a number",
        f"{path}: vantage.country: must be a two-letter country code like AL"
        " (ISO 3166, capital letters), not 'al'",
        f"{path}: targets[0].port: Field required",
        f"{path}: targets[0].prot: unknown setting 'prot'; did you mean 'port'?",
        f"{path}: targets[0].service: unknown service 'nope'",
    ]


async def test_a_port_in_use_ends_run_with_one_line(tmp_path: Path) -> None:
    config = tmp_path / "netvigil.toml"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config.write_text(f'[server]\nlisten = "127.0.0.1:{port}"\n{DEMO_TARGETS}')
        result = await netvigil("run", "-c", str(config), "--plain", "--duration", "5")
    assert result.code == 1
    errors = [line for line in result.err.splitlines() if " INFO " not in line]
    assert errors == [
        f"error: cannot listen on 127.0.0.1:{port}: address already in use"
        " (choose another with --listen, or [server] listen in the config)"
    ], result.err
    assert "Traceback" not in result.err


async def test_listen_out_of_range_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "netvigil.toml"
    config.write_text(DEMO_TARGETS)
    result = await netvigil("run", "-c", str(config), "--listen", "127.0.0.1:99999")
    assert result.code == 2
    assert "'127.0.0.1:99999' is not HOST:PORT" in one_error_line(result)


async def test_check_refuses_a_resolver_given_by_name() -> None:
    result = await netvigil("check", "dns://dns.google/example.org")
    assert result.code == 2
    assert one_error_line(result) == (
        "error: argument: dns://dns.google/example.org: the resolver must be an IP address"
        " like 9.9.9.9, not 'dns.google'"
    )


async def test_a_targets_file_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "targets.txt"
    path.write_bytes(b"tcp://127.0.0.1:1\n\xff\n")
    result = await netvigil("check", "--from", str(path))
    assert result.code == 2
    assert one_error_line(result) == (
        f"error: {path}: not UTF-8 text: byte 0xff at offset 18; save it as UTF-8"
    )

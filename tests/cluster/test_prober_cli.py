"""`netvigil prober` refuses bad settings in one line, with exit 2 (usage) or 1 (work)."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from cluster_nats import NATSServerProcess

CONFIG = """
[[services]]
name = "self"
[[targets]]
name = "self-tcp"
service = "self"
kind = "tcp"
host = "127.0.0.1"
port = 1
"""


@dataclass
class Result:
    code: int
    err: str


async def prober(*args: str, timeout_s: float = 60) -> Result:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "netvigil", "prober", *args,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200"},
    )  # fmt: skip
    try:
        _, err = await asyncio.wait_for(proc.communicate(), timeout_s)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise
    assert proc.returncode is not None
    return Result(proc.returncode, err.decode())


def error_line(result: Result) -> str:
    lines = [line for line in result.err.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.err
    return lines[0]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


async def test_without_a_place_for_measurements_it_refuses_to_start(
    tmp_path: Path, nats_server: NATSServerProcess
) -> None:
    config = tmp_path / "netvigil.toml"
    config.write_text(CONFIG)
    result = await prober("-c", str(config), "--nats", nats_server.url)
    assert result.code == 1
    assert "give --out" in error_line(result)


async def test_an_unreachable_nats_is_one_error(tmp_path: Path) -> None:
    config = tmp_path / "netvigil.toml"
    config.write_text(CONFIG)
    url = f"nats://127.0.0.1:{closed_port()}"
    result = await prober("-c", str(config), "--nats", url, "--out", str(tmp_path / "o.jsonl"))
    assert result.code == 1
    assert f"cannot reach NATS at {url}" in error_line(result)


async def test_a_ttl_under_two_heartbeats_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "netvigil.toml"
    config.write_text(CONFIG)
    result = await prober("-c", str(config), "--heartbeat", "1", "--member-ttl", "1.5")
    assert result.code == 2
    assert "--member-ttl" in error_line(result)


async def test_a_bad_vantage_name_is_a_usage_error(tmp_path: Path) -> None:
    config = tmp_path / "netvigil.toml"
    config.write_text(CONFIG)
    result = await prober("-c", str(config), "--vantage", "no spaces")
    assert result.code == 2
    assert "--vantage" in error_line(result)


async def test_sigterm_while_nats_does_not_answer_ends_it_at_once(tmp_path: Path) -> None:
    config = tmp_path / "netvigil.toml"
    config.write_text(CONFIG)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "netvigil", "prober", "-c", str(config),
        "--nats", f"nats://127.0.0.1:{closed_port()}", "--out", str(tmp_path / "o.jsonl"),
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stderr is not None
    await asyncio.wait_for(proc.stderr.readline(), 60)  # the first failed attempt is logged
    proc.send_signal(signal.SIGTERM)
    try:
        code = await asyncio.wait_for(proc.wait(), 5)  # well before the 10 s connect limit
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    assert code == 0

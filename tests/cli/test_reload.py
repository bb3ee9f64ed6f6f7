"""Reloading the config of a running `netvigil run`: SIGHUP and the admin API apply a good
file without a restart, and a bad one changes nothing and says why."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from test_incidents_cli import netvigil

pytestmark = pytest.mark.slow


def config_text(db: Path, ports: dict[str, int]) -> str:
    text = f'[vantage]\nname = "lab"\n[[services]]\nname = "portal"\n[store]\npath = "{db}"\n'
    text += '[server]\nlisten = "127.0.0.1:0"\n'
    for name, port in ports.items():
        text += (
            f'[[targets]]\nname = "{name}"\nservice = "portal"\nkind = "tcp"\n'
            f'host = "127.0.0.1"\nport = {port}\ninterval_s = 1\n'
        )
    return text


def call(method: str, url: str, token: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(
        url, method=method, headers=headers, data=b"" if method == "POST" else None
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


async def targets_with_results(url: str) -> set[str]:
    _, body = await asyncio.to_thread(call, "GET", f"{url}/api/v1/targets")
    return {t["name"] for t in body if t["vantages"]}


async def eventually(check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = await check()
        if result or time.monotonic() > deadline:
            return result
        await asyncio.sleep(0.3)


async def test_sighup_and_the_admin_api_reload_the_config(tmp_path: Path) -> None:
    listeners = [socket.create_server(("127.0.0.1", 0)) for _ in range(2)]
    a, b = (s.getsockname()[1] for s in listeners)
    db = tmp_path / "nv.db"
    config = tmp_path / "netvigil.toml"
    config.write_text(config_text(db, {"a-tcp": a}))
    token = (await netvigil("admin", "token", "create", "ops", "--db", str(db))).out.strip()
    log = tmp_path / "run.log"
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "netvigil",
            "run",
            "-c",
            str(config),
            "--plain",
            "--duration",
            "90",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=out,
        )
    try:

        async def served() -> str:
            text = log.read_text()
            if "serving the API on " not in text:
                return ""
            return text.split("serving the API on ", 1)[1].split("/api/v1")[0]

        url = await eventually(served)
        assert url, log.read_text()
        assert await eventually(lambda: _has(url, {"a-tcp"}))

        config.write_text(config_text(db, {"a-tcp": a, "b-tcp": b}))
        proc.send_signal(signal.SIGHUP)
        assert await eventually(lambda: _has(url, {"a-tcp", "b-tcp"})), log.read_text()
        assert "config reloaded (SIGHUP): 1 target(s) (b-tcp) added" in log.read_text()

        config.write_text(
            config_text(db, {"a-tcp": a}) + "\n[[targets]]\nname = 'c'\nkind = 'https'\n"
        )
        proc.send_signal(signal.SIGHUP)
        assert await eventually(lambda: _logged(log, "refused, nothing changed")), log.read_text()
        status, body = await asyncio.to_thread(call, "POST", f"{url}/api/v1/admin/reload", token)
        assert status == 422 and "nothing changed" in body["error"], body
        assert "Traceback" not in log.read_text()

        config.write_text(config_text(db, {"b-tcp": b}))
        status, body = await asyncio.to_thread(call, "POST", f"{url}/api/v1/admin/reload", token)
        assert status == 200, body
        assert body["removed"] == ["a-tcp"] and body["added"] == []
        _, listed = await asyncio.to_thread(call, "GET", f"{url}/api/v1/targets")
        assert "b-tcp" in {t["name"] for t in listed}
        status, _ = await asyncio.to_thread(call, "POST", f"{url}/api/v1/admin/reload")
        assert status == 401
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 30)
        for s in listeners:
            s.close()


async def _has(url: str, names: set[str]) -> bool:
    return names <= await targets_with_results(url)


async def _logged(log: Path, text: str) -> bool:
    return text in log.read_text()

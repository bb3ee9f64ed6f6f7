"""A real `netvigil run` on loopback to attack, a loopback target for its probes, and
ways to look at the server process from outside (RSS, open descriptors, latency)."""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path


@dataclass
class RunningServer:
    """A `netvigil run` subprocess serving on `url`, probing `target` every 0.2 s."""

    url: str
    port: int
    proc: subprocess.Popen[bytes]
    db: Path
    log: Path

    def status(self, field: str) -> int:
        """A `/proc/<pid>/status` figure in kB (VmRSS, VmHWM)."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
        raise KeyError(field)

    def open_fds(self) -> int:
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))


class LoopbackListener:
    """A TCP listener on 127.0.0.1 that accepts and closes: the probes' target."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0), backlog=512)
        self.sock.settimeout(0.2)
        self.port: int = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                conn, _ = self.sock.accept()
                conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def http_get(url: str, timeout_s: float = 5.0) -> tuple[int, bytes, float]:
    """Status, body and seconds taken of one GET on a new connection."""
    start = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as resp:  # loopback only
            body: bytes = resp.read()
            return resp.status, body, time.monotonic() - start
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), time.monotonic() - start


def start_server(
    tmp_path: Path, target_port: int, server_toml: str = "", *, nofile: int | None = None
) -> RunningServer:
    port = free_port()
    config = tmp_path / "netvigil.toml"
    config.write_text(
        f"""
[vantage]
name = "server"

[scheduler]
concurrency = 16

[server]
listen = "127.0.0.1:{port}"
{server_toml}

[[services]]
name = "local"

[[targets]]
name = "loopback-tcp"
kind = "tcp"
service = "local"
host = "127.0.0.1"
port = {target_port}
interval_s = 0.2
timeout_s = 1.0
"""
    )
    db = tmp_path / "server.db"
    log = tmp_path / "server.log"

    def limit_fds() -> None:
        if nofile is not None:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

    cmd = [sys.executable, "-m", "netvigil", "run", "-c", str(config), "--db", str(db), "--plain"]
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, preexec_fn=limit_fds)
    server = RunningServer(f"http://127.0.0.1:{port}", port, proc, db, log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"netvigil run exited:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError):
            if http_get(f"{server.url}/api/v1/health", 1.0)[0] == 200:
                return server
        time.sleep(0.1)
    stop_server(server)
    raise AssertionError(f"netvigil run did not answer:\n{log.read_text()[-3000:]}")


def stop_server(server: RunningServer) -> None:
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGINT)
        try:
            server.proc.wait(15)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait(5)

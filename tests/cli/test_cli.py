"""The real `netvigil` command line, run as a subprocess against real loopback servers."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from netvigil.outcome import Outcome
from servers.dns import DNSServer
from servers.tcp import free_port

REQUIRED_FIELDS = {
    "id",
    "ts",
    "vantage",
    "target",
    "kind",
    "ok",
    "outcome",
    "phase",
    "timings",
    "detail",
}


@dataclass
class Result:
    code: int
    out: str
    err: str


async def netvigil(*args: str, cwd: Path | None = None, timeout: float = 60) -> Result:
    """Run `python -m netvigil ARGS` without blocking the loop serving the test servers."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "netvigil",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200"},
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(), err.decode())


async def test_check_json_reports_each_outcome_and_fails_when_any_check_fails(
    http_server: str, dns_server: DNSServer
) -> None:
    closed = free_port()
    dns = f"dns://127.0.0.1:{dns_server.port}"
    result = await netvigil(
        "check",
        "--json",
        "--timeout",
        "3",
        f"{http_server}/ok",
        f"{http_server}/status/503",
        f"tcp://127.0.0.1:{closed}",
        f"{dns}/web.test?type=A",
        f"{dns}/nx.test",
    )
    assert result.code == 1, result.err
    lines = [json.loads(line) for line in result.out.splitlines()]
    assert all(set(line) >= REQUIRED_FIELDS for line in lines)
    outcomes = {line["target"]: line["outcome"] for line in lines}
    assert outcomes == {
        f"{http_server}/ok": Outcome.OK,
        f"{http_server}/status/503": Outcome.HTTP_5XX,
        f"tcp://127.0.0.1:{closed}": Outcome.TCP_REFUSED,
        f"{dns}/web.test?type=A": Outcome.OK,
        f"{dns}/nx.test": Outcome.DNS_NXDOMAIN,
    }
    ok = next(line for line in lines if line["outcome"] == "ok" and line["kind"] == "http")
    assert {"connect", "ttfb", "total"} <= set(ok["timings"])
    assert len({line["id"] for line in lines}) == len(lines)


async def test_check_exits_zero_when_every_check_succeeds_and_prints_a_table(
    http_server: str,
) -> None:
    result = await netvigil("check", f"{http_server}/ok", f"tcp://{http_server.split('//')[1]}")
    assert result.code == 0, result.err
    assert "ok" in result.out
    assert "total ms" in result.out


async def test_check_from_file_names_the_file_and_line_of_a_bad_target(tmp_path: Path) -> None:
    targets = tmp_path / "targets.txt"
    targets.write_text("# targets\ntcp://127.0.0.1:1\nsmtp://mail.example\n")
    result = await netvigil("check", "--from", str(targets))
    assert result.code == 2
    assert f"{targets}: line 3: smtp://mail.example: unknown scheme 'smtp'" in result.err


async def test_check_without_targets_is_a_usage_error() -> None:
    result = await netvigil("check")
    assert result.code == 2
    assert "at least one TARGET" in result.err


async def test_config_check_reports_problems_with_exit_code_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[[targets]]\nname = "a"\ncontrol = true\nkind = "tcp"\nhost = "h"\nport = 0\n')
    result = await netvigil("config", "check", str(bad))
    assert result.code == 2
    assert f"{bad}: targets[0].port: Input should be greater than or equal to 1" in result.err
    good = Path(__file__).resolve().parents[2] / "examples" / "albania.toml"
    result = await netvigil("config", "check", str(good))
    assert result.code == 0, result.err
    assert "10 targets" in result.out


async def test_run_stores_measurements_that_status_and_export_read_back(
    tmp_path: Path, http_server: str
) -> None:
    closed = free_port()
    config = tmp_path / "netvigil.toml"
    config.write_text(
        f"""
        [vantage]
        name = "lab"
        [[services]]
        name = "portal"
        [[services]]
        name = "crashed"
        [[targets]]
        name = "portal-http"
        service = "portal"
        kind = "http"
        url = "{http_server}/ok"
        interval_s = 0.5
        timeout_s = 2
        [[targets]]
        name = "crashed-tcp"
        service = "crashed"
        kind = "tcp"
        host = "127.0.0.1"
        port = {closed}
        interval_s = 0.5
        timeout_s = 2
        [store]
        path = "state/nv.db"
        [server]
        listen = "127.0.0.1:0"
        """
    )
    (tmp_path / "state").mkdir()
    run = await netvigil("run", "-c", str(config), "--duration", "4", "--plain")
    assert run.code == 0, run.err
    assert "crashed-tcp from lab" not in run.err or "DOWN" in run.err

    status = await netvigil("status", "-c", str(config), "--json")
    assert status.code == 1  # crashed-tcp is down
    rows = {r["target"]: r for r in map(json.loads, status.out.splitlines())}
    assert rows["portal-http"]["ok"] is True
    assert rows["portal-http"]["service"] == "portal"
    assert rows["crashed-tcp"]["outcome"] == Outcome.TCP_REFUSED

    jsonl = await netvigil("export", "-c", str(config), "--format", "jsonl", "--since", "1h")
    assert jsonl.code == 0, jsonl.err
    exported = [json.loads(line) for line in jsonl.out.splitlines()]
    assert len(exported) >= 4  # every 0.5 s for 4 s: at least 2 runs each, even when busy
    assert {m["target"] for m in exported} == {"portal-http", "crashed-tcp"}
    assert [m["id"] for m in exported] == sorted(m["id"] for m in exported)

    out = tmp_path / "export.csv"
    as_csv = await netvigil(
        "export", "--db", str(tmp_path / "state/nv.db"), "-f", "csv", "-o", str(out)
    )
    assert as_csv.code == 0, as_csv.err
    rows_csv = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["id"] for r in rows_csv] == [m["id"] for m in exported]


async def test_export_rejects_a_bad_time_and_a_missing_store(tmp_path: Path) -> None:
    result = await netvigil("export", "--db", str(tmp_path / "nv.db"), "--since", "yesterday-ish")
    assert result.code == 2
    assert "--since" in result.err
    result = await netvigil("export", "--db", str(tmp_path / "nv.db"))
    assert result.code == 1
    assert "no store here" in result.err

"""A real Prometheus scrapes a real `netvigil run` and sees the values netvigil measured.

Prometheus (Debian's `prometheus` package) runs with a temporary config and storage,
listening on 127.0.0.1 and scraping netvigil every second; it also loads the alerting
rules in contrib/. The dashboard's queries are run against it, so a broken expression
fails here. Everything is loopback, bounded in time, and stopped in `finally`.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from netvigil.model import new_measurement_id
from servers.tcp import free_port

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "contrib" / "prometheus" / "netvigil-rules.yml"
DASHBOARD = ROOT / "contrib" / "grafana" / "netvigil.json"
TOKEN = "metrics-test-agent-token-0123456789abcdef"
DEADLINE_S = 30.0

pytestmark = pytest.mark.slow


def binary(name: str) -> str:
    """The path of a Prometheus tool; a failure (not a skip) when it is not installed."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} not found: install the Debian package prometheus (make system-deps)")
    return path


@asynccontextmanager
async def process(
    *args: str, log: Path, env: dict[str, str] | None = None
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Run a process with its output in `log`; stopped (SIGTERM, then SIGKILL) on exit."""
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *args, stdout=out, stderr=asyncio.subprocess.STDOUT, env=env
        )
        try:
            yield proc
        finally:
            if proc.returncode is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(proc.wait(), 10)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()


async def wait_until_up(client: httpx.AsyncClient, url: str, proc: Any, log: Path) -> None:
    """Poll `url` until it answers 200; fail with the process's log when it does not."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            pytest.fail(f"{url}: the process exited {proc.returncode}:\n{log.read_text()}")
        try:
            if (await client.get(url)).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    pytest.fail(f"{url} did not come up in {DEADLINE_S} s:\n{log.read_text()[-3000:]}")


async def query(client: httpx.AsyncClient, base: str, expr: str, at: float) -> list[Any]:
    """The vector `expr` evaluates to at `at` (Prometheus HTTP API)."""
    r = await client.get(f"{base}/api/v1/query", params={"query": expr, "time": f"{at:.3f}"})
    body = r.json()
    assert r.status_code == 200 and body["status"] == "success", (expr, body)
    result: list[Any] = body["data"]["result"]
    return result


async def wait_for_series(
    client: httpx.AsyncClient, base: str, expr: str, count: int
) -> tuple[float, list[Any]]:
    """Poll until `expr` holds `count` series; the evaluation time and the series."""
    deadline = time.monotonic() + DEADLINE_S
    result: list[Any] = []
    while time.monotonic() < deadline:
        at = time.time()
        result = await query(client, base, expr, at)
        if len(result) >= count:
            return at, result
        await asyncio.sleep(0.5)
    pytest.fail(f"{expr}: {len(result)} of {count} series after {DEADLINE_S} s: {result}")


def write_config(tmp_path: Path, http_server: str, closed: int, port: int) -> Path:
    config = tmp_path / "netvigil.toml"
    config.write_text(
        f"""
        [vantage]
        name = "lab"
        [[networks]]
        name = "loopnet"
        [[services]]
        name = "portal"
        network = "loopnet"
        [[services]]
        name = "crashed"
        [[targets]]
        name = "portal-http"
        service = "portal"
        kind = "http"
        url = "{http_server}/ok"
        interval_s = 1
        timeout_s = 2
        [[targets]]
        name = "crashed-tcp"
        service = "crashed"
        kind = "tcp"
        host = "127.0.0.1"
        port = {closed}
        interval_s = 1
        timeout_s = 2
        [[agents]]
        name = "agent-1"
        token_sha256 = "{hashlib.sha256(TOKEN.encode()).hexdigest()}"
        [store]
        path = "nv.db"
        [server]
        listen = "127.0.0.1:{port}"
        """
    )
    return config


def write_prometheus_config(tmp_path: Path, port: int) -> Path:
    config = tmp_path / "prometheus.yml"
    config.write_text(
        f"""
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - {RULES}
scrape_configs:
  - job_name: netvigil
    static_configs:
      - targets: ["127.0.0.1:{port}"]
"""
    )
    return config


async def ingest_agent_result(client: httpx.AsyncClient, base: str) -> dict[str, Any]:
    """Ship one failed result for portal-http from agent-1 through the ingest API."""
    ts = round(time.time() - 1, 3)
    m = {
        "id": new_measurement_id(ts),
        "ts": ts,
        "vantage": "agent-1",
        "target": "portal-http",
        "kind": "http",
        "ok": False,
        "outcome": "tcp_timeout",
        "phase": "connect",
        "timings": {"connect": 2.0, "total": 2.125},
        "detail": {},
    }
    r = await client.post(
        f"{base}/api/v1/ingest",
        json={"agent": "agent-1", "measurements": [m]},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert r.status_code == 200, r.text
    return m


def by_labels(result: list[Any], *keys: str) -> dict[tuple[str, ...], float]:
    return {tuple(s["metric"].get(k, "") for k in keys): float(s["value"][1]) for s in result}


async def test_prometheus_scrapes_the_values_netvigil_measured(
    tmp_path: Path, http_server: str
) -> None:
    prometheus = binary("prometheus")
    nv_port, prom_port = free_port(), free_port()
    config = write_config(tmp_path, http_server, free_port(), nv_port)
    nv_base, prom_base = f"http://127.0.0.1:{nv_port}", f"http://127.0.0.1:{prom_port}"
    env = {**os.environ, "COLUMNS": "200"}
    nv_args = (sys.executable, "-m", "netvigil", "run", "-c", str(config), "--plain")
    prom_args = (
        prometheus,
        f"--config.file={write_prometheus_config(tmp_path, nv_port)}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{prom_port}",
        "--log.level=warn",
    )
    async with (
        httpx.AsyncClient(timeout=5) as client,
        process(*nv_args, "--duration", "60", log=tmp_path / "netvigil.log", env=env) as nv,
        process(*prom_args, log=tmp_path / "prometheus.log") as prom,
    ):
        await wait_until_up(client, f"{nv_base}/metrics", nv, tmp_path / "netvigil.log")
        await wait_until_up(client, f"{prom_base}/-/ready", prom, tmp_path / "prometheus.log")
        shipped = await ingest_agent_result(client, nv_base)

        expr = 'netvigil_probe_success{job="netvigil"}'
        at, result = await wait_for_series(client, prom_base, expr, 3)
        success = by_labels(result, "target", "vantage", "service", "network", "kind")
        assert success == {
            ("portal-http", "lab", "portal", "loopnet", "http"): 1.0,
            ("crashed-tcp", "lab", "crashed", "", "tcp"): 0.0,
            ("portal-http", "agent-1", "portal", "loopnet", "http"): 0.0,
        }
        total = by_labels(
            await query(client, prom_base, 'netvigil_probe_duration_seconds{phase="total"}', at),
            "target",
            "vantage",
        )
        started = by_labels(
            await query(client, prom_base, "netvigil_probe_last_timestamp_seconds", at),
            "target",
            "vantage",
        )
        status = by_labels(
            await query(client, prom_base, "netvigil_probe_http_status_code", at),
            "target",
            "vantage",
        )
        assert status == {("portal-http", "lab"): 200.0, ("portal-http", "agent-1"): 0.0}
        assert total[("portal-http", "agent-1")] == shipped["timings"]["total"]
        assert started[("portal-http", "agent-1")] == shipped["ts"]
        await check_dashboard_queries(client, prom_base, at)

        nv.send_signal(signal.SIGINT)  # stop netvigil; its store then holds every result
        await asyncio.wait_for(nv.wait(), 20)

    stored = await export_measurements(config)
    for target in ("portal-http", "crashed-tcp"):
        m = stored[(target, "lab", started[(target, "lab")])]
        assert total[(target, "lab")] == m["timings"]["total"], target


async def export_measurements(config: Path) -> dict[tuple[str, str, float], dict[str, Any]]:
    """netvigil's stored measurements, by (target, vantage, ts)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "netvigil",
        "export",
        "-c",
        str(config),
        "--format",
        "jsonl",
        "--since",
        "1h",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    rows = [json.loads(line) for line in out.decode().splitlines()]
    return {(m["target"], m["vantage"], m["ts"]): m for m in rows}


async def check_dashboard_queries(client: httpx.AsyncClient, base: str, at: float) -> None:
    """Every dashboard query runs (variables set to match all); the key panels have data."""
    dashboard = json.loads(DASHBOARD.read_text())
    with_data = set()
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            expr = target["expr"].replace("$service", ".*").replace("$target", ".*")
            expr = expr.replace("$vantage", ".*")
            if await query(client, base, expr, at):
                with_data.add(panel["title"])
    assert {"Success by target and vantage", "Duration by phase"} <= with_data

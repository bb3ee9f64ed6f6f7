"""A real agent configured with `[bus] kind = "nats"` probes loopback targets and
publishes; `netvigil collector` stores what it published, once each."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

from nats_harness import Bus, free_port, stored_ids, wait_for
from prometheus_client import CollectorRegistry

from netvigil.agent.bus_agent import run_bus_agent
from netvigil.bus import shard_of, vantage_of
from netvigil.config import load_config
from netvigil.config.model import Config, SchedulerConfig, VantageConfig
from netvigil.metrics import Metrics
from netvigil.model import Measurement
from netvigil.probes import TCPSpec
from netvigil.store.sqlite import SQLiteStore


class Recorder:
    """A sink that remembers every measurement the agent produced."""

    def __init__(self) -> None:
        self.seen: list[Measurement] = []

    def submit(self, m: Measurement) -> None:
        self.seen.append(m)


def _scrape(port: int) -> dict[str, float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    samples = {}
    for line in text.splitlines():
        if line.startswith("netvigil_bus_"):
            name, value = line.rsplit(" ", 1)
            samples[name] = float(value)
    return samples


async def _accept_and_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()


async def test_agent_publishes_and_the_collector_command_stores_every_measurement(
    bus_clients: Bus, tmp_path: Path
) -> None:
    bus = bus_clients
    target = await asyncio.start_server(_accept_and_close, "127.0.0.1", 0)
    port = target.sockets[0].getsockname()[1]
    agent_config = Config(
        vantage=VantageConfig(name="tirana"),
        scheduler=SchedulerConfig(per_address_rate=1000, jitter=0),
        targets=[
            TCPSpec(
                name="loopback-tcp",
                host="127.0.0.1",
                port=port,
                control=True,
                interval_s=0.05,
                timeout_s=1,
            )
        ],
        bus=bus.config("tirana"),
    )
    db = tmp_path / "collected.db"
    server_toml = tmp_path / "server.toml"
    server_toml.write_text(
        f'[store]\npath = "{db}"\n\n[bus]\nkind = "nats"\nurl = "{bus.url}"\n'
        f'user = "collector"\npassword_env = "TEST_BUS_PASSWORD"\nack_wait_s = 2.0\n'
    )
    assert load_config(server_toml).bus.password_env == "TEST_BUS_PASSWORD"
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(sys.path),
        "TEST_BUS_PASSWORD": bus.passwords["collector"],
    }
    metrics_port = free_port()
    command = [sys.executable, "-m", "netvigil", "collector", "-c", str(server_toml)]
    command += ["--fetch-wait", "0.2", "--metrics-listen", f"127.0.0.1:{metrics_port}"]
    log = tmp_path / "collector.log"
    with log.open("wb") as out:
        collector = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        admin = (await bus.connect()).jetstream()

        async def streams_ready() -> bool:
            try:
                await admin.consumer_info("NETVIGIL_MEASUREMENTS", "netvigil-collector")
            except Exception:
                return False
            return True

        # The collector sets the streams up; until then an agent could only spool.
        await wait_for(streams_ready, 30, "the collector's streams", step_s=0.1)
        recorder = Recorder()
        metrics = Metrics(CollectorRegistry())
        stop = asyncio.Event()
        agent = asyncio.create_task(
            run_bus_agent(
                agent_config,
                stop,
                spool_path=tmp_path / "spool.db",
                metrics=metrics,
                extra_sinks=[recorder],
            )
        )
        await asyncio.sleep(2.0)
        stop.set()
        stats = await agent
        produced = {m.id for m in recorder.seen}
        assert len(produced) >= 10
        assert stats.published == len(produced)
        published = metrics.registry.get_sample_value(
            "netvigil_bus_published_total", {"result": "new"}
        )
        assert published == len(produced)

        async def all_stored() -> bool:
            if not db.exists():
                return False
            async with await SQLiteStore.open(db) as store:
                return set(await stored_ids(store)) == produced

        await wait_for(all_stored, 30, "the collector to store every measurement", step_s=0.2)
        scraped = await asyncio.to_thread(_scrape, metrics_port)
        assert scraped["netvigil_bus_acked_total"] == len(produced)
        assert scraped['netvigil_bus_stored_total{result="new"}'] == len(produced)
        assert scraped["netvigil_bus_consumer_pending"] == 0
        collector.send_signal(signal.SIGTERM)
        assert collector.wait(30) == 0, log.read_text()
    finally:
        if collector.poll() is None:
            collector.kill()
            collector.wait(10)
        target.close()
        await target.wait_closed()
    async with await SQLiteStore.open(db) as store:
        ids = await stored_ids(store)
    assert sorted(ids) == sorted(produced)
    assert all(m.vantage == "tirana" for m in recorder.seen)


async def test_agent_command_publishes_without_server_or_token(
    bus_clients: Bus, tmp_path: Path
) -> None:
    bus = bus_clients
    await bus.setup()
    target = await asyncio.start_server(_accept_and_close, "127.0.0.1", 0)
    port = target.sockets[0].getsockname()[1]
    agent_toml = tmp_path / "agent.toml"
    agent_toml.write_text(
        f'[vantage]\nname = "durres"\n\n[bus]\nkind = "nats"\nurl = "{bus.url}"\n'
        f'user = "agent-durres"\npassword = "{bus.passwords["durres"]}"\n\n'
        '[[targets]]\nname = "loopback"\nkind = "tcp"\nhost = "127.0.0.1"\n'
        f"port = {port}\ncontrol = true\ninterval_s = 0.2\n"
    )
    command = [sys.executable, "-m", "netvigil", "agent", "-c", str(agent_toml)]
    command += ["--spool", str(tmp_path / "spool.db"), "--duration", "2"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    try:
        done = await asyncio.to_thread(
            subprocess.run, command, capture_output=True, env=env, timeout=60
        )
    finally:
        target.close()
        await target.wait_closed()
    assert done.returncode == 0, done.stderr.decode()
    admin = (await bus.connect()).jetstream()
    info = await admin.stream_info("NETVIGIL_MEASUREMENTS", subjects_filter=">")
    assert info.state.messages >= 3
    [subject] = info.state.subjects  # one target, so one shard
    assert vantage_of(subject) == "durres" and shard_of(subject) is not None
    assert b"0 waiting in the spool" in done.stderr

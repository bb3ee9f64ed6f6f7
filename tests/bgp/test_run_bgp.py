"""`netvigil run` with `[[bgp]]` feeds: the feed runs and the API shows what it saw."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import httpx

from servers.tcp import free_port

from .conftest import RisReplay


async def test_run_serves_bgp_visibility_from_mrt_and_ris_live(
    tmp_path: Path, bgp_data: Path, ris_replay: RisReplay
) -> None:
    ris_replay.close_after_replay = False
    (tmp_path / "mrt").mkdir()
    (tmp_path / "mrt" / "rrc06.updates.gz").symlink_to(
        bgp_data / "libbgpstream/test/ris.rrc06.updates.1427846400.gz"
    )
    port = free_port()
    config = tmp_path / "netvigil.toml"
    config.write_text(
        f"""
        [[networks]]
        name = "cogent"
        asn = 1880
        [[networks]]
        name = "as20473"
        asn = 20473
        [[services]]
        name = "portal"
        network = "cogent"
        [[targets]]
        name = "portal-tcp"
        service = "portal"
        kind = "tcp"
        host = "127.0.0.1"
        port = {free_port()}
        interval_s = 1
        timeout_s = 1
        [server]
        listen = "127.0.0.1:{port}"
        [[bgp]]
        kind = "mrt"
        path = "mrt/*.gz"
        [[bgp]]
        kind = "ris_live"
        name = "replay"
        url = "{ris_replay.url}"
        """
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "netvigil", "run", "-c", str(config), "--duration", "20",
        "--plain", stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        cwd=tmp_path, env=os.environ.copy(),
    )  # fmt: skip
    try:
        cogent = replay = None
        metrics = ""
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(300):  # at most 30 s
                await asyncio.sleep(0.1)
                try:
                    cogent = (await client.get("/api/v1/networks/cogent/bgp")).json()
                    replay = (await client.get("/api/v1/networks/as20473/bgp")).json()
                except httpx.TransportError:
                    continue
                if cogent.get("visibility") is not None and replay.get("visibility") is not None:
                    break
            metrics = (await client.get("/metrics")).text
        assert cogent is not None
        assert replay is not None
        assert cogent["visibility"] is not None, cogent
        assert cogent["latest_sample"]["source"] == "mrt+ris_live"
        assert {f["name"] for f in cogent["feeds"]} == {"mrt", "replay"}
        assert replay["visibility"] is not None, replay
        assert any(p["prefix"] == "2a0e:97c7::/48" for p in replay["prefixes"])
        assert 'netvigil_bgp_feed_up{feed="replay",kind="ris_live"} 1\n' in metrics
        assert 'netvigil_bgp_feed_up{feed="mrt",kind="mrt"} 1\n' in metrics
        assert 'netvigil_bgp_feed_reconnects_total{feed="replay",kind="ris_live"} 0\n' in metrics
        assert f'netvigil_bgp_visibility{{network="cogent"}} {cogent["visibility"]}' in metrics

        # a reload adding a network: subscribed on the open connection, served by the API
        text = config.read_text()
        config.write_text(text + '\n[[networks]]\nname = "newcomer"\nasn = 64511\n')
        proc.send_signal(signal.SIGHUP)
        wanted = {"type": "ris_subscribe", "data": {"path": "64511$", "type": "UPDATE"}}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
            for _ in range(100):  # at most 10 s
                await asyncio.sleep(0.1)
                newcomer = await client.get("/api/v1/networks/newcomer/bgp")
                if newcomer.status_code == 200 and wanted in ris_replay.subscriptions:
                    break
        assert newcomer.status_code == 200, newcomer.text
        assert wanted in ris_replay.subscriptions
        assert ris_replay.connections == 1
    finally:
        proc.terminate()
        _, err = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, err.decode()
    assert "BGP feeds: mrt (mrt), replay (ris_live)" in err.decode()


async def test_bgp_watch_prints_samples_and_events(tmp_path: Path, ris_replay: RisReplay) -> None:
    ris_replay.close_after_replay = False
    config = tmp_path / "netvigil.toml"
    config.write_text(
        f"""
        [[networks]]
        name = "as20473"
        asn = 20473
        [[bgp]]
        kind = "ris_live"
        url = "{ris_replay.url}"
        """
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "netvigil", "bgp", "watch", "-c", str(config), "--duration", "4",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=tmp_path,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    lines = out.decode().splitlines()
    assert "2021-11-07 00:32:34 as20473 bgp_visibility 1.000" in lines
    # (how many peers were heard depends on when the events are handed on: the replayed
    # messages are of 2019 and 2021, and the feed hands on by the wall clock)
    event = "2021-11-07 00:32:34 as20473 announcement 2a0e:97c7::/48: announced by 1 peers; 1 of"
    assert any(line.startswith(event) for line in lines), lines

"""`netvigil web` processes on real servers: one PostgreSQL store, one NATS bus.

Two web processes serve the same store. An incident already open when they start is
loaded from the store; an event published afterwards the way a detector publishes it
(stored, then `publish_incident_event`) reaches the SSE stream of both and the open
incidents of both, and a resolve removes the incident from both. Ingest answers 503.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import httpx
import nats
import pytest
from cluster_nats import NATSServerProcess
from web_processes import (
    SERVING,
    eventually,
    incident_event,
    reading,
    start_process,
    stop_process,
    wait_for_log,
    write_config,
)

from netvigil.bus import publish_incident_event
from netvigil.cli import main
from netvigil.incident import EventKind, IncidentEvent
from netvigil.store.postgres import PostgresStore
from servers.postgres import PostgresServer


async def open_ids(client: httpx.AsyncClient, url: str) -> set[str]:
    answer = await client.get(f"{url}/api/v1/incidents", params={"open": "true"})
    answer.raise_for_status()
    return {i["id"] for i in answer.json()}


async def services(client: httpx.AsyncClient, url: str) -> bool:
    """Whether the web at `url` knows the service added on reload."""
    answer = await client.get(f"{url}/api/v1/services")
    answer.raise_for_status()
    return "mail" in {s["name"] for s in answer.json()}


async def detector_emits(store: PostgresStore, nc: nats.NATS, event: IncidentEvent) -> None:
    """What a detector does with an event: store it (durable), then publish it."""
    store.submit_incident_event(event)
    await store.flush()
    await publish_incident_event(nc.jetstream(), event)


async def test_two_web_processes_each_show_every_incident_event(
    nats_server: NATSServerProcess, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    dsn = await postgres_server.database_for(tmp_path)
    config = write_config(tmp_path / "netvigil.toml", nats_url=nats_server.url, dsn=dsn)
    now = time.time()
    before = incident_event("inc-before", EventKind.CONFIRMED, ts=now - 5, service="registry")
    nc = await nats.connect(nats_server.url)
    processes = []
    try:
        async with await PostgresStore.open(dsn) as store:
            store.submit_incident_event(before)  # open before any web process starts
            await store.flush()
            for name in ("a", "b"):
                args = ["web", "-c", str(config), "--listen", "127.0.0.1:0", "--poll", "0.5"]
                processes.append(start_process(args, tmp_path / f"web-{name}.log"))
            urls = [
                (await wait_for_log(p, tmp_path / f"web-{n}.log", SERVING, 60)).group(1)
                for p, n in zip(processes, "ab", strict=True)
            ]
            async with httpx.AsyncClient(timeout=10) as client:
                for url in urls:
                    assert await open_ids(client, url) == {"inc-before"}
                    refused = await client.post(f"{url}/api/v1/ingest", json={})
                    assert refused.status_code == 503
                    assert "only serves" in refused.json()["error"]
                async with reading(urls) as readers:
                    fresh = incident_event("inc-live", EventKind.CONFIRMED, ts=time.time())
                    await detector_emits(store, nc, fresh)
                    await eventually(
                        lambda: all(r.seen("inc-live", "confirmed") for r in readers),
                        15,
                        "the event on both SSE streams",
                    )
                    for url in urls:
                        assert await open_ids(client, url) == {"inc-before", "inc-live"}
                    ended = incident_event(
                        "inc-before", EventKind.RESOLVED, ts=time.time(), service="registry"
                    )
                    await detector_emits(store, nc, ended)
                    await eventually(
                        lambda: all(r.seen("inc-before", "resolved") for r in readers),
                        15,
                        "the resolve on both SSE streams",
                    )
                    for reader in readers:
                        assert [e["id"] for e in reader.incidents] == ["inc-live", "inc-before"]
                for url in urls:
                    assert await open_ids(client, url) == {"inc-live"}
                config.write_text(config.read_text() + '\n[[services]]\nname = "mail"\n')
                os.kill(processes[0].pid, signal.SIGHUP)  # reloads like `netvigil run`
                await eventually(
                    lambda: services(client, urls[0]), 10, "the reloaded config on web a"
                )
                assert not await services(client, urls[1]), "web b was not told to reload"
    finally:
        codes = [stop_process(p) for p in processes]
        await nc.close()
    assert codes == [0, 0]


def test_web_names_an_unreachable_nats_without_its_password(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(
        tmp_path / "netvigil.toml",
        nats_url="nats://127.0.0.1:9",
        dsn="postgresql://netvigil:pw@127.0.0.1:9/netvigil",
    )
    args = ["web", "-c", str(config), "--nats", "nats://web:s3cret@127.0.0.1:9"]
    with pytest.raises(SystemExit) as exited:
        main(args)
    err = capsys.readouterr().err
    assert exited.value.code == 1
    assert err.startswith("error: cannot reach NATS at nats://127.0.0.1:9: ")
    assert "s3cret" not in err


def test_web_refuses_a_store_file_that_is_not_there(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dsn = "postgresql://netvigil@127.0.0.1:9/netvigil"
    config = write_config(tmp_path / "netvigil.toml", nats_url="nats://127.0.0.1:9", dsn=dsn)
    missing = tmp_path / "nowhere.db"
    with pytest.raises(SystemExit) as exited:
        main(["web", "-c", str(config), "--db", str(missing)])
    assert exited.value.code == 1
    assert capsys.readouterr().err.startswith(f"error: {missing}: no store here")


def test_web_names_an_unreachable_store_without_its_password(
    nats_server: NATSServerProcess, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dsn = "postgresql://netvigil:s3cret@127.0.0.1:9/netvigil"
    config = write_config(tmp_path / "netvigil.toml", nats_url=nats_server.url, dsn=dsn)
    with pytest.raises(SystemExit) as exited:
        main(["web", "-c", str(config), "--listen", "127.0.0.1:0"])
    err = capsys.readouterr().err
    assert exited.value.code == 1
    assert err.startswith("error: ") and "127.0.0.1:9" in err and "s3cret" not in err

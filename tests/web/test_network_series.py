"""`GET /api/v1/networks/{name}/series`: the network plane over time, from stored signals.

The signals are real: the RIS Live client reads the real RIS messages from a websocket on
loopback (the BGP tests' replay), then a withdrawal of AS20473's prefixes by the peer that
announced them, into the sinks `netvigil run` uses (what the API shows now, and the
recorder that keeps them in the store); block rounds go through the same MeasurementSink
`netvigil run` hands the monitor's measurements to.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from bgp.conftest import RisReplay, bgp_data, ris_replay, ris_stream, wait_for  # noqa: F401
from netvigil.bgp.feed import BgpFeed
from netvigil.bgp.memory import RecentSignals
from netvigil.bgp.ris_live import Backoff
from netvigil.cause import Cause
from netvigil.config.model import BgpFeedConfig, Config, NetworkConfig, ServiceConfig
from netvigil.incident import EventKind, Incident, IncidentEvent, IncidentState
from netvigil.model import Measurement, new_measurement_id
from netvigil.network_plane import read_network_record
from netvigil.outcome import Outcome, Phase
from netvigil.pipeline.block_signals import BlockSignals
from netvigil.pipeline.signal_record import SignalRecorder
from netvigil.probes.block import BlockSpec
from netvigil.signal import SignalFanout
from netvigil.store.sqlite import SQLiteStore
from netvigil.web.api.models.networks import NetworkSeriesOut
from netvigil.web.api.networks import EVENTS_LIMIT
from netvigil.web.app import create_app

ANNOUNCED_AT = 1636245154.8  # bgpkit's rrc10 UPDATE: AS20473 announces four /48s
PEER = "2001:7f8:b:100:1d1:a520:1333:74"
PREFIXES = ["2a0e:97c7::/48", "2a0e:97c6:fe::/48", "2a10:cc42:17b7::/48", "2a10:cc42:1feb::/48"]
WITHDRAWN_AT = ANNOUNCED_AT + 120

NETWORKS = [NetworkConfig(name="as20473", asn=20473), NetworkConfig(name="quiet")]
SERVICES = [ServiceConfig(name="hosting", network="as20473")]
BLOCKS = BlockSpec(
    name="as20473-blocks",
    service="hosting",
    addresses=["192.0.2.1", "198.51.100.1"],
    network="as20473",
)


def withdrawal() -> str:
    """A RIS Live UPDATE withdrawing AS20473's prefixes, from the peer that announced them."""
    data = {
        "timestamp": WITHDRAWN_AT,
        "peer": PEER,
        "peer_asn": "201333",
        "id": "10-183678-175313899",
        "host": "rrc10",
        "type": "UPDATE",
        "withdrawals": PREFIXES,
    }
    return json.dumps({"type": "ris_message", "data": data})


def block_round(ts: float, up: int) -> Measurement:
    """A stored round of the block target: `up` of its 2 blocks believed up."""
    return Measurement(
        id=new_measurement_id(ts),
        ts=ts,
        vantage="here",
        target=BLOCKS.name,
        kind="block",
        ok=up == 2,
        outcome=Outcome.OK if up == 2 else Outcome.ICMP_TIMEOUT,
        phase=None if up == 2 else Phase.CONNECT,
        detail={"blocks_up": up, "blocks_watched": 2, "probes": 4},
    )


def config() -> Config:
    return Config(networks=NETWORKS, services=SERVICES, targets=[BLOCKS])


async def record_replay(replay: RisReplay, store: SQLiteStore) -> RecentSignals:
    """Run the RIS Live feed over the replay into the live sinks until the withdrawal is
    seen; record block rounds beside; write what the recorder holds."""
    replay.messages.append(withdrawal())
    replay.close_after_replay = False

    def replay_clock() -> float:  # the replay's own time: 2 s after its newest message
        return feed.visibility.latest + 2.0 if feed.visibility is not None else ANNOUNCED_AT

    feed = BgpFeed(
        [BgpFeedConfig(kind="ris_live", name="ris", url=replay.url)],
        NETWORKS,
        now=replay_clock,
        backoff=Backoff(initial_s=0.05, max_s=0.2),
        tick_s=0.05,
    )
    recent = RecentSignals()
    recorder = SignalRecorder(store, views=feed.network_visibility, every_s=10.0)
    task = asyncio.create_task(feed.run(SignalFanout([recent, recorder])))
    try:
        await wait_for(lambda: any(e.kind == "withdrawal" for e in recent.events("as20473")))
    finally:
        feed.stop()
        await task
    blocks = BlockSignals(config().targets, SignalFanout([recent, recorder]))
    for i, up in enumerate([2, 2, 0, 0]):
        blocks.submit(block_round(ANNOUNCED_AT + 60 * i, up))
    assert await recorder.flush() > 0
    return recent


@pytest.fixture
async def recorded(tmp_path: Path, ris_replay: RisReplay) -> Path:  # noqa: F811
    store = await SQLiteStore.open(tmp_path / "nv.db")
    try:
        await record_replay(ris_replay, store)
    finally:
        await store.close()
    return tmp_path / "nv.db"


async def api(path: Path) -> AsyncIterator[httpx.AsyncClient]:
    store = await SQLiteStore.open(path)
    app = create_app(store, config(), now=lambda: ANNOUNCED_AT + 600)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://nv.test") as c:
            yield c
    finally:
        await store.close()


@pytest.fixture
async def client(recorded: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The API over the store the signals were recorded in, opened again (a restart)."""
    async for c in api(recorded):
        yield c


@pytest.fixture
async def empty(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The API over a store with no signal in it."""
    async for c in api(tmp_path / "empty.db"):
        yield c


async def series(client: httpx.AsyncClient, name: str, **params: Any) -> dict[str, Any]:
    answer = await client.get(f"/api/v1/networks/{name}/series", params=params)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


async def test_series_show_visibility_withdrawal_and_blocks_after_a_restart(
    client: httpx.AsyncClient,
) -> None:
    body = await series(
        client, "as20473", since=ANNOUNCED_AT - 60, until=ANNOUNCED_AT + 300, step=60
    )
    assert body["stored"] is True
    assert body["step"] == 60
    points = body["points"]
    assert [p["t"] for p in points] == [ANNOUNCED_AT - 60 + 60 * i for i in range(6)]
    assert points[0]["visibility"] is None  # nothing known before the announcement
    seen = points[1]
    assert seen["visibility"] is not None and seen["visibility"] > 0
    assert seen["peers_seeing"] == 1 and seen["peers_total"] >= 1
    assert seen["announcements"] >= 1
    gone = points[3]  # the withdrawal, 120 s after the announcement
    assert gone["visibility"] == 0.0
    assert gone["withdrawals"] == len(PREFIXES)
    assert points[5]["visibility"] == 0.0  # carried on: nothing changed since
    assert [p["blocks_up"] for p in points[1:]] == [1.0, 1.0, 0.0, 0.0, 0.0]
    by_prefix = {p["prefix"]: p for p in body["prefixes"]}
    assert set(by_prefix) == set(PREFIXES)
    assert by_prefix["2a0e:97c7::/48"]["peers"][1:4] == [1, 1, 0]
    withdrawn = [e for e in body["events"] if e["kind"] == "withdrawal"]
    assert {e["prefix"] for e in withdrawn} == set(PREFIXES)
    assert all(e["peers"] == 1 and e["t"] == WITHDRAWN_AT for e in withdrawn)


RANGES = [
    (ANNOUNCED_AT - 60, ANNOUNCED_AT + 300, 60.0),
    (ANNOUNCED_AT - 3600, ANNOUNCED_AT + 900, 7.0),  # blocks_up carried at most 15 min
    (ANNOUNCED_AT + 30, ANNOUNCED_AT + 200, 1.0),  # starts from the value before it
    (ANNOUNCED_AT + 121, ANNOUNCED_AT + 92 * 86_400, 1600.0),  # a quarter
]


async def test_buckets_from_sql_answer_as_the_samples_bucketed_in_python(recorded: Path) -> None:
    """The route groups in SQL; the same range read sample by sample and bucketed in
    Python (as the incident report does) gives the same JSON."""
    async for client in api(recorded):
        store = await SQLiteStore.open(recorded)
        try:
            for since, until, step in RANGES:
                body = await series(client, "as20473", since=since, until=until, step=step)
                record = await read_network_record(store, "as20473", since, until)
                python = NetworkSeriesOut.of(
                    record.series(step), stored=True, events_limit=EVENTS_LIMIT
                )
                assert body == json.loads(python.model_dump_json()), (since, until, step)
                assert any(p["visibility"] is not None for p in body["points"])
        finally:
            await store.close()


async def test_default_range_and_a_network_without_signals(empty: httpx.AsyncClient) -> None:
    body = await series(empty, "quiet")
    assert body["until"] == ANNOUNCED_AT + 600
    assert body["until"] - body["since"] == 6 * 3600
    assert len(body["points"]) == 360
    assert all(p["visibility"] is None and p["blocks_up"] is None for p in body["points"])
    assert body["prefixes"] == [] and body["events"] == []


BAD = [
    ({"since": 100, "until": 100}, "must be after since"),
    ({"since": 0, "until": 100 * 86_400}, "at most"),
    ({"since": 0, "until": 3600, "step": 0.5}, "must be at least 1"),
    ({"since": 0, "until": 86_400, "step": 1}, "at most 5000"),
    ({"since": "nan"}, "finite"),
]


async def test_bad_ranges_and_steps_are_400_and_an_unknown_network_404(
    empty: httpx.AsyncClient,
) -> None:
    for params, words in BAD:
        answer = await empty.get("/api/v1/networks/as20473/series", params=params)
        assert answer.status_code == 400, (params, answer.text)
        assert words in answer.json()["error"], params
    answer = await empty.get("/api/v1/networks/nowhere/series")
    assert answer.status_code == 404
    assert "nowhere" in answer.json()["error"]


def withdrawn_incident() -> Incident:
    """The hosting service unreachable from the withdrawal on, for five minutes."""
    return Incident(
        id="inc-as20473",
        state=IncidentState.RESOLVED,
        start=WITHDRAWN_AT,
        confirmed_at=WITHDRAWN_AT + 60,
        end=WITHDRAWN_AT + 300,
        cause=Cause.ROUTE_WITHDRAWAL,
        confidence=0.9,
        services=["hosting"],
        targets=[BLOCKS.name],
        networks=["as20473"],
        vantages=["here"],
        updated=WITHDRAWN_AT + 300,
    )


async def test_incident_page_and_report_name_the_plane_that_moved(recorded: Path) -> None:
    store = await SQLiteStore.open(recorded)
    try:
        inc = withdrawn_incident()
        await store.add_incident_event(IncidentEvent(EventKind.RESOLVED, WITHDRAWN_AT + 300, inc))
        await store.save_incident(inc)
        app = create_app(store, config(), now=lambda: WITHDRAWN_AT + 600)
        await app.state.status_page.history.refresh()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://nv.test") as client:
            page = (await client.get(f"/status/incidents/{inc.id}")).text
            shqip = (await client.get(f"/status/incidents/{inc.id}?lang=sq")).text
            report = (await client.get(f"/api/v1/incidents/{inc.id}/report.html")).text
            markdown = (await client.get(f"/api/v1/incidents/{inc.id}/report.md")).text
    finally:
        await store.close()
    at = datetime.fromtimestamp(WITHDRAWN_AT, UTC).strftime("%H:%M:%S UTC")
    moved = re.compile(
        rf"control plane: 2a0e:97c6:fe::/48 withdrawn by 1 of (\d+) peers at {at}; "
        r"data plane: 0 of 2 blocks answer"
    )
    assert "<h2>Network plane</h2>" in page
    assert moved.search(page), page
    # the series as a small table: 30 min before the onset to now, in 4-minute rows
    assert page.count("<tr><td>") == 10
    assert "<td>0%</td><td>0%</td><td>4</td>" in page  # visibility, blocks up, withdrawals
    assert "plani i kontrollit: 2a0e:97c6:fe::/48 u tërhoq nga 1 nga" in shqip
    assert "plani i të dhënave: 0 nga 2 blloqe përgjigjen" in shqip
    assert moved.search(report) and moved.search(markdown)
    assert '<figure id="network">' in report
    assert "### Network plane" in markdown
    assert "| withdrawal | 2a0e:97c7::/48 | 1 of" in markdown


async def test_no_network_plane_without_signals(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "none.db")
    try:
        inc = withdrawn_incident()
        await store.save_incident(inc)
        app = create_app(store, config(), now=lambda: WITHDRAWN_AT + 600)
        await app.state.status_page.history.refresh()
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://nv.test") as client:
            page = (await client.get(f"/status/incidents/{inc.id}")).text
            markdown = (await client.get(f"/api/v1/incidents/{inc.id}/report.md")).text
    finally:
        await store.close()
    assert "Network plane" not in page and "plane" not in markdown
    assert "network.png" not in markdown

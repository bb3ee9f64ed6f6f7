"""Publisher to stream to collector to store, against a real nats-server on loopback."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import nats.errors
import pytest
from nats.aio.client import Client
from nats_harness import SHARDS, Bus, make_measurements, stored_ids, subject_of, wait_for
from prometheus_client import CollectorRegistry

from netvigil.agent.spool import Spool
from netvigil.bus import (
    Collector,
    CollectorStats,
    MeasurementConsumer,
    MeasurementPublisher,
    encode_measurement,
    track_collector,
)
from netvigil.bus.connection import ConnectionEvents, agent_inbox, connect
from netvigil.bus.incidents import publish_incident_event
from netvigil.bus.publisher import Connector
from netvigil.bus.subjects import REASON_HEADER, SUBJECT_HEADER
from netvigil.config.model import BusConfig
from netvigil.incident import EventKind, Incident, IncidentEvent, IncidentState
from netvigil.store.sqlite import SQLiteStore


async def start_collector(
    bus: Bus, store: SQLiteStore, stats: CollectorStats | None = None, **options: object
) -> tuple[Collector, asyncio.Event, asyncio.Task[None]]:
    nc = await bus.connect()
    consumer = await MeasurementConsumer.bind(
        nc,
        bus.config(),
        fetch_wait_s=0.2,
        stats=stats,
        **options,  # type: ignore[arg-type]
    )
    collector = Collector(consumer, store, backoff_initial_s=0.05, backoff_max_s=0.2)
    stop = asyncio.Event()
    return collector, stop, asyncio.create_task(collector.run(stop))


async def test_published_measurements_are_stored_once_each(
    bus_clients: Bus, store: SQLiteStore, tmp_path: Path
) -> None:
    bus = bus_clients
    await bus.setup()
    produced = make_measurements(1500)
    async with await Spool.open(tmp_path / "spool.db") as spool:
        publisher = MeasurementPublisher(
            bus.config("tirana"), "tirana", spool, SHARDS, batch_size=100
        )
        stop = asyncio.Event()
        task = asyncio.create_task(publisher.run(stop))
        for m in produced:
            publisher.submit(m)
        await wait_for(lambda: _true(publisher.waiting == 0), 30, "the publisher to finish")
        stop.set()
        await task
    assert publisher.stats.published == len(produced)
    assert publisher.stats.spooled == 0
    collector, cstop, ctask = await start_collector(bus, store)
    await wait_for(lambda: _count_is(store, len(produced)), 30, "every measurement in the store")
    cstop.set()
    await ctask
    ids = await stored_ids(store)
    assert sorted(ids) == sorted(m.id for m in produced)
    assert collector.stats.acked == len(produced) == collector.stats.stored

    # A re-send of the same ids is dropped by the stream itself (Nats-Msg-Id).
    nc = await connect(bus.config("tirana"), name="again", inbox_prefix=agent_inbox("tirana"))
    bus.clients.append(nc)
    ack = await nc.jetstream().publish(
        subject_of(produced[0]),
        encode_measurement(produced[0]),
        headers={"Nats-Msg-Id": produced[0].id},
    )
    assert ack.duplicate
    admin = await bus.connect()
    info = await admin.jetstream().stream_info("NETVIGIL_MEASUREMENTS")
    assert info.state.messages == len(produced)


async def test_an_agent_cannot_publish_as_another_vantage(bus_clients: Bus) -> None:
    bus = bus_clients
    await bus.setup()
    errors: list[str] = []

    async def on_error(exc: Exception) -> None:
        errors.append(str(exc))

    nc = await nats.connect(
        bus.url,
        user="agent-tirana",
        password=bus.passwords["tirana"],
        inbox_prefix=agent_inbox("tirana"),
        error_cb=on_error,
        allow_reconnect=False,
    )
    bus.clients.append(nc)
    js = nc.jetstream()
    forged = make_measurements(1, vantage="durres")[0]
    with pytest.raises(nats.errors.TimeoutError):
        await js.publish(subject_of(forged), encode_measurement(forged), timeout=1.0)
    assert any("permissions violation" in e.lower() for e in errors), errors
    own = make_measurements(1, vantage="tirana")[0]
    ack = await js.publish(subject_of(own), encode_measurement(own), timeout=5.0)
    assert ack.seq == 1  # the forged message never reached the stream
    admin = await bus.connect()
    info = await admin.jetstream().stream_info("NETVIGIL_MEASUREMENTS")
    assert info.state.messages == 1


async def test_bad_messages_are_set_aside_counted_and_do_not_block(
    bus_clients: Bus, store: SQLiteStore
) -> None:
    bus = bus_clients
    await bus.setup()
    nc = await connect(bus.config("tirana"), name="raw", inbox_prefix=agent_inbox("tirana"))
    bus.clients.append(nc)
    js = nc.jetstream()
    good = make_measurements(6)
    subject = subject_of(good[0])
    oversized = good[5].to_json() | {"detail": {"blob": "x" * 70_000}}
    other_vantage = make_measurements(1, vantage="durres")[0]
    not_a_measurement = good[4].to_json() | {"outcome": "no_such_outcome"}
    sends: list[bytes] = [
        encode_measurement(good[0]),
        b"{not json",
        encode_measurement(good[1]),
        encode_measurement(other_vantage),  # tirana's subject, durres in the body
        json.dumps([1, 2]).encode(),
        encode_measurement(good[2]),
        json.dumps(not_a_measurement).encode(),
        json.dumps(oversized).encode(),
        encode_measurement(good[3]),
    ]
    for body in sends:
        await js.publish(subject, body)
    registry = CollectorRegistry()
    stats = CollectorStats()
    track_collector(registry, stats)
    _, stop, task = await start_collector(bus, store, stats)
    await wait_for(lambda: _count_is(store, 4), 20, "the four good measurements")
    await wait_for(lambda: _true(sum(stats.rejected.values()) == 5), 10, "five set aside")
    # The consumer keeps going: a good message after the bad ones is stored too.
    await js.publish(subject, encode_measurement(good[4]))
    await wait_for(lambda: _count_is(store, 5), 20, "the measurement sent afterwards")
    stop.set()
    await task
    assert sorted(await stored_ids(store)) == sorted(m.id for m in good[:5])
    assert stats.rejected == {"malformed": 2, "vantage_mismatch": 1, "invalid": 1, "oversized": 1}
    for reason, count in stats.rejected.items():
        value = registry.get_sample_value("netvigil_bus_rejected_total", {"reason": reason})
        assert value == count
    assert registry.get_sample_value("netvigil_bus_acked_total") == 5
    # The dead letters hold each bad message with its reason and first subject.
    admin = await bus.connect()
    ajs = admin.jetstream()
    info = await ajs.stream_info("NETVIGIL_DEAD_LETTER")
    assert info.state.messages == 5
    letter = await ajs.get_msg("NETVIGIL_DEAD_LETTER", seq=2)
    assert letter.subject == "netvigil.dead_letter.vantage_mismatch"
    assert letter.headers is not None
    assert letter.headers[REASON_HEADER].startswith("vantage_mismatch: body says 'durres'")
    assert letter.headers[SUBJECT_HEADER] == subject
    assert letter.data == encode_measurement(other_vantage)
    consumer = await ajs.consumer_info("NETVIGIL_MEASUREMENTS", "netvigil-collector")
    assert consumer.num_ack_pending == 0
    assert consumer.num_pending == 0


async def _true(value: bool) -> bool:
    return value


async def _count_is(store: SQLiteStore, n: int) -> bool:
    return len(await stored_ids(store)) >= n


async def test_incident_events_have_a_stream_of_their_own(bus_clients: Bus) -> None:
    bus = bus_clients
    await bus.setup()
    js = (await bus.connect()).jetstream()
    incident = Incident(
        id="inc-1", state=IncidentState.SUSPECTED, start=1_700_000_000.0, services=["portal"]
    )
    opened = IncidentEvent(EventKind.OPENED, 1_700_000_001.0, incident)
    first = await publish_incident_event(js, opened)
    again = await publish_incident_event(js, opened)  # a re-send after a lost ack
    assert first.stream == "NETVIGIL_INCIDENTS"
    assert not first.duplicate
    assert again.duplicate
    stored = await js.get_msg("NETVIGIL_INCIDENTS", seq=first.seq)
    assert stored.subject == "netvigil.incidents.inc-1"
    assert json.loads(stored.data or b"")["incident"]["id"] == "inc-1"
    info = await js.stream_info("NETVIGIL_MEASUREMENTS")
    assert info.state.messages == 0


async def test_a_publisher_with_another_agents_credentials_keeps_its_measurements(
    bus_clients: Bus, tmp_path: Path
) -> None:
    bus = bus_clients
    await bus.setup()
    produced = make_measurements(20, vantage="durres")
    async with await Spool.open(tmp_path / "spool.db") as spool:
        # durres's measurements with tirana's user: the server refuses every publish.
        publisher = MeasurementPublisher(
            bus.config("tirana", publish_timeout_s=0.5),
            "durres",
            spool,
            SHARDS,
            backoff_initial_s=0.1,
            backoff_max_s=0.2,
            connector=_connect_as("tirana"),  # tirana's user and inbox
        )
        stop = asyncio.Event()
        task = asyncio.create_task(publisher.run(stop, drain_timeout_s=0))
        for m in produced:
            publisher.submit(m)
        await wait_for(lambda: _true(publisher.stats.failures >= 2), 20, "refused publishes")
        stop.set()
        await task
        assert spool.depth == len(produced)  # kept for when the config is fixed
    assert publisher.stats.published == 0
    assert "permissions violation" in (publisher.stats.last_error or "").lower()
    info = await (await bus.connect()).jetstream().stream_info("NETVIGIL_MEASUREMENTS")
    assert info.state.messages == 0


def _connect_as(vantage: str) -> Connector:
    async def connector(config: BusConfig, events: ConnectionEvents) -> Client:
        return await connect(config, name="wrong", inbox_prefix=agent_inbox(vantage), events=events)

    return connector

"""Two alerters sharing one alert memory (a real NATS key-value bucket) and a real
webhook receiver on loopback: the notify policies hold across them as in one process.

Each alerter has routes of its own, as separate processes do; only the bucket is shared.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import nats
import pytest
from cluster_nats import NATSServerProcess
from nats.aio.msg import Msg

from netvigil.bus import ensure_streams, publish_incident_event
from netvigil.bus.incidents import incident_event_id
from netvigil.bus.subjects import StreamNames
from netvigil.cause import Cause
from netvigil.cluster.alert_memory import AlertMemory, IncidentAlerts
from netvigil.cluster.alerter import AlerterSettings, earlier_events_handled, ensure_alert_consumer
from netvigil.cluster.shared_alerts import SharedAlerts
from netvigil.config.model import WebhookNotifyConfig
from netvigil.incident import EventKind, IncidentEvent
from netvigil.notify.build import build_notifier
from netvigil.notify.policy import AlertPolicy
from netvigil.notify.route import Route
from notify.helpers import SECRET, START, Receiver, make_event, serving_receiver


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A webhook receiver on 127.0.0.1 checking signatures (POST /hook)."""
    async with serving_receiver() as rec:
        yield rec


@pytest.fixture
async def memory(nats_server: NATSServerProcess) -> AsyncIterator[AlertMemory]:
    nc = await nats.connect(nats_server.url)
    try:
        yield await AlertMemory.open(nc.jetstream(), ttl_s=3600)
    finally:
        await nc.close()


def alerter(receiver: Receiver, memory: AlertMemory, quiet_period_s: float) -> SharedAlerts:
    """An alerter with one webhook route of its own, on the shared memory."""
    section = WebhookNotifyConfig(
        kind="webhook", url=receiver.url, secret=SECRET, quiet_period_s=quiet_period_s
    )  # type: ignore[call-arg]
    route = Route(build_notifier(section, name="hook"), AlertPolicy.from_config(section), 16, 30)
    return SharedAlerts([route], memory)


async def handle(alerts: SharedAlerts, event: IncidentEvent) -> None:
    await alerts.handle(event, incident_event_id(event), wait=asyncio.sleep)


def told(receiver: Receiver) -> list[tuple[str, str, str]]:
    """(kind, incident, cause) of each delivery, in order."""
    out = []
    for d in receiver.deliveries:
        body = d.json
        out.append((body["kind"], body["incident"]["id"], body["incident"]["cause"]))
    return out


async def test_a_resolve_goes_out_from_the_alerter_that_did_not_announce_it(
    receiver: Receiver, memory: AlertMemory
) -> None:
    first, second = alerter(receiver, memory, 300), alerter(receiver, memory, 300)
    confirmed = make_event(EventKind.CONFIRMED, incident_id="inc-a")
    resolved = make_event(EventKind.RESOLVED, incident_id="inc-a", ts=START + 3600)
    await handle(first, confirmed)
    await handle(second, resolved)  # alone, this route never announced it: it would skip
    await handle(second, confirmed)  # each delivered again, to the other alerter
    await handle(first, resolved)
    assert told(receiver) == [
        ("confirmed", "inc-a", "shutdown"),
        ("resolved", "inc-a", "shutdown"),
    ]
    assert first.stats.sent + second.stats.sent == 2


async def test_the_quiet_period_holds_across_alerters_and_the_latest_held_event_wins(
    receiver: Receiver, memory: AlertMemory
) -> None:
    first, second = alerter(receiver, memory, 1.0), alerter(receiver, memory, 1.0)
    confirmed = make_event(EventKind.CONFIRMED, incident_id="inc-q")
    to_route = make_event(
        EventKind.CAUSE_CHANGED,
        incident_id="inc-q",
        cause=Cause.ROUTE_WITHDRAWAL,
        history=[Cause.SHUTDOWN, Cause.ROUTE_WITHDRAWAL],
        ts=START + 61,
    )
    to_ddos = make_event(
        EventKind.CAUSE_CHANGED,
        incident_id="inc-q",
        cause=Cause.VOLUMETRIC_DDOS,
        history=[Cause.SHUTDOWN, Cause.ROUTE_WITHDRAWAL, Cause.VOLUMETRIC_DDOS],
        ts=START + 62,
    )
    began = time.monotonic()
    await handle(first, confirmed)
    held = asyncio.create_task(handle(second, to_route))  # within the quiet period: held
    await asyncio.sleep(0.2)
    later = asyncio.create_task(handle(first, to_ddos))  # takes the held one's place
    async with asyncio.timeout(10):
        await asyncio.gather(held, later)
    assert told(receiver) == [
        ("confirmed", "inc-q", "shutdown"),
        ("cause_changed", "inc-q", "volumetric_ddos"),
    ]
    assert time.monotonic() - began >= 0.9, "the held alert waited for the quiet period"
    record, _ = await memory.load("inc-q")
    assert {h.state for h in record.handled.values()} == {"done"}


async def test_an_event_waits_until_the_earlier_events_of_its_incident_are_handled(
    nats_server: NATSServerProcess, receiver: Receiver, memory: AlertMemory
) -> None:
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    stream, settings = StreamNames().incidents, AlerterSettings(durable="ordered")
    try:
        await ensure_streams(js, StreamNames())
        await ensure_alert_consumer(js, stream, settings)
        confirmed = make_event(EventKind.CONFIRMED, incident_id="inc-o")
        resolved = make_event(EventKind.RESOLVED, incident_id="inc-o", ts=START + 3600)
        for event in (confirmed, resolved):
            await publish_incident_event(js, event)
        sub = await js.pull_subscribe_bind(settings.durable, stream=stream)
        first_msg, second_msg = await sub.fetch(2, timeout=5)

        def ready(msg: Msg) -> Callable[[IncidentAlerts], Awaitable[bool]]:
            return lambda record: earlier_events_handled(js, stream, "ordered", msg, record)

        first, second = alerter(receiver, memory, 300), alerter(receiver, memory, 300)
        later = asyncio.create_task(
            second.handle(
                resolved,
                incident_event_id(resolved),
                wait=asyncio.sleep,
                ready=ready(second_msg),
                seq=second_msg.metadata.sequence.stream,
            )
        )
        await asyncio.sleep(0.6)
        assert not later.done() and receiver.deliveries == [], "the resolve waited"
        await first.handle(
            confirmed,
            incident_event_id(confirmed),
            wait=asyncio.sleep,
            ready=ready(first_msg),
            seq=first_msg.metadata.sequence.stream,
        )
        async with asyncio.timeout(5):
            await later
        record, _ = await memory.load("inc-o")
    finally:
        await nc.close()
    assert told(receiver) == [
        ("confirmed", "inc-o", "shutdown"),
        ("resolved", "inc-o", "shutdown"),
    ]
    assert record.admitted_seq == second_msg.metadata.sequence.stream

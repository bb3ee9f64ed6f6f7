"""The incidents-stream follower a web process reads with, on a real nats-server: it
starts where it is told, skips what is not an event, and carries on after the server
restarts (its ordered consumer is made again from the last event it saw)."""

from __future__ import annotations

import asyncio
import time

import nats
from cluster_nats import NATSServerProcess
from web_processes import eventually, incident_event

from netvigil.bus import ensure_streams, publish_incident_event
from netvigil.bus.incident_reader import IncidentFollower, stream_position
from netvigil.bus.subjects import StreamNames
from netvigil.incident import EventKind, IncidentEvent


class Taken:
    """An event sink keeping the incident ids and kinds it was given."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def submit(self, event: IncidentEvent) -> None:
        self.events.append((event.incident.id, event.kind.value))


async def test_the_follower_starts_at_its_position_skips_junk_and_survives_a_restart(
    nats_server: NATSServerProcess,
) -> None:
    nc = await nats.connect(nats_server.url, reconnect_time_wait=0.2, max_reconnect_attempts=-1)
    js = nc.jetstream()
    stream = StreamNames().incidents
    taken = Taken()
    await ensure_streams(js, StreamNames())
    await publish_incident_event(js, incident_event("old", EventKind.CONFIRMED, ts=1e9))
    start = await stream_position(js, stream) + 1
    follower = IncidentFollower(js, stream, taken, start_seq=start, idle_heartbeat_s=0.3)
    try:
        await follower.start()
        await js.publish("netvigil.incidents.junk", b"not json")
        await publish_incident_event(js, incident_event("a", EventKind.CONFIRMED, ts=time.time()))
        await eventually(lambda: taken.events == [("a", "confirmed")], 10, "the first event")
        assert follower.malformed == 1

        await asyncio.to_thread(nats_server.restart)
        await eventually(lambda: nc.is_connected, 10, "the reconnection")
        await publish_incident_event(js, incident_event("a", EventKind.RESOLVED, ts=time.time()))
        await eventually(lambda: len(taken.events) == 2, 15, "the event after the restart")
        assert taken.events == [("a", "confirmed"), ("a", "resolved")]
    finally:
        await follower.stop()
        await nc.close()

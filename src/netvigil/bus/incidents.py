"""Incident events on the bus, in a stream of their own (`netvigil.incidents.<id>`).

    ack = await publish_incident_event(nc.jetstream(), event)

A detector process publishes each event of each incident it keeps; readers (the web,
the notifiers) follow the stream. The message id names the incident, the kind of event
and its time, so a detector re-sending an event after a lost acknowledgement does not
make it twice.
"""

from __future__ import annotations

import json

from nats.js import JetStreamContext
from nats.js.api import PubAck

from netvigil.bus.subjects import MSG_ID_HEADER, incident_subject
from netvigil.incident import IncidentEvent

__all__ = ["encode_incident_event", "incident_event_id", "publish_incident_event"]


def incident_event_id(event: IncidentEvent) -> str:
    """The event's message id: incident id, event kind and time (milliseconds)."""
    return f"{event.incident.id}:{event.kind.value}:{round(event.ts * 1000)}"


def encode_incident_event(event: IncidentEvent) -> bytes:
    """The event as the bus carries it: its JSON object, compact."""
    return json.dumps(event.to_json(), separators=(",", ":"), default=str).encode()


async def publish_incident_event(
    js: JetStreamContext, event: IncidentEvent, *, timeout_s: float = 5.0
) -> PubAck:
    """Publish `event` and wait for the stream's acknowledgement. Raises nats errors."""
    return await js.publish(
        incident_subject(event.incident.id),
        encode_incident_event(event),
        timeout=timeout_s,
        headers={MSG_ID_HEADER: incident_event_id(event)},
    )

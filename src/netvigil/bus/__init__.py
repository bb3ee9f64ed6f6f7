"""The NATS JetStream bus: agents publish measurements, collectors store them.

    netvigil.measurements.<shard>.<vantage>  -> stream NETVIGIL_MEASUREMENTS -> consumers
    netvigil.incidents.<incident>            -> stream NETVIGIL_INCIDENTS
    netvigil.dead_letter.<reason>            -> stream NETVIGIL_DEAD_LETTER

`MeasurementPublisher` (an agent's sink, spooling while NATS is away), `MeasurementConsumer`
(stream order, bad messages set aside) and `Collector` (consumer to `Store`, acked once
durable). `server` writes a nats-server config with per-agent permissions and runs it.
"""

from __future__ import annotations

from netvigil.bus.collector import Collector
from netvigil.bus.connection import BusUnavailable, ConnectionEvents, agent_inbox, connect
from netvigil.bus.consumer import Delivery, MeasurementConsumer, Rejection, decode_message
from netvigil.bus.figures import CollectorStats, PublisherStats, track_collector, track_publisher
from netvigil.bus.incidents import publish_incident_event
from netvigil.bus.publisher import MeasurementPublisher, MeasurementSpool, encode_measurement
from netvigil.bus.server import (
    NATSServer,
    NATSUser,
    agent_user,
    collector_user,
    nats_server_binary,
    write_server_config,
)
from netvigil.bus.shards import CONTROL_SHARD, TargetShards
from netvigil.bus.streams import ensure_consumer, ensure_streams
from netvigil.bus.subjects import (
    StreamNames,
    measurement_filter,
    measurement_subject,
    shard_of,
    vantage_of,
)

__all__ = [
    "CONTROL_SHARD",
    "BusUnavailable",
    "Collector",
    "CollectorStats",
    "ConnectionEvents",
    "Delivery",
    "MeasurementConsumer",
    "MeasurementPublisher",
    "MeasurementSpool",
    "NATSServer",
    "NATSUser",
    "PublisherStats",
    "Rejection",
    "StreamNames",
    "TargetShards",
    "agent_inbox",
    "agent_user",
    "collector_user",
    "connect",
    "decode_message",
    "encode_measurement",
    "ensure_consumer",
    "ensure_streams",
    "measurement_filter",
    "measurement_subject",
    "nats_server_binary",
    "publish_incident_event",
    "shard_of",
    "track_collector",
    "track_publisher",
    "vantage_of",
    "write_server_config",
]

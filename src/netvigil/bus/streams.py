"""Stream and consumer setup: idempotent, so every collector start may run it.

    await ensure_streams(js, StreamNames(), duplicate_window_s=120, max_age_s=7 * 86400)
    await ensure_consumer(js, "NETVIGIL_MEASUREMENTS", "netvigil-collector", ack_wait_s=30)

A stream that exists is updated to the settings given (its subjects, duplicate window
and age limit); one that does not is created on file storage. A durable consumer that
exists keeps its position and has its acknowledgement settings brought up to date.
"""

from __future__ import annotations

from collections.abc import Sequence

from nats.js import JetStreamContext
from nats.js.api import (
    AckPolicy,
    ConsumerConfig,
    DeliverPolicy,
    RetentionPolicy,
    StorageType,
    StreamConfig,
)
from nats.js.errors import NotFoundError

from netvigil.bus.subjects import (
    DEAD_LETTER_PREFIX,
    INCIDENTS_PREFIX,
    MEASUREMENTS_PREFIX,
    StreamNames,
)

__all__ = ["ensure_consumer", "ensure_streams", "stream_configs"]


def stream_configs(
    names: StreamNames, *, duplicate_window_s: float, max_age_s: float
) -> list[StreamConfig]:
    """The three streams: measurements, incident events, and the dead letters."""

    def config(name: str, prefix: str) -> StreamConfig:
        return StreamConfig(
            name=name,
            subjects=[prefix + ">"],
            retention=RetentionPolicy.LIMITS,
            storage=StorageType.FILE,
            max_age=max_age_s,
            duplicate_window=duplicate_window_s,
        )

    return [
        config(names.measurements, MEASUREMENTS_PREFIX),
        config(names.incidents, INCIDENTS_PREFIX),
        config(names.dead_letter, DEAD_LETTER_PREFIX),
    ]


async def ensure_streams(
    js: JetStreamContext,
    names: StreamNames,
    *,
    duplicate_window_s: float = 120.0,
    max_age_s: float = 7 * 86_400.0,
) -> None:
    """Create the streams, or bring existing ones to these settings. Raises nats errors."""
    for config in stream_configs(names, duplicate_window_s=duplicate_window_s, max_age_s=max_age_s):
        assert config.name is not None
        try:
            await js.stream_info(config.name)
        except NotFoundError:
            await js.add_stream(config)
        else:
            await js.update_stream(config)


async def ensure_consumer(
    js: JetStreamContext,
    stream: str,
    durable: str,
    *,
    ack_wait_s: float,
    max_ack_pending: int = 50_000,
    filter_subjects: Sequence[str] | None = None,
) -> None:
    """Create the durable pull consumer `durable` on `stream`, or update its ack settings
    and its `filter_subjects` (None: every subject of the stream). A consumer whose
    filter changes keeps its position: it reads the subjects it gains from there on.

    It starts at the stream's first message, and every message must be acked one by one.
    `max_ack_pending` bounds the messages delivered and not yet acked, across every
    process sharing the consumer: collectors each hold up to about three batches (one
    being decoded, two being written), so ten collectors of 5,000 need 150,000.
    """
    config = ConsumerConfig(
        durable_name=durable,
        deliver_policy=DeliverPolicy.ALL,
        ack_policy=AckPolicy.EXPLICIT,
        ack_wait=ack_wait_s,
        max_ack_pending=max_ack_pending,
        filter_subjects=list(filter_subjects) if filter_subjects is not None else None,
    )
    await js.add_consumer(stream, config)  # the JetStream API's create-or-update call

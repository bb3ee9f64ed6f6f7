"""The consumer: measurements off the stream, in stream order, bad messages set aside.

    consumer = await MeasurementConsumer.bind(nc, config.bus, durable="netvigil-collector")
    while not stop.is_set():
        batch = await consumer.fetch()            # [] when nothing came within fetch_wait_s
        ... use [d.measurement for d in batch] ...
        await consumer.ack(batch)                 # only once the work is durable

Every message fetched is checked before anyone sees it. One that cannot be a
measurement from the vantage its subject names is republished to the dead-letter stream
on `netvigil.dead_letter.<reason>` (headers: the reason in words, the first subject)
and then acked, so it never blocks the ones behind it; `stats.rejected[reason]` counts
it. The reasons:

| reason             | the message                                                   |
|--------------------|---------------------------------------------------------------|
| `oversized`        | is larger than `max_payload_bytes`                            |
| `malformed`        | is not UTF-8 JSON holding one object                          |
| `invalid`          | is JSON but not a measurement (a field missing or mistyped)   |
| `vantage_mismatch` | names another vantage in its body than in its subject (or its |
|                    | subject names no shard and vantage)                           |

A message not acked is delivered again after the consumer's ack wait, to this process
or another sharing the durable: a crash between the work and the ack means the work is
redone, never lost, so the work must be idempotent (Store.add skips known ids).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import nats.errors
from nats.aio.client import Client
from nats.aio.msg import Msg
from pydantic import TypeAdapter, ValidationError

from netvigil.bus.connection import BusUnavailable
from netvigil.bus.figures import CollectorStats
from netvigil.bus.pull import BatchPuller
from netvigil.bus.subjects import (
    MSG_ID_HEADER,
    REASON_HEADER,
    SUBJECT_HEADER,
    dead_letter_subject,
    vantage_of,
)
from netvigil.config.model import BusConfig
from netvigil.model import Measurement, measurement_list_adapter

__all__ = ["Delivery", "MeasurementConsumer", "Rejection", "decode_message"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Delivery:
    """One measurement as the stream delivered it; `msg` is what to ack."""

    measurement: Measurement
    msg: Msg


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message is not a measurement: a stable reason and the detail in words."""

    reason: str
    detail: str


_MEASUREMENT = TypeAdapter(Measurement)
_MAX_SUBJECTS = 100_000
"""Subjects whose vantage a consumer remembers (the cache is emptied when full)."""


def decode_message(subject: str, data: bytes, *, max_payload_bytes: int) -> Measurement | Rejection:
    """The measurement a message on `subject` carries, or why it carries none.

    A good message is parsed and validated in one pass (pydantic's JSON parser, about
    2.5 times as fast as `json.loads` and validating the object); a bad one is looked at
    again the slow way, to tell why.
    """
    return _decoded(subject, vantage_of(subject), data, max_payload_bytes)


def _decoded(
    subject: str, named: str | None, data: bytes, max_payload_bytes: int
) -> Measurement | Rejection:
    """`decode_message`, the vantage `subject` names (`vantage_of`) known already."""
    if len(data) > max_payload_bytes:
        return Rejection("oversized", f"{len(data)} bytes, more than {max_payload_bytes}")
    try:
        m = _MEASUREMENT.validate_json(data)
    except ValidationError:
        return _rejection_of(subject, named, data)
    return _checked_vantage(subject, named, m)


def _rejection_of(subject: str, named: str | None, data: bytes) -> Measurement | Rejection:
    """Why `data` is not a measurement (or the measurement, if it is one after all)."""
    try:
        obj = json.loads(data)
    except (UnicodeDecodeError, ValueError) as exc:
        return Rejection("malformed", f"not JSON: {exc}")
    if not isinstance(obj, dict):
        return Rejection("malformed", f"a JSON {type(obj).__name__}, not an object")
    try:
        m = measurement_list_adapter.validate_python([obj])[0]
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"][1:]) or "measurement"
        return Rejection("invalid", f"{where}: {first['msg']}")
    return _checked_vantage(subject, named, m)


def _checked_vantage(subject: str, named: str | None, m: Measurement) -> Measurement | Rejection:
    if named is None:
        return Rejection("vantage_mismatch", f"subject {subject!r} names no shard and vantage")
    if m.vantage != named:
        return Rejection("vantage_mismatch", f"body says {m.vantage!r}, subject says {named!r}")
    return m


class MeasurementConsumer:
    """Fetches, checks and acks measurements of a durable pull consumer; see the module docs."""

    def __init__(
        self,
        nc: Client,
        puller: BatchPuller,
        *,
        max_payload_bytes: int,
        batch_size: int = 500,
        fetch_wait_s: float = 1.0,
        stats: CollectorStats | None = None,
    ) -> None:
        if batch_size < 1 or fetch_wait_s <= 0:
            raise ValueError("batch_size must be at least 1 and fetch_wait_s positive")
        self.nc = nc
        self.batch_size = batch_size
        self.fetch_wait_s = fetch_wait_s
        self.max_payload_bytes = max_payload_bytes
        self.stats = stats if stats is not None else CollectorStats()
        self._puller = puller
        self._js = nc.jetstream()
        self._vantages: dict[str, str | None] = {}
        """The vantage each subject seen names (`subjects.vantage_of`), by subject."""

    @classmethod
    async def bind(
        cls,
        nc: Client,
        config: BusConfig,
        *,
        durable: str | None = None,
        batch_size: int = 500,
        fetch_wait_s: float = 1.0,
        stats: CollectorStats | None = None,
    ) -> MeasurementConsumer:
        """Bind to the durable consumer (made by `ensure_consumer`) of the measurements
        stream. Raises nats errors (NotFoundError: no such consumer)."""
        name = durable or config.consumer
        stream = config.measurements_stream
        await nc.jetstream().consumer_info(stream, name)  # it must exist
        puller = await BatchPuller.open(nc, stream=stream, durable=name)
        return cls(
            nc,
            puller,
            max_payload_bytes=config.max_payload_bytes,
            batch_size=batch_size,
            fetch_wait_s=fetch_wait_s,
            stats=stats,
        )

    async def fetch(self) -> list[Delivery]:
        """The next batch of good measurements, in stream order ([] if none came in
        `fetch_wait_s`). Bad messages are set aside and acked on the way. Raises
        BusUnavailable when NATS does not answer (nothing is lost: the stream keeps it)."""
        try:
            msgs = await self._puller.fetch(self.batch_size, wait_s=self.fetch_wait_s)
        except (nats.errors.Error, OSError) as exc:
            raise BusUnavailable(f"{type(exc).__name__}: {exc}") from exc
        if not msgs:
            if not self.nc.is_connected:
                raise BusUnavailable("not connected")
            self.stats.pending = 0
            return []
        out: list[Delivery] = []
        vantages = self._vantages
        limit = self.max_payload_bytes
        for msg in msgs:
            subject = msg.subject
            try:
                vantage = vantages[subject]
            except KeyError:
                if len(vantages) >= _MAX_SUBJECTS:
                    vantages.clear()
                vantage = vantages[subject] = vantage_of(subject)
            decoded = _decoded(subject, vantage, msg.data, limit)
            if isinstance(decoded, Rejection):
                await self._set_aside(msg, decoded)
            else:
                out.append(Delivery(decoded, msg))
        self.stats.pending = msgs[-1].metadata.num_pending
        return out

    async def ack(self, batch: Sequence[Delivery]) -> None:
        """Ack every delivery of `batch` and wait until the server has the acks."""
        try:
            for d in batch:
                await d.msg.ack()
            await self.nc.flush(timeout=max(1, int(self.fetch_wait_s * 5)))
        except (nats.errors.Error, OSError, TimeoutError) as exc:
            raise BusUnavailable(f"acking: {type(exc).__name__}: {exc}") from exc
        self.stats.acked += len(batch)

    async def keep_alive(self, batch: Sequence[Delivery]) -> None:
        """Tell the server the batch is still being worked on (resets its ack wait)."""
        for d in batch:
            try:
                await d.msg.in_progress()
            except (nats.errors.Error, OSError):
                return

    async def _set_aside(self, msg: Msg, why: Rejection) -> None:
        sequence = msg.metadata.sequence.stream
        headers = {
            REASON_HEADER: f"{why.reason}: {why.detail}"[:1000],
            SUBJECT_HEADER: msg.subject,
            MSG_ID_HEADER: f"dead-letter-{sequence}",
        }
        try:
            await self._js.publish(dead_letter_subject(why.reason), msg.data, headers=headers)
            await msg.ack()
        except (nats.errors.Error, OSError, TimeoutError) as exc:
            raise BusUnavailable(f"dead letter: {type(exc).__name__}: {exc}") from exc
        self.stats.reject(why.reason)
        log.warning(
            "set aside message %d on %s: %s: %s", sequence, msg.subject, why.reason, why.detail
        )

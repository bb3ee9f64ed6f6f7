"""Reading incident events back off the incidents stream (`netvigil.incidents.<id>`).

    start = await stream_position(js, "NETVIGIL_INCIDENTS") + 1   # before loading the store
    follower = IncidentFollower(js, "NETVIGIL_INCIDENTS", sink, start_seq=start)
    await follower.start()
    ...
    await follower.stop()

`IncidentFollower` reads with an *ordered consumer* of its own: an ephemeral push
consumer the server makes for this one reader, delivering every event from `start_seq`
on, in stream order, with no acks. Several readers (web processes) each see every event.
If a message is missed (a reconnect, a gap in the sequence) the client makes the consumer
again from the last sequence it saw, so nothing is skipped; the server removes the
consumer once the reader is gone.

A message that is not an incident event (not JSON, a field missing) is logged, counted
in `malformed` and skipped: it cannot block the events behind it.
"""

from __future__ import annotations

import json
import logging

import nats.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from netvigil.bus.connection import BusUnavailable
from netvigil.bus.subjects import INCIDENTS_PREFIX
from netvigil.incident import EventKind, Incident, IncidentEvent
from netvigil.pipeline.detection import EventSink

__all__ = ["IncidentFollower", "decode_incident_event", "stream_position"]

log = logging.getLogger(__name__)


def decode_incident_event(data: bytes) -> IncidentEvent:
    """The event a message of the incidents stream carries (`encode_incident_event`'s
    output). Raises ValueError when it is not one."""
    try:
        obj = json.loads(data)
        if not isinstance(obj, dict):
            raise ValueError(f"a JSON {type(obj).__name__}, not an object")
        return IncidentEvent(
            EventKind(obj["kind"]),
            float(obj["ts"]),
            Incident.from_json(obj["incident"]),
            quiet=bool(obj.get("quiet", False)),
        )
    except (KeyError, TypeError, UnicodeDecodeError) as exc:
        raise ValueError(f"not an incident event: {type(exc).__name__}: {exc}") from exc


async def stream_position(js: JetStreamContext, stream: str) -> int:
    """The sequence of the newest message in `stream` (0 when empty or not made yet).
    Raises BusUnavailable when NATS does not answer."""
    try:
        info = await js.stream_info(stream)
    except NotFoundError:
        return 0
    except (nats.errors.Error, OSError, TimeoutError) as exc:
        raise BusUnavailable(f"stream {stream}: {type(exc).__name__}: {exc}") from exc
    return int(info.state.last_seq)


class IncidentFollower:
    """Hands every incident event of `stream` from `start_seq` on to `sink`, in order;
    see the module docs. `received` counts events handed on, `last_seq` is the stream
    sequence of the newest."""

    def __init__(
        self,
        js: JetStreamContext,
        stream: str,
        sink: EventSink,
        *,
        start_seq: int = 1,
        idle_heartbeat_s: float = 2.0,
    ) -> None:
        self.js = js
        self.stream = stream
        self.sink = sink
        self.start_seq = max(1, start_seq)
        self.idle_heartbeat_s = idle_heartbeat_s
        self.received = 0
        self.malformed = 0
        self.last_seq = self.start_seq - 1
        self._sub: Subscription | None = None

    async def start(self) -> None:
        """Make the ordered consumer and start handing events on (from the loop's
        thread). Raises BusUnavailable when NATS does not answer."""
        config = ConsumerConfig(
            deliver_policy=DeliverPolicy.BY_START_SEQUENCE, opt_start_seq=self.start_seq
        )
        try:
            self._sub = await self.js.subscribe(
                INCIDENTS_PREFIX + ">",
                stream=self.stream,
                cb=self._take,
                config=config,
                ordered_consumer=True,
                idle_heartbeat=self.idle_heartbeat_s,
            )
        except (nats.errors.Error, OSError, TimeoutError) as exc:
            raise BusUnavailable(f"following {self.stream}: {type(exc).__name__}: {exc}") from exc

    async def stop(self) -> None:
        """Stop following (the server drops the consumer)."""
        sub, self._sub = self._sub, None
        if sub is not None:
            try:
                await sub.unsubscribe()
            except (nats.errors.Error, OSError, TimeoutError) as exc:
                log.debug("unsubscribing from %s: %s", self.stream, exc)

    async def _take(self, msg: Msg) -> None:
        seq = msg.metadata.sequence.stream
        self.last_seq = seq
        try:
            event = decode_incident_event(msg.data)
        except ValueError as exc:
            self.malformed += 1
            log.warning("skipped message %d on %s: %s", seq, msg.subject, exc)
            return
        self.received += 1
        try:
            self.sink.submit(event)
        except Exception:  # a sink's failure must not stop the feed
            log.exception("incident event %d could not be taken", seq)

"""What the alerters have told about each incident, shared in a JetStream key-value bucket.

    memory = await AlertMemory.open(js, ttl_s=8 * 86_400)
    record, revision = await memory.load(incident_id)
    ...                                     # change the record
    if not await memory.save(incident_id, record, revision):
        ...                                 # another alerter changed it first: load again

Several `netvigil notify` processes share the alerting: each incident event goes to one
of them. What the notify routes remember (`netvigil.notify.route`: the alerts sent per
incident, when the last went, an alert held by the quiet period) must then be the same
in all of them, so it lives here, one key per incident, written with compare-and-set
(`save` fails when someone wrote since the `load`). The record also keeps how each
event was handled, by event id (`incident_event_id`), so a redelivered event is known:
`pending` (alerts to send, perhaps already sent: the alerter died before it could say),
`holding` (held by a quiet period) or `done`.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal

from nats.errors import Error as NATSError
from nats.js import JetStreamContext
from nats.js.api import KeyValueConfig
from nats.js.errors import (
    BadRequestError,
    KeyDeletedError,
    KeyNotFoundError,
    KeyWrongLastSequenceError,
)
from nats.js.kv import KeyValue

from netvigil.bus.buckets import key_value_bucket
from netvigil.cluster.membership import ClusterError

__all__ = [
    "ALERTS_BUCKET",
    "AlertMemory",
    "Handling",
    "HandlingState",
    "IncidentAlerts",
    "RouteRecord",
]

ALERTS_BUCKET = "netvigil_alerts"
HANDLED_LIMIT = 512
"""Event ids remembered per incident (the oldest are forgotten first)."""

HandlingState = Literal["pending", "holding", "done"]


@dataclass(slots=True)
class RouteRecord:
    """One route's memory of one incident (the fields of the route's own memory)."""

    sent: list[tuple[str, str]] = field(default_factory=list)
    """(event kind, cause) pairs already sent."""
    last_at: float | None = None
    """When the last alert went (wall clock, epoch s)."""
    cause: str | None = None
    held: dict[str, Any] | None = None
    """An event held back by the quiet period (its JSON object), and `due` to go."""
    due: float = 0.0
    held_by: str | None = None
    """The id of the event whose message holds `held` (the alerter that will release it)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "sent": [list(p) for p in self.sent],
            "last_at": self.last_at,
            "cause": self.cause,
            "held": self.held,
            "due": self.due,
            "held_by": self.held_by,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RouteRecord:
        return cls(
            sent=[(str(k), str(c)) for k, c in data.get("sent", [])],
            last_at=data.get("last_at"),
            cause=data.get("cause"),
            held=data.get("held"),
            due=float(data.get("due", 0.0)),
            held_by=data.get("held_by"),
        )


@dataclass(slots=True)
class Handling:
    """How one event was handled: its state, and the kind to send it as, per route."""

    state: HandlingState
    kinds: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"state": self.state, "kinds": dict(self.kinds)}


@dataclass(slots=True)
class IncidentAlerts:
    """The shared record of one incident: each route's memory, and the events handled."""

    routes: dict[str, RouteRecord] = field(default_factory=dict)
    handled: dict[str, Handling] = field(default_factory=dict)
    admitted_seq: int = 0
    """The stream sequence of the newest event judged (events are judged in order)."""

    def mark(self, event_id: str, handling: Handling) -> None:
        """Note how `event_id` is handled (forgetting the oldest beyond `HANDLED_LIMIT`)."""
        self.handled.pop(event_id, None)
        self.handled[event_id] = handling
        while len(self.handled) > HANDLED_LIMIT:
            del self.handled[next(iter(self.handled))]

    def to_bytes(self) -> bytes:
        return json.dumps(
            {
                "routes": {name: r.to_json() for name, r in self.routes.items()},
                "handled": {eid: h.to_json() for eid, h in self.handled.items()},
                "admitted_seq": self.admitted_seq,
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> IncidentAlerts:
        obj = json.loads(data)
        handled: dict[str, Handling] = {}
        for eid, h in obj.get("handled", {}).items():
            state = h.get("state")
            if state in ("pending", "holding", "done"):
                handled[eid] = Handling(state, {str(k): str(v) for k, v in h["kinds"].items()})
        return cls(
            routes={n: RouteRecord.from_json(r) for n, r in obj.get("routes", {}).items()},
            handled=handled,
            admitted_seq=int(obj.get("admitted_seq", 0)),
        )


def incident_key(incident_id: str) -> str:
    """The bucket key of an incident (a hash: ids may hold characters keys may not)."""
    return "incident." + hashlib.blake2b(incident_id.encode(), digest_size=16).hexdigest()


class AlertMemory:
    """The shared records, one per incident; see the module docs."""

    def __init__(self, kv: KeyValue) -> None:
        self.kv = kv
        self.conflicts = 0
        """Saves refused because another alerter wrote first."""

    @classmethod
    async def open(
        cls, js: JetStreamContext, *, ttl_s: float, bucket: str = ALERTS_BUCKET
    ) -> AlertMemory:
        """The bucket (made with records kept `ttl_s` after their last change, if it does
        not exist). Raises ClusterError when the server refuses."""
        try:
            kv = await key_value_bucket(js, KeyValueConfig(bucket=bucket, history=1, ttl=ttl_s))
        except (NATSError, OSError, TimeoutError) as exc:
            raise ClusterError(f"alerts bucket {bucket}: {exc}") from exc
        return cls(kv)

    async def load(self, incident_id: str) -> tuple[IncidentAlerts, int]:
        """The record of `incident_id` and its revision (a fresh record and 0 when none).
        Raises nats errors."""
        try:
            entry = await self.kv.get(incident_key(incident_id))
        except (KeyNotFoundError, KeyDeletedError):
            return IncidentAlerts(), 0
        if entry.value is None or entry.revision is None:
            return IncidentAlerts(), 0
        return IncidentAlerts.from_bytes(entry.value), entry.revision

    async def save(self, incident_id: str, record: IncidentAlerts, revision: int) -> bool:
        """Write `record` if nobody wrote since `revision` was read (0: if none exists).
        False when someone did. Raises nats errors."""
        key = incident_key(incident_id)
        try:
            if revision == 0:
                await self.kv.create(key, record.to_bytes())
            else:
                await self.kv.update(key, record.to_bytes(), last=revision)
        except KeyWrongLastSequenceError:
            self.conflicts += 1
            return False
        except BadRequestError as exc:  # create of a key that exists: another alerter's
            if "wrong last sequence" not in str(exc).lower():
                raise
            self.conflicts += 1
            return False
        return True

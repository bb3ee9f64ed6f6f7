"""The store seams: where measurements, rollups and incidents live (`Store`), and the
admin API's tables beside them (`AdminStore`: admin tokens, agents, mutes, notes).

SQLiteStore is the one implementation and implements both; another backend would implement
the same protocols. A store that wraps another (as `TeeStore` does) needs only `Store`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol, runtime_checkable

from netvigil.incident import Incident, IncidentEvent, IncidentState
from netvigil.maintenance import Mute
from netvigil.model import Measurement

__all__ = [
    "AdminStore",
    "AgentRecord",
    "IncidentNote",
    "IncidentQuery",
    "MeasurementQuery",
    "NoteKind",
    "Rollup",
    "RollupQuery",
    "Store",
    "TokenRecord",
]


@dataclass(frozen=True, slots=True)
class MeasurementQuery:
    """Which raw measurements to read: all filters optional, newest last, at most `limit`."""

    since: float | None = None
    until: float | None = None
    targets: Sequence[str] | None = None
    vantages: Sequence[str] | None = None
    limit: int = 10_000
    after_id: str | None = None
    """Keyset paging: only measurements whose id sorts after this one."""


@dataclass(frozen=True, slots=True)
class RollupQuery:
    """Which per-minute rollups to read, and in buckets of how many seconds.

    With `step` over 60 the minutes of each (target, vantage) are summed into buckets
    of `step` seconds aligned to the epoch (`bucket_rollups` says how); a bucket's
    `minute` is its start. `limit` then counts buckets.
    """

    since: float | None = None
    until: float | None = None
    targets: Sequence[str] | None = None
    vantages: Sequence[str] | None = None
    limit: int = 100_000
    step: int = 60

    def __post_init__(self) -> None:
        if self.step < 60 or self.step % 60:
            raise ValueError(f"step must be a whole number of minutes, in seconds: {self.step}")


@dataclass(frozen=True, slots=True)
class IncidentQuery:
    """Which incidents to read: all filters optional, newest (by start) first, at most `limit`.

    `since`/`until` keep the incidents whose span [start, end) overlaps [since, until)
    (an open incident reaches to now). `open_only` keeps the unresolved ones. Withdrawn
    incidents (resolved without ever being confirmed: noise) are left out unless
    `include_withdrawn`.
    """

    state: IncidentState | None = None
    open_only: bool = False
    since: float | None = None
    until: float | None = None
    service: str | None = None
    include_withdrawn: bool = False
    limit: int = 1_000

    def matches(self, incident: Incident) -> bool:
        """Whether `incident` passes this query's filters (`limit` and order aside)."""
        i = incident
        resolved = i.state is IncidentState.RESOLVED
        return (
            (self.state is None or i.state is self.state)
            and not (self.open_only and resolved)
            and (self.since is None or i.end is None or i.end >= self.since)
            and (self.until is None or i.start < self.until)
            and (self.service is None or self.service in i.services)
            and (self.include_withdrawn or not (resolved and i.confirmed_at is None))
        )


@dataclass(slots=True)
class Rollup:
    """One minute of one target from one vantage.

    `minute` is the start of the minute, in epoch seconds. Latency quantiles are over
    the `total` timing of successful measurements (None when there were none).
    """

    minute: int
    target: str
    vantage: str
    count: int
    ok_count: int
    latency_p50_s: float | None
    latency_p95_s: float | None
    outcomes: dict[str, int] = field(default_factory=dict)

    @property
    def success_ratio(self) -> float:
        return self.ok_count / self.count if self.count else 0.0


class Store(Protocol):
    """Persistent measurements, their per-minute rollups, and incidents with their events."""

    async def add(self, batch: Sequence[Measurement]) -> int:
        """Store a batch; ids already stored are skipped. Returns how many were new."""
        ...

    async def measurements(self, query: MeasurementQuery) -> list[Measurement]:
        """Raw measurements matching `query`, oldest first."""
        ...

    async def rollups(self, query: RollupQuery) -> list[Rollup]:
        """Per-minute rollups matching `query`, oldest first."""
        ...

    async def latest(self) -> list[Measurement]:
        """The newest measurement of every (target, vantage) pair."""
        ...

    async def prune(self, older_than: float) -> int:
        """Delete raw measurements older than `older_than` (epoch s), and the network
        signals older than it where the store keeps them; rollups stay. Returns how many
        measurements went."""
        ...

    def submit(self, m: Measurement) -> None:
        """Queue one measurement for writing without blocking (the monitor's hot path).

        Raises StoreError when the store is closed. Use `flush()` to wait for durability.
        """
        ...

    async def flush(self) -> None:
        """Wait until everything submitted or added before this call is stored."""
        ...

    async def save_incident(self, incident: Incident) -> None:
        """Store `incident` (replacing the stored one with the same id); returns once durable."""
        ...

    async def add_incident_event(self, event: IncidentEvent) -> None:
        """Append `event` to its incident's event log; returns once durable."""
        ...

    def submit_incident_event(self, event: IncidentEvent) -> None:
        """Queue `event` without blocking: its incident snapshot is saved and the event
        appended, in order with submitted measurements (live detection's path).

        Raises StoreError when the store is closed. Use `flush()` to wait for durability.
        """
        ...

    async def incidents(self, query: IncidentQuery) -> list[Incident]:
        """Incidents matching `query`, newest first."""
        ...

    async def incident(self, incident_id: str) -> Incident | None:
        """The incident with this id, or None."""
        ...

    async def incident_events(self, incident_id: str) -> list[IncidentEvent]:
        """The event log of one incident, oldest first (empty for an unknown id)."""
        ...

    async def close(self) -> None:
        """Flush pending writes and close."""
        ...


NoteKind = Literal["ack", "note"]
"""An acknowledgement of an incident, or an annotation."""


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """An admin token as stored: its name and times, never the token."""

    name: str
    created: float
    last_used: float | None


@dataclass(frozen=True, slots=True)
class AgentRecord:
    """A remote vantage added through the admin API, with the sha256 of its token."""

    name: str
    token_sha256: str
    country: str | None
    in_country: bool
    created: float


@dataclass(frozen=True, slots=True)
class IncidentNote:
    """An acknowledgement or annotation of an incident."""

    seq: int
    incident: str
    kind: NoteKind
    ts: float
    author: str
    text: str


@runtime_checkable
class AdminStore(Protocol):
    """What the admin API keeps: admin tokens, agents, maintenance mutes, incident notes.

    Tokens are never stored, only their sha256 hex digests. Every method raises
    StoreError when the store cannot be read or written, or is closed; times
    (`created`, `last_used`, a note's `ts`) are the store's clock.
    """

    async def admin_tokens(self) -> list[TokenRecord]:
        """Every admin token, by name."""
        ...

    async def add_admin_token(self, name: str, token_sha256: str) -> TokenRecord:
        """Store a new admin token. Raises ValueError when the name or token is taken."""
        ...

    async def revoke_admin_token(self, name: str) -> bool:
        """Delete the admin token `name`; whether there was one."""
        ...

    async def use_admin_token(self, token_sha256: str) -> str | None:
        """The name of the admin token with this digest (recording its use), or None."""
        ...

    async def agents(self) -> list[AgentRecord]:
        """Every agent added through the admin API, by name."""
        ...

    async def add_agent(
        self, name: str, token_sha256: str, *, country: str | None, in_country: bool
    ) -> AgentRecord:
        """Store a new agent. Raises ValueError when the name or token is taken."""
        ...

    async def revoke_agent(self, name: str) -> bool:
        """Delete the agent `name`; whether there was one."""
        ...

    async def mutes(self) -> list[Mute]:
        """Every stored mute (expired ones too), by target."""
        ...

    async def set_mute(self, target: str, until: float, note: str) -> Mute:
        """Mute `target` until `until` (epoch s), replacing its mute; the stored mute."""
        ...

    async def lift_mute(self, target: str) -> bool:
        """Delete the mute on `target`; whether there was one."""
        ...

    async def notes(self, incident_id: str) -> list[IncidentNote]:
        """The acknowledgements and annotations of an incident, oldest first."""
        ...

    async def add_note(
        self, incident_id: str, kind: NoteKind, author: str, text: str
    ) -> IncidentNote:
        """Append an acknowledgement or annotation to an incident; the stored note."""
        ...

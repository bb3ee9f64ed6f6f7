"""What a store writer's queue holds (the SQLite writer thread's and the PostgreSQL writer
task's), and how it reports back to the event loop.

    Measurement     a submitted one (the hot path): nobody waits on it
    Batch           measurements from `add()` (or none, from `flush()`)
    IncidentWrite   an incident snapshot and/or an event of its log
    AdminWrite      a change to the admin tables (tokens, agents, mutes, notes)
    Prune           delete raw rows older than a time
    Stop            write what came before, then end

Each item with a `future` has it completed by the writer (`resolve`).
`WriteQueue` holds them: what callers put, and what waits to be written again.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from netvigil.errors import StoreError
from netvigil.incident import Incident, IncidentEvent
from netvigil.model import Measurement

__all__ = [
    "AdminWrite",
    "Batch",
    "IncidentWrite",
    "Item",
    "Prune",
    "Stop",
    "WriteQueue",
    "resolve",
]

T = TypeVar("T")


@dataclass(slots=True)
class Batch:
    """Measurements whose writer reports back: `add()` and `flush()` (empty)."""

    items: Sequence[Measurement]
    future: asyncio.Future[int]


@dataclass(slots=True)
class Prune:
    """Delete raw rows older than `older_than`; the future gets how many."""

    older_than: float
    future: asyncio.Future[int]


@dataclass(slots=True)
class IncidentWrite:
    """Save an incident snapshot (`incident`) and/or append an event to the log (`event`).

    Queued by `save_incident`/`add_incident_event` (whose `future` gets 1 once durable)
    and by `submit_incident_event` (no future: a failure is logged and counted). The
    writer thread serializes the objects, so they must not change once queued.
    """

    incident: Incident | None = None
    event: IncidentEvent | None = None
    future: asyncio.Future[int] | None = None


@dataclass(slots=True)
class AdminWrite(Generic[T]):
    """A change to the admin tables: `run` is called in the writer thread inside a
    transaction of its own, and the future gets what it returns (or what it raised;
    an sqlite3.Error becomes StoreError, anything else is passed on as it is).
    """

    run: Callable[[sqlite3.Connection], T]
    future: asyncio.Future[T]


@dataclass(slots=True)
class Stop:
    """Write what came before, then end the writer thread."""


Item = Measurement | Batch | IncidentWrite | AdminWrite[Any] | Prune | Stop


def resolve(future: asyncio.Future[T], value: T | BaseException) -> None:
    """Complete an event-loop future from the writer thread (ignored when the loop is gone)."""

    def done() -> None:
        if future.done():
            return
        if isinstance(value, BaseException):
            future.set_exception(value)
        else:
            future.set_result(value)

    with contextlib.suppress(RuntimeError):  # loop closed
        future.get_loop().call_soon_threadsafe(done)


def _future_of(item: Item) -> asyncio.Future[Any] | None:
    if isinstance(item, Measurement | Stop):
        return None
    return item.future


class WriteQueue:
    """The writer thread's queue: `pending` (what callers put) and `backlog` (what waits
    to be written again after a write failed on the database file).

    `put` is safe from any thread and never blocks; every other method is for the writer
    thread. The backlog only holds items nobody waits on (submitted measurements, submitted
    incident writes, `Stop`): while writes fail, a caller waiting on its item is refused at
    once rather than kept waiting for a disk to be freed. Backlog items are written before
    pending ones, in the order they were put.
    """

    def __init__(self) -> None:
        self.pending: deque[Item] = deque()
        self.backlog: deque[Item] = deque()
        self.stopping = False
        """Whether a `Stop` has moved to the backlog (so retrying ends with stopping)."""

    def __len__(self) -> int:
        return len(self.pending) + len(self.backlog)

    def put(self, item: Item) -> None:
        """Queue `item` for the writer thread (any thread)."""
        self.pending.append(item)

    def take(self, limit: int) -> list[Item]:
        """Up to `limit` items, the backlog's first, in order."""
        items: list[Item] = []
        for source in (self.backlog, self.pending):
            while source and len(items) < limit:
                items.append(source.popleft())
        return items

    def park(self, items: Sequence[Item], refusal: StoreError) -> None:
        """Return `items` (not written) to the front of the backlog, in order; the ones a
        caller waits on are refused with `refusal` instead."""
        self.backlog.extendleft(reversed(self._keep(items, refusal)))

    def hold(self, refusal: StoreError) -> None:
        """Move everything pending to the end of the backlog (see `park`)."""
        arrived: list[Item] = []
        while self.pending:
            arrived.append(self.pending.popleft())
        self.backlog.extend(self._keep(arrived, refusal))

    def _keep(self, items: Sequence[Item], refusal: StoreError) -> list[Item]:
        kept: list[Item] = []
        for item in items:
            future = _future_of(item)
            if future is None:
                kept.append(item)
                self.stopping = self.stopping or isinstance(item, Stop)
            else:
                resolve(future, refusal)
        return kept

    def trim(self, bound: int) -> tuple[int, int]:
        """Drop the oldest backlog items beyond `bound`; (measurements, incident writes) dropped."""
        measurements = incidents = 0
        while len(self.backlog) - self.stopping > bound:  # Stop is not counted
            item = self.backlog.popleft()
            if isinstance(item, Stop):
                self.backlog.appendleft(item)
                break
            if isinstance(item, Measurement):
                measurements += 1
            else:
                incidents += 1
        return measurements, incidents

    def unwritten(self) -> tuple[int, int]:
        """How many measurements and incident writes are queued (any thread: a snapshot)."""
        measurements = incidents = 0
        for item in list(self.backlog) + list(self.pending):
            if isinstance(item, Measurement):
                measurements += 1
            elif isinstance(item, Batch):
                measurements += len(item.items)
            elif isinstance(item, IncidentWrite):
                incidents += 1
        return measurements, incidents

    def fail_all(self, error: StoreError) -> None:
        """Refuse every queued item a caller waits on (the writer has stopped)."""
        for source in (self.backlog, self.pending):
            while source:
                future = _future_of(source.popleft())
                if future is not None:
                    resolve(future, error)

"""What the SQLite writer thread's queue holds, and how it reports back to the event loop.

    Measurement     a submitted one (the hot path): nobody waits on it
    Batch           measurements from `add()` (or none, from `flush()`)
    IncidentWrite   an incident snapshot and/or an event of its log
    AdminWrite      a change to the admin tables (tokens, agents, mutes, notes)
    Prune           delete raw rows older than a time
    Stop            write what came before, then end

Each item with a `future` has it completed from the writer thread (`resolve`).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from netvigil.incident import Incident, IncidentEvent
from netvigil.model import Measurement

__all__ = ["AdminWrite", "Batch", "IncidentWrite", "Item", "Prune", "Stop", "resolve"]

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

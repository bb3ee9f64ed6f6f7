"""What the SQLite and PostgreSQL writers share: queue order, outages, drop accounting.

Both writers take a drained run of queue items (`netvigil.store.writes`) and write it in
order. `write_steps` cuts such a run into the steps a writer performs one after the
other: consecutive measurements (submitted ones and `add()` batches, as `Segment`s) go
in one `MeasurementRun`, consecutive incident snapshots and events in one `IncidentRun`,
and anything else (a prune, a stop, an admin change) is a step of its own; so incident
events stay in order with the measurements around them. Each step comes with the index
of the first item not yet written when it runs, which is where an `Outage` met in that
step leaves the rest of the run.

`QueuedWriter` is the bookkeeping both writers keep the same way: the queue and what is
in hand, what was dropped, what an outage returns to the queue, and the log lines of a
writer giving up. The writing itself (a thread on SQLite, a task on PostgreSQL) stays
in each writer.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from netvigil.errors import StoreError
from netvigil.model import Measurement
from netvigil.store.write_failures import WriteFailures
from netvigil.store.writer_settings import WriterSettings
from netvigil.store.writes import (
    AdminWrite,
    Batch,
    IncidentWrite,
    Item,
    Prune,
    Stop,
    WriteQueue,
    resolve,
)

__all__ = [
    "Control",
    "IncidentRun",
    "MeasurementRun",
    "Outage",
    "QueuedWriter",
    "Segment",
    "items_of",
    "resolve_counts",
    "resolve_written",
    "units_of",
    "write_steps",
]


Control = AdminWrite[Any] | Prune | Stop
"""A queue item that is a step of its own: neither a measurement nor an incident write."""


@dataclass(slots=True)
class Segment:
    """Consecutive queued measurements written together; `owner` gets the count of new ones."""

    items: list[Measurement] = field(default_factory=list)
    owner: Batch | None = None


@dataclass(slots=True)
class MeasurementRun:
    """Consecutive measurement segments of a drained run: one transaction."""

    segments: list[Segment]


@dataclass(slots=True)
class IncidentRun:
    """Consecutive incident writes of a drained run: one transaction."""

    notes: list[IncidentWrite]


class Outage(Exception):
    """A write failed on the storage (the database file, the server or the link);
    `unwritten` are the queue items it left."""

    def __init__(self, cause: Exception, what: str, unwritten: list[Item]) -> None:
        super().__init__(str(cause))
        self.cause = cause
        self.what = what
        self.unwritten = unwritten


def items_of(segments: Sequence[Segment]) -> list[Item]:
    """The queue items `segments` were made of, in order."""
    items: list[Item] = []
    for seg in segments:
        if seg.owner is not None:
            items.append(seg.owner)
        else:
            items.extend(seg.items)
    return items


def units_of(segments: Sequence[Segment]) -> list[Segment]:
    """`segments` cut into what is written alone when their transaction failed: each
    batch whole, each submitted measurement by itself."""
    return [
        part
        for seg in segments
        for part in ([seg] if seg.owner is not None else [Segment([m]) for m in seg.items])
    ]


def write_steps(
    items: Sequence[Item],
) -> Iterator[tuple[int, MeasurementRun | IncidentRun | Control]]:
    """The steps writing `items` in order takes, each with the index of the first item
    it leaves unwritten should it fail (see the module docstring). Lazy: a step is cut
    when the item after it is reached, as the writer gets to it."""
    segments: list[Segment] = []
    notes: list[IncidentWrite] = []
    for at, item in enumerate(items):
        if isinstance(item, IncidentWrite):
            if segments:
                yield at, MeasurementRun(segments)
                segments = []
            notes.append(item)
            continue
        if notes:
            yield at, IncidentRun(notes)
            notes = []
        if isinstance(item, Measurement):
            if not segments or segments[-1].owner is not None:
                segments.append(Segment())
            segments[-1].items.append(item)
        elif isinstance(item, Batch):
            segments.append(Segment(list(item.items), item))
        else:
            if segments:
                yield at, MeasurementRun(segments)
                segments = []
            yield at, item
    if segments:
        yield len(items), MeasurementRun(segments)
    if notes:
        yield len(items), IncidentRun(notes)


class QueuedWriter:
    """The queue of a writer and the bookkeeping both writers keep the same way.

    `name` names the store in messages (a path, or a DSN without its password). A
    subclass says how a failed try is counted (`_note_failure`) and when the next one is
    due (`_retry_at`).
    """

    def __init__(
        self, name: str, settings: WriterSettings, failures: WriteFailures, log: logging.Logger
    ) -> None:
        self._name = name
        self.settings = settings
        self.failures = failures
        self._log = log
        self.dropped = 0
        """Submitted measurements lost: they could not be written, or the queue was full
        while writes failed (logged)."""
        self.incidents_dropped = 0
        """Submitted incident events lost the same ways (logged)."""
        self.failed: BaseException | None = None
        self.queue = WriteQueue()
        self._retry_at = -math.inf
        self._in_hand = 0
        """Measurements taken off the queue and not yet written or returned to it."""

    @property
    def waiting(self) -> int:
        """Items queued or in a write under way."""
        return len(self.queue) + self._in_hand

    def unwritten(self) -> int:
        """About how many submitted measurements are not written yet."""
        return self.queue.unwritten()[0] + self._in_hand

    def _note_failure(self, what: str, exc: Exception) -> None:
        """Count a write of `what` that failed on the storage; set when to try again."""
        raise NotImplementedError

    def _refusal(self) -> StoreError:
        return StoreError(f"{self._name}: cannot write now: {self.failures.cause}")

    def _trim(self) -> None:
        """Drop the oldest queued items beyond `max_backlog` (counted; logged once)."""
        measurements, incidents = self.queue.trim(self.settings.max_backlog)
        if measurements or incidents:
            self.dropped += measurements
            self.incidents_dropped += incidents
            self.failures.queue_full(self.settings.max_backlog)

    def _hold_for_retry(self, monotonic: Callable[[], float]) -> bool:
        """During an outage: refuse whoever waits on a write, keep what nobody waits on
        within `max_backlog`; whether it is time to try again (or a stop is queued)."""
        self.queue.hold(self._refusal())
        self._trim()
        return self.queue.stopping or monotonic() >= self._retry_at

    def _left_by(self, outage: Outage) -> bool:
        """Return what `outage` left to the queue (`WriteQueue.park`) and count the
        failure; True when the writer is to end (a `Stop` is queued: it gives up)."""
        self.queue.park(outage.unwritten, self._refusal())
        self._note_failure(outage.what, outage.cause)
        self._in_hand = 0
        self._trim()
        if self.queue.stopping:
            self._give_up()
            return True
        return False

    def _give_up(self) -> None:
        """Log, in one line, what a stopping writer leaves unwritten."""
        measurements, incidents = self.queue.unwritten()
        self._log.error(
            "%s: stopping with %d measurements and %d incident events not written: %s",
            self._name,
            measurements,
            incidents,
            self.failures.cause,
        )

    def _incident_failed(self, note: IncidentWrite, exc: Exception) -> None:
        """An incident write failed alone (not on the storage): its caller is told, or
        a submitted event is counted and logged."""
        error = StoreError(f"{self._name}: could not write an incident: {exc}")
        if note.future is None:
            self.incidents_dropped += 1
            self._log.error("%s", error)
        else:
            resolve(note.future, error)

    def _measurements_failed(self, unit: Segment, exc: Exception) -> StoreError:
        """A segment failed alone (not on the storage): its batch is refused, or its
        submitted measurements are counted as dropped; the error."""
        error = StoreError(f"{self._name}: could not write {len(unit.items)} measurements: {exc}")
        if unit.owner is None:
            self.dropped += len(unit.items)
        else:
            resolve(unit.owner.future, error)
        return error

    def _log_dropped(self, dropped_before: int, first: StoreError | None) -> None:
        """One line for the submitted measurements dropped since `dropped_before`."""
        if self.dropped > dropped_before:
            self._log.error(
                "%s: dropped %d submitted measurements; first error: %s",
                self._name,
                self.dropped - dropped_before,
                first,
            )


def resolve_written(notes: Sequence[IncidentWrite]) -> None:
    """Tell whoever waits on `notes` that they are written."""
    for note in notes:
        if note.future is not None:
            resolve(note.future, 1)


def resolve_counts(segments: Sequence[Segment], counts: Sequence[int]) -> None:
    """Tell each batch among `segments` its count of new rows."""
    for seg, count in zip(segments, counts, strict=True):
        if seg.owner is not None:
            resolve(seg.owner.future, count)

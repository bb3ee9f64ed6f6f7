"""The exact watermark of the vantage whose probes run in this process.

A measurement is stamped with its probe's start. When the scheduler runs in the same
process as detection, it knows the oldest start still in flight (`Scheduler.watermark`):
no result still to come is stamped before it. So this vantage's measurements need not
wait `lateness_s` in the reorder buffer, only for the probes that are really in flight.

The mark must travel in order with the measurements (detection may run on a thread of
its own, behind a queue): `note(m)` is called as each of the vantage's measurements is
handed to detection, and records the scheduler's mark at that moment; `pushed(m)`, as
`m` enters the reorder buffer, returns that mark. By then every measurement of this
vantage stamped before the mark has entered the buffer: its probe had ended and its
result had been handed on (in order) before `m`'s. `idle()` is the mark now, when every
noted measurement has entered the buffer (between results).

A result's own mark is at most its own start (its run counts as in flight until it has
been handed on), so it goes with the vantage's next result, or at detection's next tick
(`idle`), whichever comes first.

A measurement the queue dropped is simply never pushed; the next one pushed takes its
place in the order, so the marks keep flowing.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from netvigil.model import Measurement

__all__ = ["MAX_NOTED", "LocalWatermark"]

MAX_NOTED = 1_000_000
"""The most measurements noted and not yet pushed (beyond, the oldest notes are forgotten:
their measurements then release nothing early, which is safe)."""


class LocalWatermark:
    """The exact watermark of `vantage`, whose scheduler's mark `in_flight()` returns.

    `note` runs where measurements are handed to detection (the event loop), `pushed`
    and `idle` where the reorder buffer runs (maybe another thread); a lock keeps them
    consistent.
    """

    def __init__(
        self, vantage: str, in_flight: Callable[[], float], *, max_noted: int = MAX_NOTED
    ) -> None:
        self.vantage = vantage
        self._in_flight = in_flight
        self._max_noted = max_noted
        self._noted: deque[tuple[str, float]] = deque()
        self._ids: set[str] = set()
        self._lock = threading.Lock()

    def __len__(self) -> int:
        """Measurements noted and not yet pushed."""
        return len(self._noted)

    def note(self, m: Measurement) -> None:
        """`m` (this vantage's) is being handed to detection: record the mark as of now."""
        with self._lock:
            self._noted.append((m.id, self._in_flight()))
            self._ids.add(m.id)
            if len(self._noted) > self._max_noted:
                self._ids.discard(self._noted.popleft()[0])

    def pushed(self, m: Measurement) -> float | None:
        """`m` enters the reorder buffer: the mark recorded when it was noted (None when it
        was not), and the notes before it are done with."""
        with self._lock:
            if m.id not in self._ids:
                return None
            noted = self._noted
            while True:
                mid, mark = noted.popleft()
                self._ids.discard(mid)
                if mid == m.id:
                    return mark

    def idle(self) -> float | None:
        """The mark as of now, when every noted measurement has entered the buffer; else
        None (some are still on their way, and would fall behind it)."""
        with self._lock:
            if self._noted:
                return None
            return self._in_flight()

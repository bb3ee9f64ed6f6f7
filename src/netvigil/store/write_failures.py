"""Failed writes of one SQLite store, told calmly: one line per problem, counts for repeats.

A full disk (or an I/O error, a read-only file, a lock held too long) fails every write
until someone acts, so logging each failure would bury the one line that matters. The
writer reports each failed and each successful write here, and `WriteFailures` logs:

    ERROR    the first failure of an outage, with its cause and what happens meanwhile
    WARNING  at most one summary per `summary_every_s` while it lasts:
             "N more batches could not be written: database or disk is full (...)"
    WARNING  once per outage, when the retry queue is full and measurements are dropped
    INFO     one line when writes succeed again, with what the outage cost

A store that flips between failing and working (a disk just at its limit) stays as
quiet: an outage starting within `summary_every_s` of the last line is only counted, and
it is reported by the next summary if it lasts.

`is_storage_error` tells a store-wide failure (retrying the same rows later may work)
from a failure of the rows themselves (retrying cannot help).
"""

from __future__ import annotations

import logging
import math
import sqlite3
import time
from collections.abc import Callable

__all__ = ["WriteFailures", "is_storage_error"]

log = logging.getLogger("netvigil.store.sqlite_writer")

_STORAGE_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CORRUPT,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
        sqlite3.SQLITE_NOTADB,
    }
)
"""Primary result codes that mean the database file cannot be written, whatever the rows."""


def is_storage_error(exc: BaseException) -> bool:
    """Whether `exc` failed a write because of the database file (full disk, I/O error,
    read-only, locked), not because of what was written."""
    if not isinstance(exc, sqlite3.Error):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _STORAGE_CODES


class WriteFailures:
    """Counts the failed writes of the store `label` and logs them calmly (module docstring).

    `meanwhile` says, in the first line of an outage, what happens to the data that could
    not be written (e.g. "measurements stay queued and are retried every 2 s").
    `monotonic` is the clock the summary interval is measured with.
    """

    def __init__(
        self,
        label: str,
        *,
        meanwhile: str,
        summary_every_s: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
        logger: logging.Logger = log,
    ) -> None:
        self.label = label
        self.meanwhile = meanwhile
        self.summary_every_s = summary_every_s
        self.total = 0
        """Writes (transactions) that failed on a storage error, ever."""
        self.failing = False
        """Whether the last write failed on a storage error."""
        self.cause = ""
        """The storage error of the last failed write."""
        self._monotonic = monotonic
        self._log = logger
        self._last_line = -math.inf
        self._unreported = 0
        """Failures no line has counted yet."""
        self._reported = False
        """Whether this outage has been logged (so its end will be)."""
        self._started = 0.0
        self._dropped_at_start = 0
        self._told_full = False

    def failed(self, what: str, exc: BaseException, *, queued: int, dropped: int) -> None:
        """Count one write of `what` (e.g. "512 measurements") that failed on `exc`.

        `queued` is how many items wait to be written now, `dropped` how many measurements
        were dropped so far (both only appear in the lines).
        """
        self.total += 1
        self.cause = str(exc)
        now = self._monotonic()
        starting = not self.failing
        if starting:
            self.failing = True
            self._started = now
            self._dropped_at_start = dropped
            self._told_full = False
        due = now - self._last_line >= self.summary_every_s
        if starting and due and not self._unreported:
            self._reported = True
            self._last_line = now
            self._log.error(
                "%s: could not write %s: %s; %s", self.label, what, self.cause, self.meanwhile
            )
            return
        self._unreported += 1
        if due:
            self._summarize(now, queued=queued, dropped=dropped)

    def _summarize(self, now: float, *, queued: int, dropped: int) -> None:
        self._reported = True
        self._last_line = now
        self._log.warning(
            "%s: %d more batches could not be written: %s (%d items queued, %d measurements"
            " dropped so far)",
            self.label,
            self._unreported,
            self.cause,
            queued,
            dropped,
        )
        self._unreported = 0

    def succeeded(self, *, dropped: int) -> None:
        """Note a write that committed; ends an outage (logged when the outage was)."""
        if not self.failing:
            return
        self.failing = False
        if not self._reported:
            return
        now = self._monotonic()
        self._last_line = now
        self._reported = False
        lost = dropped - self._dropped_at_start
        self._log.info(
            "%s: writes succeed again after %.0f s (%d more batches failed since the last"
            " line; %d measurements dropped meanwhile)",
            self.label,
            now - self._started,
            self._unreported,
            lost,
        )
        self._unreported = 0

    def queue_full(self, bound: int) -> None:
        """Tell, once per outage, that the retry queue reached `bound` and drops the oldest."""
        if self._told_full:
            return
        self._told_full = True
        self._log.warning(
            "%s: %d items wait to be written, the most kept: dropping the oldest measurements"
            " until writes succeed again (counted in netvigil_store_dropped_total)",
            self.label,
            bound,
        )

"""Whether a BGP feed is delivering: connected, or down since when and why.

A feed's state is a fact of its own: a network that looks invisible while the feed is
down is not news about the network. `FeedState` keeps it for the API and metrics and
tells a listener each time the feed goes down or comes back (the feed turns that into
`feed_down` / `feed_up` signal events).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["FeedState", "FeedStatus"]


@dataclass(frozen=True, slots=True)
class FeedStatus:
    """One feed's state at one moment.

    `connected` with `since` = when it connected; not connected with `since` = down since
    then (None before the first attempt ends). `last_message_at`: when the feed last
    delivered anything (None: never). `reconnects`: connections after the first.
    `last_error`: why it last went down ("" if it never did).
    """

    name: str
    kind: str
    connected: bool
    since: float | None
    last_message_at: float | None
    reconnects: int
    last_error: str

    def to_json(self) -> dict[str, Any]:
        """The status as the API shows it."""
        return {
            "name": self.name,
            "kind": self.kind,
            "state": "connected" if self.connected else "down",
            "since": self.since,
            "last_message_at": self.last_message_at,
            "reconnects": self.reconnects,
            "last_error": self.last_error,
        }


class FeedState:
    """Tracks one feed's connection; `on_change(status)` runs on each up/down transition.

    The first `down` (a feed that never connected) counts as a transition too, so a feed
    that cannot reach its source is reported down from the start.
    """

    def __init__(
        self,
        name: str,
        kind: str,
        *,
        on_change: Callable[[FeedStatus], None] | None = None,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.name = name
        self.kind = kind
        self.on_change = on_change
        self._now = now
        self._connected = False
        self._since: float | None = None
        self._last_message_at: float | None = None
        self._connections = 0
        self._error = ""
        self._reported = False  # whether a transition was ever reported

    def up(self) -> None:
        """The feed connected (or, for a file feed, started reading)."""
        was_down = self._reported and not self._connected
        self._connected = True
        self._since = self._now()
        self._connections += 1
        if was_down or not self._reported:
            self._notify()

    def down(self, error: str) -> None:
        """The feed lost its source (or never reached it), for the reason `error`."""
        if self._connected or not self._reported:
            self._connected = False
            self._since = self._now()
            self._error = error
            self._notify()
        else:
            self._error = error  # still down: the newest reason, the same since

    def note(self, error: str) -> None:
        """A problem that does not take the feed down (a damaged file in an MRT folder)."""
        self._error = error

    def heard(self) -> None:
        """The feed delivered a message now."""
        self._last_message_at = self._now()

    def status(self) -> FeedStatus:
        """The state now."""
        return FeedStatus(
            name=self.name,
            kind=self.kind,
            connected=self._connected,
            since=self._since,
            last_message_at=self._last_message_at,
            reconnects=max(0, self._connections - 1),
            last_error=self._error,
        )

    def _notify(self) -> None:
        first = not self._reported
        self._reported = True
        if self.on_change is not None and not (first and self._connected):
            self.on_change(self.status())  # a first connection is not news; a first failure is

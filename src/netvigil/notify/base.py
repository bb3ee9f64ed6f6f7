"""The notifier seam: one object that delivers one incident event somewhere.

A notifier only delivers. Which events to send, deduplication, the quiet period,
queueing and isolation from detection are the `AlertDispatcher`'s work.
"""

from __future__ import annotations

from typing import Protocol

from netvigil.incident import IncidentEvent

__all__ = ["Notifier"]


class Notifier(Protocol):
    """Delivers incident events to one destination (a webhook, a mailbox, apprise URLs).

    `send` returns once the destination has accepted the alert, and raises
    `NotifyError` (saying where and why) when it could not be delivered. It may retry
    inside, but must give up within a bounded time.
    """

    name: str
    """A short name for logs and counters, unique within one dispatcher."""

    async def send(self, event: IncidentEvent) -> None: ...

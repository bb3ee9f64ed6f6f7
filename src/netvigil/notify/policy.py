"""What a route sends and what it counts: `AlertPolicy`, `Skip` reasons, `NotifierStats`."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from netvigil.config.model import NotifierConfig
from netvigil.incident import EventKind

__all__ = ["DEFAULT_EVENTS", "AlertPolicy", "NotifierStats", "Skip"]

DEFAULT_EVENTS: frozenset[EventKind] = frozenset(
    {EventKind.CONFIRMED, EventKind.CAUSE_CHANGED, EventKind.RESOLVED, EventKind.CERTIFICATE}
)
"""The events a route sends unless told otherwise."""


class Skip(StrEnum):
    """Why an event did not become an alert (a counter label)."""

    QUIET = "quiet"
    """Under a maintenance window."""
    NOT_WANTED = "not_wanted"
    """The route does not send this kind of event."""
    LOW_CONFIDENCE = "low_confidence"
    """The cause confidence is below `min_confidence`."""
    DUPLICATE = "duplicate"
    """This (incident, kind, cause) was already sent, or says nothing new."""
    UNANNOUNCED = "unannounced"
    """A resolve for an incident the route never announced."""
    SUPERSEDED = "superseded"
    """A held event replaced by a later one for the same incident."""
    STOPPED = "stopped"
    """Submitted after `stop()`."""


@dataclass(frozen=True, slots=True)
class AlertPolicy:
    """Which events one route sends, and how often."""

    events: frozenset[EventKind] = DEFAULT_EVENTS
    min_confidence: float = 0.0
    quiet_period_s: float = 300.0

    @classmethod
    def from_config(cls, section: NotifierConfig) -> AlertPolicy:
        """The policy of a `[[notify]]` section."""
        return cls(
            events=frozenset(EventKind(e) for e in section.events),
            min_confidence=section.min_confidence,
            quiet_period_s=section.quiet_period_s,
        )


@dataclass(slots=True)
class NotifierStats:
    """Counts for one route since the dispatcher was made."""

    submitted: int = 0
    """Events offered to the route."""
    queued: int = 0
    """Alerts put in the queue."""
    held: int = 0
    """Alerts held back by the quiet period (some later go out, some are superseded)."""
    sent: int = 0
    failed: int = 0
    dropped: int = 0
    """Alerts dropped because the queue was full (the oldest go)."""
    abandoned: int = 0
    """Alerts still queued, held or in flight when `stop()` gave up on them."""
    skipped: Counter[str] = field(default_factory=Counter)
    """Events not sent, by `Skip` reason."""
    last_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON object form."""
        return {
            "submitted": self.submitted,
            "queued": self.queued,
            "held": self.held,
            "sent": self.sent,
            "failed": self.failed,
            "dropped": self.dropped,
            "abandoned": self.abandoned,
            "skipped": dict(self.skipped),
            "last_error": self.last_error,
        }

"""What netvigil reported in a lab run: detector incidents with times from the run's start.

reported = detect(measurements, config, started=t0)   # replay through a fresh Detector
reported[0].detected_at                                # seconds after the start
reported[0].shown                                      # the cause each event told, in order
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from netvigil.cause import Evidence
from netvigil.config.model import Config
from netvigil.detect.detector import Detector, DetectorSettings
from netvigil.incident import EventKind, Incident, IncidentEvent
from netvigil.lab.feedreplay import FeedLine, PlaneReplay
from netvigil.model import Measurement

__all__ = [
    "EventLog",
    "Reported",
    "Shown",
    "detect",
    "reported_from_incidents",
    "round_offset",
    "top_evidence",
]


class Shown(NamedTuple):
    """What one of the detector's events told of an incident's cause (offset from the start)."""

    at: float
    cause: str
    confidence: float
    provisional: bool
    """The incident was not confirmed yet (its confidence capped)."""


@dataclass(frozen=True, slots=True)
class Reported:
    """One incident netvigil reported, with times as seconds from the scenario's start."""

    id: str
    cause: str
    confidence: float
    services: list[str]
    vantages: list[str]
    vantage: str | None
    start: float
    end: float | None
    confirmed_at: float | None
    opened_at: float | None
    state: str
    cause_history: list[tuple[float, str, float]]
    """(offset, cause, confidence) in order."""
    evidence: list[str]
    shown: list[Shown] = field(default_factory=list)
    """The cause and confidence each of the incident's events carried, in order."""

    @property
    def detected_at(self) -> float:
        """When netvigil said so: confirmation, else opening, else the first bad probe."""
        for t in (self.confirmed_at, self.opened_at):
            if t is not None:
                return t
        return self.start

    def to_json(self) -> dict[str, Any]:
        """The JSON object form (offsets rounded to milliseconds)."""
        return {
            "id": self.id,
            "cause": self.cause,
            "confidence": round(self.confidence, 4),
            "services": self.services,
            "vantages": self.vantages,
            "vantage": self.vantage,
            "start": round_offset(self.start),
            "end": round_offset(self.end),
            "confirmed_at": round_offset(self.confirmed_at),
            "opened_at": round_offset(self.opened_at),
            "state": self.state,
            "cause_history": [
                {"at": round_offset(t), "cause": c, "confidence": round(p, 4)}
                for t, c, p in self.cause_history
            ],
            "evidence": self.evidence,
            "shown": [
                {
                    "at": round_offset(s.at),
                    "cause": s.cause,
                    "confidence": round(s.confidence, 4),
                    "provisional": s.provisional,
                }
                for s in self.shown
            ],
        }


def round_offset(value: float | None) -> float | None:
    """An offset in seconds rounded to milliseconds (None stays None)."""
    return None if value is None else round(value, 3)


def top_evidence(inc: Incident) -> list[Evidence]:
    """An incident's evidence, what speaks for its cause first (strongest first)."""

    def rank(e: Evidence) -> tuple[int, float]:
        return (0 if e.cause is inc.cause and e.weight > 0 else 1, -abs(e.weight))

    return sorted(inc.evidence, key=rank)


def reported_from_incidents(
    incidents: Iterable[Incident],
    *,
    started: float,
    opened: dict[str, float] | None = None,
    shown: dict[str, list[Shown]] | None = None,
    evidence_lines: int = 5,
    unscored: Collection[str] = (),
) -> list[Reported]:
    """Turn detector incidents into `Reported` with offsets from `started`; `opened` and
    `shown` (by incident id) are when each was opened and what its events told.
    Services in `unscored` (a network's address space, watched by a block target) are
    left out of the services: the ground truth names services, not address space."""
    opened = opened or {}
    shown = shown or {}
    out: list[Reported] = []
    for inc in incidents:
        ranked = top_evidence(inc)
        out.append(
            Reported(
                id=inc.id,
                cause=inc.cause.value,
                confidence=inc.confidence,
                services=sorted(set(inc.services) - set(unscored)),
                vantages=sorted(inc.vantages),
                vantage=inc.vantage,
                start=inc.start - started,
                end=None if inc.end is None else inc.end - started,
                confirmed_at=None if inc.confirmed_at is None else inc.confirmed_at - started,
                opened_at=opened[inc.id] - started if inc.id in opened else None,
                state=inc.state.value,
                cause_history=[
                    (c.ts - started, c.cause.value, c.confidence) for c in inc.cause_history
                ],
                evidence=[e.statement for e in ranked[:evidence_lines]],
                shown=list(shown.get(inc.id, ())),
            )
        )
    return out


class EventLog:
    """An incident event sink keeping when each incident was opened and what each of its
    events told of its cause (offsets from `started`)."""

    def __init__(self, started: float) -> None:
        self.started = started
        self.opened: dict[str, float] = {}
        self.shown: dict[str, list[Shown]] = {}

    def submit(self, event: IncidentEvent) -> None:
        """Note one event."""
        inc = event.incident
        if event.kind is EventKind.OPENED:
            self.opened.setdefault(inc.id, event.ts)
        step = Shown(
            event.ts - self.started, inc.cause.value, inc.confidence, inc.confirmed_at is None
        )
        self.shown.setdefault(inc.id, []).append(step)

    def note(self, events: Iterable[IncidentEvent]) -> None:
        """Note several events, in order."""
        for event in events:
            self.submit(event)

    def reported(
        self, incidents: Iterable[Incident], *, unscored: Collection[str] = ()
    ) -> list[Reported]:
        """`incidents` as `Reported`, with what this log saw of them."""
        return reported_from_incidents(
            incidents,
            started=self.started,
            opened=self.opened,
            shown=self.shown,
            unscored=unscored,
        )


def detect(
    measurements: Iterable[Measurement],
    config: Config,
    *,
    started: float,
    lateness_s: float = 30.0,
    settings: DetectorSettings | None = None,
    feed: Sequence[FeedLine] | None = None,
) -> list[Reported]:
    """Run the live detector over recorded measurements (as `netvigil.replay` does) and
    return its incidents, with when each was opened and what each of its events told.

    With `feed` (a run's recorded route collector feed, possibly empty) the network plane
    is replayed beside them as `netvigil run` has it (`netvigil.lab.feedreplay`): the feed
    and the block rounds reach attribution, and a network whose signals alarm gets its
    own incident; the detector then waits the config's `lateness_s` as `netvigil run`
    does, so it knows of the network plane what `netvigil run` would have known.
    """
    log = EventLog(started)
    unscored = {t.service for t in config.targets if t.kind == "block" and t.service}
    if feed is not None:
        replay = PlaneReplay(
            config, log.submit, lateness_s=config.detection_lateness_s, settings=settings
        )
        replay.play(measurements, feed)
        return log.reported(replay.detection.detector.incidents(), unscored=unscored)
    detector = Detector(config, lateness_s=lateness_s, settings=settings)
    for m in sorted(measurements, key=lambda m: (m.ts, m.id)):
        log.note(detector.feed(m))
    log.note(detector.flush())
    return log.reported(detector.incidents(), unscored=unscored)

"""A signal sink that remembers: the latest sample and the recent events of each entity.

`netvigil run` hands the BGP feed's signals to one, and the API reads it
(`GET /api/v1/networks/{name}/bgp`). It keeps nothing on disk and a bounded number of
events per entity; anything that judges the signals (a detector) is another sink.
"""

from __future__ import annotations

from collections import deque

from netvigil.signal import SignalEvent, SignalSample

__all__ = ["RecentSignals"]


class RecentSignals:
    """The newest sample per (entity, signal) and the last `max_events` events per entity."""

    def __init__(self, max_events: int = 100) -> None:
        self.max_events = max_events
        self._samples: dict[tuple[str, str], SignalSample] = {}
        self._events: dict[str, deque[SignalEvent]] = {}

    def sample(self, sample: SignalSample) -> None:
        """Keep `sample` if it is the newest of its entity and signal."""
        key = (sample.entity, sample.signal)
        kept = self._samples.get(key)
        if kept is None or sample.t >= kept.t:
            self._samples[key] = sample

    def event(self, event: SignalEvent) -> None:
        """Keep `event`, dropping the entity's oldest beyond `max_events`."""
        events = self._events.get(event.entity)
        if events is None:
            events = self._events[event.entity] = deque(maxlen=self.max_events)
        events.append(event)

    def latest(self, entity: str, signal: str) -> SignalSample | None:
        """The newest sample of `signal` for `entity`, if any."""
        return self._samples.get((entity, signal))

    def events(self, entity: str) -> list[SignalEvent]:
        """`entity`'s kept events, newest first."""
        return list(reversed(self._events.get(entity, ())))

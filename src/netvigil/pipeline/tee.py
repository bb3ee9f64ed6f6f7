"""The tee: a store wrapper through which every measurement written also reaches live
sinks (detection, the web state), so remote agents' batches arriving at the ingest API
are detected and shown like the server's own probes.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from netvigil.incident import Incident, IncidentEvent
from netvigil.model import Measurement
from netvigil.pipeline.detection import MeasurementSink
from netvigil.store.base import IncidentQuery, MeasurementQuery, Rollup, RollupQuery, Store

__all__ = ["TeeStore"]

log = logging.getLogger("netvigil.pipeline")


class TeeStore:
    """A Store that also hands every measurement written through it to `sinks`.

    Measurements stored with `add()` (the ingest API's path) or `submit()` go to the
    sinks once the store took them; everything else is the wrapped store's.
    """

    def __init__(self, store: Store, sinks: Sequence[MeasurementSink]) -> None:
        self.store = store
        self.sinks = list(sinks)

    def _tee(self, measurements: Iterable[Measurement]) -> None:
        for m in measurements:
            for sink in self.sinks:
                try:
                    sink.submit(m)
                except Exception:
                    log.exception("measurement sink %r failed", sink)

    async def add(self, batch: Sequence[Measurement]) -> int:
        """Store a batch (see `Store.add`), then hand it to the sinks."""
        new = await self.store.add(batch)
        self._tee(batch)
        return new

    def submit(self, m: Measurement) -> None:
        """Queue one measurement (see `Store.submit`), then hand it to the sinks."""
        self.store.submit(m)
        self._tee((m,))

    async def measurements(self, query: MeasurementQuery) -> list[Measurement]:
        """See `Store.measurements`."""
        return await self.store.measurements(query)

    async def rollups(self, query: RollupQuery) -> list[Rollup]:
        """See `Store.rollups`."""
        return await self.store.rollups(query)

    async def latest(self) -> list[Measurement]:
        """See `Store.latest`."""
        return await self.store.latest()

    async def prune(self, older_than: float) -> int:
        """See `Store.prune`."""
        return await self.store.prune(older_than)

    async def flush(self) -> None:
        """See `Store.flush`."""
        await self.store.flush()

    async def save_incident(self, incident: Incident) -> None:
        """See `Store.save_incident`."""
        await self.store.save_incident(incident)

    async def add_incident_event(self, event: IncidentEvent) -> None:
        """See `Store.add_incident_event`."""
        await self.store.add_incident_event(event)

    def submit_incident_event(self, event: IncidentEvent) -> None:
        """See `Store.submit_incident_event`."""
        self.store.submit_incident_event(event)

    async def incidents(self, query: IncidentQuery) -> list[Incident]:
        """See `Store.incidents`."""
        return await self.store.incidents(query)

    async def incident(self, incident_id: str) -> Incident | None:
        """See `Store.incident`."""
        return await self.store.incident(incident_id)

    async def incident_events(self, incident_id: str) -> list[IncidentEvent]:
        """See `Store.incident_events`."""
        return await self.store.incident_events(incident_id)

    async def close(self) -> None:
        """See `Store.close`."""
        await self.store.close()


if TYPE_CHECKING:

    def _is_a_store(store: TeeStore) -> Store:
        return store

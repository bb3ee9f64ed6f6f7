"""The live state's pull from a store: readers never queue behind a pull under way."""

from __future__ import annotations

import asyncio

from apidata import NOW, make_config, measurement

from netvigil.incident import Incident
from netvigil.model import Measurement
from netvigil.store.base import IncidentQuery, MeasurementQuery
from netvigil.web.state import LiveState


class SlowStore:
    """A store whose `measurements()` waits for `release` (after the first call)."""

    def __init__(self) -> None:
        self.release = asyncio.Event()
        self.calls = 0

    async def measurements(self, query: MeasurementQuery) -> list[Measurement]:
        self.calls += 1
        if self.calls > 1:
            await self.release.wait()
        return [measurement("tax-tcp", "tirana", NOW - 10 * self.calls, ok=True)]

    async def incidents(self, query: IncidentQuery) -> list[Incident]:
        return []

    async def incident(self, incident_id: str) -> Incident | None:
        return None


async def test_a_pull_under_way_does_not_hold_up_readers() -> None:
    clock = [NOW]
    state = LiveState(make_config(), now=lambda: clock[0])
    store = SlowStore()
    await state.sync(store)  # type: ignore[arg-type]  # the first pull: waited for
    assert state.target("tax-tcp").status == "up"
    clock[0] += 5
    pulling = asyncio.create_task(state.sync(store, every_s=2))  # type: ignore[arg-type]
    await asyncio.sleep(0)
    assert store.calls == 2  # the second pull waits in the store
    await asyncio.wait_for(state.sync(store, every_s=2), 1)  # type: ignore[arg-type]
    assert not pulling.done()
    store.release.set()
    await asyncio.wait_for(pulling, 1)
    assert store.calls == 2

"""Catching the current state up from a store: for a process that does not take the
measurements live (a web process serving someone else's store, `netvigil status`).

The measurements stored since `since` are fed in time order through the same rules live
detection applies (`CurrentState.observe`), so what such a reader shows is what the
detector judged.
"""

from __future__ import annotations

from netvigil.state.current import CurrentState
from netvigil.store.base import MeasurementQuery, Store

__all__ = ["PULL_LIMIT", "catch_up", "horizon"]

PULL_LIMIT = 200_000
"""At most this many measurements are pulled from the store at once."""


def horizon(current: CurrentState) -> float:
    """How far back results can still count: the longest staleness of any target."""
    targets = [t.name for t in current.config.targets] or current.paths.targets()
    return max((current.stale_after(t) for t in targets), default=300.0)


async def catch_up(current: CurrentState, store: Store, since: float) -> float:
    """Feed `current` the measurements stored since `since` that it has not seen; return
    the newest timestamp fed (`since` when there was none).

    Raises StoreError when the store cannot be read.
    """
    found = await store.measurements(MeasurementQuery(since=since, limit=PULL_LIMIT))
    newest = since
    for m in sorted(found, key=lambda m: (m.ts, m.id)):
        if current.observe_newer(m):
            newest = max(newest, m.ts)
    return newest

"""Open incidents listed from the live state match what the store lists for the same query."""

from __future__ import annotations

import dataclasses
import random
from pathlib import Path

from apidata import NOW, incident

from netvigil.incident import Incident, IncidentState
from netvigil.store.base import IncidentQuery
from netvigil.store.sqlite import SQLiteStore
from netvigil.web.api.incidents import open_incidents


def variety(rng: random.Random) -> list[Incident]:
    out = []
    for n in range(40):
        state = rng.choice(list(IncidentState))
        start = NOW - rng.choice([100, 200, 300, 300, 900])  # ties on start: ordered by id
        end = start + rng.randrange(10, 600) if state is IncidentState.RESOLVED else None
        services = rng.sample(["portal", "parliament", "tax", "pm"], rng.randint(1, 2))
        out.append(
            dataclasses.replace(
                incident(n, end=end),
                id=f"inc-{n:02d}",
                state=state,
                start=start,
                end=end,
                services=services,
                confirmed_at=None if state is IncidentState.SUSPECTED else start + 30,
            )
        )
    return out


async def test_live_listing_equals_the_store_listing(tmp_path: Path) -> None:
    rng = random.Random(5)
    incidents = variety(rng)
    store = await SQLiteStore.open(tmp_path / "nv.db")
    try:
        for inc in incidents:
            await store.save_incident(inc)
        live = await store.incidents(IncidentQuery(open_only=True, limit=10_000))
        assert 0 < len(live) < len(incidents)
        queries = [
            IncidentQuery(open_only=True),
            IncidentQuery(open_only=True, limit=3),
            IncidentQuery(open_only=True, service="tax"),
            IncidentQuery(open_only=True, state=IncidentState.SUSPECTED),
            IncidentQuery(open_only=True, state=IncidentState.RESOLVED),
            IncidentQuery(state=IncidentState.CONFIRMED, since=NOW - 250),
            IncidentQuery(open_only=True, until=NOW - 250),
        ]
        for query in queries:
            want = [i.id for i in await store.incidents(query)]
            assert [i.id for i in open_incidents(live, query)] == want, query
        every = [
            IncidentQuery(),
            IncidentQuery(include_withdrawn=True),
            IncidentQuery(state=IncidentState.RESOLVED, service="portal"),
            IncidentQuery(since=NOW - 250, until=NOW - 150, include_withdrawn=True),
        ]
        newest_first = sorted(incidents, key=lambda i: (i.start, i.id), reverse=True)
        for query in every:
            want = [i.id for i in await store.incidents(query)]
            assert [i.id for i in newest_first if query.matches(i)] == want, query
    finally:
        await store.close()

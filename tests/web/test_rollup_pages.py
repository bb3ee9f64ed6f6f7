"""Rollup pages: the store's JSON read path, the settled-hour cache, ETags, over a real store."""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from apidata import make_config, measurement

from netvigil.store.base import MeasurementQuery, RollupQuery
from netvigil.store.sqlite import SQLiteStore
from netvigil.web.api.models import MeasurementOut, RollupOut
from netvigil.web.api.rollup_pages import BLOCK_S, RollupPages
from netvigil.web.app import create_app
from netvigil.web.state import LiveState

START = 1_699_995_600.0
"""The first minute of the history: a whole hour (epoch seconds)."""
HOURS = 3
NOW = START + (HOURS + 1) * 3600.0
"""The clock: an hour after the history ends, so all of it is settled."""
TARGET = "tax-tcp"


def late_measurement(ts: float, ok: bool) -> Any:
    return measurement(TARGET, "tirana", ts, ok=ok)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = await SQLiteStore.open(tmp_path / "pages.db", now=lambda: NOW)
    batch = []
    rng = random.Random(1)
    for minute in range(HOURS * 60):
        for vantage in ("tirana", "frankfurt"):
            ts = START + minute * 60 + rng.random() * 50
            batch.append(measurement(TARGET, vantage, ts, ok=rng.random() > 0.1))
            batch.append(measurement("portal-tcp", vantage, ts, ok=rng.random() > 0.5))
    await s.add(batch)
    yield s
    await s.close()


def fed_state() -> LiveState:
    state = LiveState(make_config(), now=lambda: NOW)
    state.submit(measurement("control", "tirana", NOW - 1, ok=True))  # a sink feeds it
    return state


QUERIES = [
    RollupQuery(),
    RollupQuery(targets=[TARGET]),
    RollupQuery(targets=[TARGET, TARGET, "portal-tcp"], since=START + 3000, limit=7),
    RollupQuery(targets=[TARGET], vantages=["frankfurt"], since=START + 61, until=START + 7201),
    RollupQuery(vantages=["tirana"], until=START + 600, limit=5),
    RollupQuery(targets=["nope"]),
    RollupQuery(step=3600),
    RollupQuery(targets=[TARGET], since=START + 3000, step=1800, limit=3),
    RollupQuery(targets=[TARGET, "portal-tcp"], vantages=["tirana"], step=300),
]


@pytest.mark.parametrize("query", QUERIES)
async def test_json_rows_are_the_rollups(store: SQLiteStore, query: RollupQuery) -> None:
    rows = await store.rollups_json(query)
    expected = [RollupOut.of(r).model_dump(mode="json") for r in await store.rollups(query)]
    assert [json.loads(text) for _, text in rows] == expected
    assert [minute for minute, _ in rows] == [r["minute"] for r in expected]
    assert len(rows) == min(query.limit, len(expected)) or not expected


async def test_cached_pages_equal_uncached_ones(store: SQLiteStore) -> None:
    state = fed_state()
    cached = RollupPages(store, state, now=lambda: NOW)
    plain = RollupPages(store, state, now=lambda: NOW, cache_bytes=0)
    rng = random.Random(2)
    cases: list[tuple[list[str], list[str] | None, float, float | None, int]] = []
    for _ in range(40):
        since = START + rng.randrange(-600, HOURS * 3600)
        until = None if rng.random() < 0.4 else since + rng.randrange(1, 4 * 3600)
        vantages = rng.choice([None, ["tirana"], ["frankfurt", "tirana"]])
        targets = rng.choice([[TARGET], [TARGET, "portal-tcp"]])
        cases.append((targets, vantages, since, until, rng.choice([1, 7, 60, 500, 2000])))
    for _ in range(2):  # the second round is served from the cache
        for targets, vantages, since, until, limit in cases:
            got = await cached.read(targets, vantages, since, until, limit)
            want = await plain.read(targets, vantages, since, until, limit)
            assert got.body == want.body, (targets, vantages, since, until, limit)
            assert got.next_since == want.next_since
    assert cached.hits > 0
    assert cached.cached_bytes > 0
    assert plain.hits == 0 and plain.cached_bytes == 0


async def test_a_late_measurement_empties_the_cache(store: SQLiteStore) -> None:
    state = fed_state()
    pages = RollupPages(store, state, now=lambda: NOW)
    since, until = START, START + HOURS * 3600
    before = json.loads((await pages.read([TARGET], ["tirana"], since, until, 1000)).body)
    assert pages.cached_bytes > 0
    late = late_measurement(START + 5, ok=False)  # an agent's batch, hours late
    await store.add([late])
    state.submit(late)
    after = json.loads((await pages.read([TARGET], ["tirana"], since, until, 1000)).body)
    first_before, first_after = before["items"][0], after["items"][0]
    assert first_after["count"] == first_before["count"] + 1
    assert before["items"][1:] == after["items"][1:]


async def test_nothing_is_cached_for_a_state_nothing_feeds(store: SQLiteStore) -> None:
    pages = RollupPages(store, LiveState(make_config(), now=lambda: NOW), now=lambda: NOW)
    await pages.read([TARGET], None, START, None, 5000)
    await pages.read([TARGET], None, START, None, 5000)
    assert pages.hits == 0 and pages.cached_bytes == 0


async def test_unsettled_hours_are_read_each_time(store: SQLiteStore) -> None:
    clock = itertools.count(START + 2 * 3600 + 60, 0)  # inside the third hour
    state = fed_state()
    pages = RollupPages(store, state, now=lambda: float(next(clock)))
    await pages.read([TARGET], ["tirana"], START, None, 5000)
    assert pages.cached_bytes > 0  # the first hour settled
    late = late_measurement(START + 2 * 3600 + 5, ok=False)  # not late: a fresh minute
    await store.add([late])
    state.submit(late)
    page = json.loads((await pages.read([TARGET], ["tirana"], START, None, 5000)).body)
    minute = next(r for r in page["items"] if r["minute"] == START + 2 * 3600)
    assert minute["count"] == 2
    assert BLOCK_S == 3600


async def test_http_pages_carry_an_etag(store: SQLiteStore) -> None:
    app = create_app(store, make_config(), now=lambda: NOW, state=fed_state())
    transport = httpx.ASGITransport(app=app)
    url = f"/api/v1/targets/{TARGET}/rollups"
    params = {"since": START, "until": START + 3600, "vantage": "tirana"}
    async with httpx.AsyncClient(transport=transport, base_url="http://nv.test") as client:
        first = await client.get(url, params=params)
        assert first.status_code == 200
        assert len(first.json()["items"]) == 60
        etag = first.headers["etag"]
        assert first.headers["cache-control"] == "public, max-age=300"  # settled
        again = await client.get(url, params=params, headers={"If-None-Match": etag})
        assert again.status_code == 304
        assert again.content == b""
        other = await client.get(url, params={**params, "vantage": "frankfurt"})
        assert other.headers["etag"] != etag
        open_ended = await client.get(url, params={"since": START})
        assert "cache-control" not in open_ended.headers


MEASUREMENT_QUERIES = [
    MeasurementQuery(),
    MeasurementQuery(targets=[TARGET], since=START + 600, until=START + 1800, limit=7),
    MeasurementQuery(vantages=["frankfurt"], since=START, after_id=None, limit=50),
    MeasurementQuery(targets=["portal-tcp"], limit=3, after_id="0"),
]


@pytest.mark.parametrize("query", MEASUREMENT_QUERIES)
async def test_json_measurements_are_the_measurements(
    store: SQLiteStore, query: MeasurementQuery
) -> None:
    failed = measurement(TARGET, "tirana", START + 30, ok=False)  # phase, no timings
    await store.add([failed])
    rows = await store.measurements_json(query)
    expected = [
        MeasurementOut.of(m).model_dump(mode="json") for m in await store.measurements(query)
    ]
    assert expected
    assert [json.loads(text) for _, text in rows] == expected
    assert [i for i, _ in rows] == [m["id"] for m in expected]


class RollupsOnly:
    """A store with only the `rollups()` read (no JSON path), over a real one."""

    def __init__(self, inner: SQLiteStore) -> None:
        self.inner = inner

    async def rollups(self, query: RollupQuery) -> list[Any]:
        return await self.inner.rollups(query)


async def test_a_store_without_a_json_path_gives_the_same_pages(store: SQLiteStore) -> None:
    state = fed_state()
    other = RollupPages(RollupsOnly(store), state, now=lambda: NOW)  # type: ignore[arg-type]
    ours = RollupPages(store, state, now=lambda: NOW, cache_bytes=0)
    for since, until, limit in ((START, None, 5000), (START + 90, START + 4000, 9)):
        got = await other.read([TARGET], None, since, until, limit)
        want = await ours.read([TARGET], None, since, until, limit)
        assert json.loads(got.body) == json.loads(want.body)
        assert got.count == want.count > 0

"""The Store contract: one suite that every backend passes (see conftest.STORE_BACKENDS)."""

from __future__ import annotations

import asyncio
import random
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from netvigil.errors import StoreError
from netvigil.model import Measurement
from netvigil.outcome import Outcome
from netvigil.store import MeasurementQuery, Rollup, RollupQuery, Store
from netvigil.store.rollup import bucket_rollups

from .helpers import T0, StoreFactory, make_measurement

ALL = MeasurementQuery(limit=1_000_000)
ALL_ROLLUPS = RollupQuery(limit=1_000_000)


def expected_rollups(measurements: list[Measurement]) -> list[Rollup]:
    """Rollups computed straight from the inputs, with numpy for the quantiles."""
    groups: dict[tuple[int, str, str], list[Measurement]] = defaultdict(list)
    for m in {m.id: m for m in measurements}.values():
        groups[(int(m.ts // 60) * 60, m.target, m.vantage)].append(m)
    out = []
    for (minute, target, vantage), ms in sorted(groups.items()):
        lat = [m.timings["total"] for m in ms if m.ok and "total" in m.timings]
        out.append(
            Rollup(
                minute=minute,
                target=target,
                vantage=vantage,
                count=len(ms),
                ok_count=sum(m.ok for m in ms),
                latency_p50_s=float(np.quantile(lat, 0.5)) if lat else None,
                latency_p95_s=float(np.quantile(lat, 0.95)) if lat else None,
                outcomes=dict(Counter(str(m.outcome) for m in ms)),
            )
        )
    return out


def assert_rollups_equal(got: list[Rollup], want: list[Rollup]) -> None:
    assert [(r.minute, r.target, r.vantage) for r in got] == [
        (r.minute, r.target, r.vantage) for r in want
    ]
    for g, w in zip(got, want, strict=True):
        assert (g.count, g.ok_count, g.outcomes) == (w.count, w.ok_count, w.outcomes), g
        for got_q, want_q in (
            (g.latency_p50_s, w.latency_p50_s),
            (g.latency_p95_s, w.latency_p95_s),
        ):
            if want_q is None:
                assert got_q is None, g
            else:
                assert got_q == pytest.approx(want_q, rel=1e-12, abs=1e-15), g


def by_id(ms: list[Measurement]) -> list[Measurement]:
    return sorted({m.id: m for m in ms}.values(), key=lambda m: m.id)


async def test_add_is_idempotent_by_id(store: Store) -> None:
    batch = [make_measurement(T0 + i, ok=i % 3 != 0) for i in range(20)]
    assert await store.add(batch) == 20
    assert await store.add(batch) == 0
    extra = [make_measurement(T0 + 30), make_measurement(T0 + 31)]
    assert await store.add([*batch[:5], *extra]) == 2
    assert await store.measurements(ALL) == by_id(batch + extra)


async def test_duplicates_inside_one_batch_count_once(store: Store) -> None:
    m = make_measurement(T0)
    assert await store.add([m, m, m]) == 1
    assert await store.measurements(ALL) == [m]
    assert (await store.rollups(ALL_ROLLUPS))[0].count == 1


async def test_round_trip_keeps_every_field(store: Store) -> None:
    ms = [
        make_measurement(T0 + 0.123456789, ok=False),
        make_measurement(T0 + 1, total=None),
        make_measurement(T0 + 2, outcome=Outcome.HTTP_5XX, ok=False),
    ]
    ms[1].detail = {"unicode": "Shqipëri", "list": [1.5, {"a": None}], "big": 2**40}
    ms[1].address = None
    await store.add(ms)
    assert await store.measurements(ALL) == by_id(ms)


async def test_query_filters(store: Store) -> None:
    ms = [
        make_measurement(T0 + i, target=target, vantage=vantage)
        for i in range(10)
        for target in ("a", "b", "c")
        for vantage in ("v1", "v2")
    ]
    await store.add(ms)

    async def ids(**kw: object) -> list[str]:
        return [m.id for m in await store.measurements(MeasurementQuery(**kw))]  # type: ignore[arg-type]

    assert await ids() == [m.id for m in by_id(ms)]
    assert await ids(since=T0 + 3, until=T0 + 5) == [
        m.id for m in by_id(ms) if T0 + 3 <= m.ts < T0 + 5
    ]
    assert await ids(targets=["a", "c"], vantages=["v2"]) == [
        m.id for m in by_id(ms) if m.target in ("a", "c") and m.vantage == "v2"
    ]
    assert await ids(targets=[]) == []
    assert await ids(since=T0 + 8, targets=["b"]) == [
        m.id for m in by_id(ms) if m.ts >= T0 + 8 and m.target == "b"
    ]
    assert await ids(limit=7) == [m.id for m in by_id(ms)][:7]


async def test_paging_with_after_id_visits_everything_once(store: Store) -> None:
    ms = [make_measurement(T0 + i * 0.5, target=f"t{i % 4}") for i in range(57)]
    await store.add(ms)
    seen: list[str] = []
    after = None
    while True:
        page = await store.measurements(MeasurementQuery(limit=10, after_id=after, targets=None))
        if not page:
            break
        assert len(page) <= 10
        seen += [m.id for m in page]
        after = page[-1].id
    assert seen == [m.id for m in by_id(ms)]
    since_page = await store.measurements(MeasurementQuery(since=T0 + 20, after_id=seen[45]))
    assert [m.id for m in since_page] == seen[46:]


def random_measurements(seed: int, count: int, span_s: float, failing: float) -> list[Measurement]:
    """`count` measurements of targets a, b from vantages v1, v2 over `span_s` from T0."""
    rng = random.Random(seed)
    return [
        make_measurement(
            T0 + rng.uniform(0, span_s),
            target=rng.choice(["a", "b"]),
            vantage=rng.choice(["v1", "v2"]),
            ok=rng.random() > failing,
            total=rng.uniform(0.001, 2.0),
            outcome=None,
        )
        for _ in range(count)
    ]


async def test_rollups_match_numpy(store: Store) -> None:
    ms = random_measurements(7, 400, 180, failing=0.2)
    for i in range(0, len(ms), 37):
        await store.add(ms[i : i + 37])
    assert_rollups_equal(await store.rollups(ALL_ROLLUPS), expected_rollups(ms))
    first = (await store.rollups(ALL_ROLLUPS))[0]
    assert first.outcomes.keys() <= {"ok", "tcp_timeout"}
    assert 0 < first.success_ratio < 1


async def test_rollup_without_successes_has_no_latency(store: Store) -> None:
    await store.add([make_measurement(T0 + i, ok=False) for i in range(3)])
    [r] = await store.rollups(ALL_ROLLUPS)
    assert (r.count, r.ok_count, r.latency_p50_s, r.latency_p95_s) == (3, 0, None, None)
    assert r.outcomes == {"tcp_timeout": 3}


async def test_rollup_query_filters_by_overlapping_minute(store: Store) -> None:
    await store.add(
        [make_measurement(T0 + m * 60 + 5, target=t) for m in range(5) for t in ("a", "b")]
    )
    got = await store.rollups(RollupQuery(since=T0 + 90, until=T0 + 180, targets=["b"]))
    assert [(r.minute, r.target) for r in got] == [(int(T0) + 60, "b"), (int(T0) + 120, "b")]
    assert len(await store.rollups(RollupQuery(vantages=["nowhere"]))) == 0
    assert len(await store.rollups(RollupQuery(limit=3))) == 3


@pytest.mark.parametrize(
    "query",
    [
        RollupQuery(step=300),
        RollupQuery(step=3600, targets=["b", "a"]),
        RollupQuery(step=600, targets=["a"], vantages=["v2"], since=T0 + 250, until=T0 + 1500),
        RollupQuery(step=120, vantages=["v1"], since=T0 + 61),
        RollupQuery(step=300, limit=3),
    ],
)
async def test_buckets_are_the_minutes_summed(store: Store, query: RollupQuery) -> None:
    await store.add(random_measurements(11, 600, 1800, failing=0.3))
    minutes = RollupQuery(
        since=query.since, until=query.until, targets=query.targets, vantages=query.vantages
    )
    want = bucket_rollups(await store.rollups(minutes), query.step)[: query.limit]
    got = await store.rollups(query)
    assert len(got) >= 3
    assert_rollups_equal(got, want)


async def test_late_data_lands_in_its_minute(store: Store) -> None:
    early = [make_measurement(T0 + i, total=0.1 * (i + 1)) for i in range(5)]
    later = [make_measurement(T0 + 600 + i) for i in range(5)]
    late = [make_measurement(T0 + 30 + i, ok=i != 0, total=1.0 + i) for i in range(4)]
    await store.add(early)
    await store.add(later)
    await store.add(late)
    assert_rollups_equal(await store.rollups(ALL_ROLLUPS), expected_rollups(early + later + late))
    [minute0] = await store.rollups(RollupQuery(until=T0 + 60))
    assert (minute0.count, minute0.ok_count) == (9, 8)


async def test_latest_is_newest_per_target_and_vantage(store: Store) -> None:
    a_new = make_measurement(T0 + 50, target="a", vantage="v1", ok=False)
    a_old = make_measurement(T0 + 10, target="a", vantage="v1")
    a_v2 = make_measurement(T0 + 20, target="a", vantage="v2")
    b = make_measurement(T0 + 5, target="b", vantage="v1")
    await store.add([a_old, b])
    await store.add([a_new, a_v2])
    await store.add([make_measurement(T0 + 40, target="a", vantage="v1")])  # late, older
    assert await store.latest() == [a_new, a_v2, b]


async def test_prune_deletes_raw_rows_and_keeps_rollups(store: Store) -> None:
    old = [make_measurement(T0 + i) for i in range(10)]
    new = [make_measurement(T0 + 3600 + i, target="b") for i in range(5)]
    await store.add(old + new)
    before = await store.rollups(ALL_ROLLUPS)
    assert await store.prune(T0 + 3600) == 10
    assert await store.measurements(ALL) == by_id(new)
    assert await store.rollups(ALL_ROLLUPS) == before
    assert [m.target for m in await store.latest()] == ["b", "https://a.example/"]
    assert await store.prune(T0 + 3600) == 0


async def test_data_arriving_after_its_minute_was_pruned_adds_to_counts(store: Store) -> None:
    await store.add([make_measurement(T0 + i) for i in range(4)])
    await store.prune(T0 + 3600)
    extra = [make_measurement(T0 + 10, ok=False), make_measurement(T0 + 11)]
    assert await store.add(extra) == 2
    assert await store.add(extra) == 0
    [r] = await store.rollups(ALL_ROLLUPS)
    assert (r.count, r.ok_count, r.outcomes) == (6, 5, {"ok": 5, "tcp_timeout": 1})


async def test_retention_prunes_periodically(store_factory: StoreFactory, tmp_path: Path) -> None:
    clock = [T0 + 10 * 86_400]
    store = await store_factory(tmp_path, retention_days=1, now=lambda: clock[0])
    try:
        old = make_measurement(clock[0] - 2 * 86_400)
        fresh = make_measurement(clock[0] - 60)
        await store.add([old, fresh])
        assert len(await store.measurements(ALL)) == 2  # the first prune ran before they came
        clock[0] += 61
        await store.flush()
        assert await store.measurements(ALL) == [fresh]
        assert len(await store.rollups(ALL_ROLLUPS)) == 2
    finally:
        await store.close()


async def test_reopen_keeps_data(store_factory: StoreFactory, tmp_path: Path) -> None:
    ms = [make_measurement(T0 + i, target=f"t{i % 3}") for i in range(30)]
    store = await store_factory(tmp_path)
    await store.add(ms[:10])
    for m in ms[10:]:
        store.submit(m)
    await store.close()
    await store.close()  # closing twice is harmless
    with pytest.raises(StoreError, match="closed"):
        store.submit(ms[0])
    with pytest.raises(StoreError, match="closed"):
        await store.add(ms)

    store = await store_factory(tmp_path)
    try:
        assert await store.measurements(ALL) == by_id(ms)
        assert_rollups_equal(await store.rollups(ALL_ROLLUPS), expected_rollups(ms))
        assert len(await store.latest()) == 3
        assert await store.add(ms) == 0
    finally:
        await store.close()


async def test_concurrent_submit_from_many_tasks(store: Store) -> None:
    async def producer(n: int) -> list[Measurement]:
        out = []
        for i in range(200):
            m = make_measurement(T0 + i * 0.25, target=f"t{n}", vantage=f"v{n % 3}")
            store.submit(m)
            out.append(m)
            if i % 20 == 0:
                await asyncio.sleep(0)
        return out

    batches = await asyncio.gather(*(producer(n) for n in range(25)))
    adds = await asyncio.gather(*(store.add(b[:50]) for b in batches))
    await store.flush()
    everything = [m for b in batches for m in b]
    assert sum(adds) == 0  # all were submitted first, in order
    assert await store.measurements(ALL) == by_id(everything)
    assert_rollups_equal(await store.rollups(ALL_ROLLUPS), expected_rollups(everything))


measurement_strategy = st.builds(
    make_measurement,
    st.floats(T0, T0 + 300, allow_nan=False),
    target=st.sampled_from(["a", "b"]),
    vantage=st.sampled_from(["v1", "v2"]),
    ok=st.booleans(),
    total=st.one_of(st.none(), st.floats(0, 30, allow_nan=False)),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    unique=st.lists(measurement_strategy, min_size=1, max_size=40),
    data=st.data(),
)
def test_any_batching_gives_the_same_store(
    store_factory: StoreFactory, unique: list[Measurement], data: st.DataObject
) -> None:
    sequence = data.draw(st.lists(st.sampled_from(unique), min_size=len(unique)), label="order")
    sequence = data.draw(st.permutations(sequence + unique), label="shuffled")
    cuts = sorted(data.draw(st.sets(st.integers(0, len(sequence))), label="cuts"))

    async def check() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            store = await store_factory(Path(tmp))
            try:
                new = 0
                for lo, hi in zip([0, *cuts], [*cuts, len(sequence)], strict=True):
                    if data.draw(st.booleans(), label="submit"):
                        for m in sequence[lo:hi]:
                            store.submit(m)
                    else:
                        new += await store.add(sequence[lo:hi])
                await store.flush()
                assert new <= len(unique)
                assert await store.measurements(ALL) == by_id(unique)
                assert_rollups_equal(await store.rollups(ALL_ROLLUPS), expected_rollups(unique))
                latest = {
                    (m.target, m.vantage): m for m in sorted(unique, key=lambda m: (m.ts, m.id))
                }
                assert await store.latest() == [latest[k] for k in sorted(latest)]
            finally:
                await store.close()

    asyncio.run(check())

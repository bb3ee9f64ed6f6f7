"""The SignalStore contract: network-level samples and events, over every backend."""

from __future__ import annotations

import random
from pathlib import Path

from netvigil.network_series import bucket_count, bucket_samples, count_events
from netvigil.signal import SignalEvent, SignalSample
from netvigil.store.base import Store
from netvigil.store.signal_buckets import COUNTED_KINDS, BucketQuery, SignalBucket
from netvigil.store.signals import SignalQuery, SignalStore, signal_store_of

from .helpers import StoreFactory

T0 = 1_765_040_000.0


def visibility(entity: str, t: float, value: float) -> SignalSample:
    return SignalSample(entity, "bgp_visibility", t, value, "ris_live")


async def test_samples_and_events_are_kept_once_and_read_by_entity_and_time(
    store: Store,
) -> None:
    signals = signal_store_of(store)
    assert signals is not None
    samples = [
        visibility("isp", T0, 1.0),
        visibility("isp", T0 + 10, 0.5),
        visibility("isp", T0 + 20, 0.0),
        SignalSample("isp", "blocks_up", T0 + 15, 0.25, "block_probe"),
        visibility("other", T0 + 10, 0.75),
    ]
    withdrawal = SignalEvent(
        "isp", "withdrawal", T0 + 19.5, "192.0.2.0/24", 5, 5, "withdrawn by 5 of 5 peers", "mrt"
    )
    events = [withdrawal, SignalEvent("other", "feed_down", T0 + 1, detail="closed")]
    assert await signals.add_signals(samples, events) == 7
    assert await signals.add_signals(samples[:2], events[:1]) == 0  # idempotent
    assert await signals.add_signals([], []) == 0

    read = await signals.signal_samples(SignalQuery("isp"))
    assert read == sorted(samples[:4], key=lambda s: s.t)
    window = SignalQuery("isp", since=T0 + 10, until=T0 + 20, signals=["bgp_visibility"])
    assert await signals.signal_samples(window) == [samples[1]]
    assert await signals.signal_samples(SignalQuery("isp", signals=[])) == []
    assert await signals.signal_samples(SignalQuery("isp", limit=1)) == [samples[0]]
    assert await signals.signal_events(SignalQuery("isp", since=T0)) == [withdrawal]
    assert await signals.signal_events(SignalQuery("isp", until=T0 + 19)) == []
    assert await signals.signal_events(SignalQuery("nobody")) == []


async def test_signals_survive_a_reopen(store_factory: StoreFactory, tmp_path: Path) -> None:
    first = await store_factory(tmp_path)
    try:
        assert isinstance(first, SignalStore)
        await first.add_signals([visibility("isp", T0, 0.4)], [])
    finally:
        await first.close()
    again = await store_factory(tmp_path)
    try:
        assert isinstance(again, SignalStore)
        assert await again.signal_samples(SignalQuery("isp")) == [visibility("isp", T0, 0.4)]
    finally:
        await again.close()


async def test_newest_first_reads_back_from_until(store: Store) -> None:
    signals = signal_store_of(store)
    assert signals is not None
    await signals.add_signals([visibility("isp", T0 + i, i / 10) for i in range(5)], [])
    before = SignalQuery("isp", until=T0 + 3, limit=1, newest_first=True)
    assert await signals.signal_samples(before) == [visibility("isp", T0 + 2, 0.2)]


async def test_signals_follow_the_retention_of_measurements(
    store_factory: StoreFactory, tmp_path: Path
) -> None:
    now = [T0 + 10 * 86_400]
    store = await store_factory(tmp_path, retention_days=1, now=lambda: now[0])
    try:
        signals = signal_store_of(store)
        assert signals is not None
        old_t, fresh_t = now[0] - 2 * 86_400, now[0] - 60
        old_event = SignalEvent("isp", "withdrawal", old_t, "192.0.2.0/24", 3, 5, "old", "mrt")
        fresh_event = SignalEvent("isp", "announcement", fresh_t, "192.0.2.0/24", 5, 5, "", "mrt")
        await signals.add_signals(
            [visibility("isp", old_t, 0.2), visibility("isp", fresh_t, 1.0),
             visibility("other", old_t + 1, 0.5)],
            [old_event, fresh_event],
        )  # fmt: skip
        assert len(await signals.signal_samples(SignalQuery("isp"))) == 2
        now[0] += 61  # the periodic prune is due again: it takes the rows over a day old
        await store.flush()
        assert await signals.signal_samples(SignalQuery("isp")) == [visibility("isp", fresh_t, 1.0)]
        assert await signals.signal_samples(SignalQuery("other")) == []
        assert await signals.signal_events(SignalQuery("isp")) == [fresh_event]
        assert await store.prune(fresh_t + 1) == 0  # no measurement; the signals go all the same
        assert await signals.signal_samples(SignalQuery("isp")) == []
        assert await signals.signal_events(SignalQuery("isp")) == []
    finally:
        await store.close()


def _key(b: SignalBucket) -> tuple[str, int]:
    return b.signal, b.index


async def test_buckets_grouped_by_the_database_are_those_of_the_samples_read(
    store: Store,
) -> None:
    signals = signal_store_of(store)
    assert signals is not None
    rng = random.Random(20)
    names = ["bgp_visibility", "bgp_peers_total", "blocks_up", "bgp_prefix_peers:192.0.2.0/24"]
    samples = {
        (t, name, source): SignalSample("isp", name, t, rng.random(), source)
        for _ in range(400)
        for t, name, source in [
            (T0 + rng.randrange(-4 * 3600, 4 * 3600) / 4,  # on a grid of 0.25 s
             rng.choice(names), rng.choice(["ris_live", "mrt", "block_probe"])),
        ]
    }  # fmt: skip
    tie = [
        SignalSample("isp", "bgp_visibility", T0 + 300, v, s) for v, s in [(0.9, "a"), (0.1, "z")]
    ]
    kinds = [*COUNTED_KINDS, "path_change"]
    events = [
        SignalEvent("isp", rng.choice(kinds), T0 + rng.randrange(-600, 3600), f"192.0.2.{i}/32")
        for i in range(60)
    ]
    other = SignalSample("other", "bgp_visibility", T0 + 10, 0.5, "mrt")
    await signals.add_signals([*samples.values(), *tie, other], events)

    since, until, step = T0, T0 + 3600, 7.5
    query = BucketQuery("isp", since, until, step, lookback_s=1800, events_limit=5)
    found = await signals.signal_buckets(query)

    count = bucket_count(since, until, step)
    read = await signals.signal_samples(SignalQuery("isp", since=since, until=until))
    expected = sorted(bucket_samples(read, since, step, count), key=_key)
    assert found.buckets == expected
    assert len(expected) > 200
    [at_tie] = [b for b in found.buckets if b.signal == "bgp_visibility" and b.index == 40]
    assert (at_tie.last_t, at_tie.last_value) == (T0 + 300, 0.1)  # of one time: source "z"
    assert at_tie.low <= 0.1 and at_tie.high >= 0.9

    earlier = await signals.signal_samples(SignalQuery("isp", since=since - 1800, until=since))
    newest = {s.signal: s for s in earlier}  # oldest first: the last one stays
    assert found.before == [newest[n] for n in sorted(newest)]

    in_range = await signals.signal_events(SignalQuery("isp", since=since, until=until))
    counted = [c for c in count_events(in_range, since, step, count) if c.kind in COUNTED_KINDS]
    assert found.event_counts == sorted(counted, key=lambda c: (c.kind, c.index))
    assert found.events == in_range[-5:]

    empty = await signals.signal_buckets(BucketQuery("nobody", since, until, step))
    assert (empty.buckets, empty.before, empty.event_counts, empty.events) == ([], [], [], [])

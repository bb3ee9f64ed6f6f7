"""The SignalStore contract: network-level samples and events, over every backend."""

from __future__ import annotations

from pathlib import Path

from netvigil.signal import SignalEvent, SignalSample
from netvigil.store.base import Store
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

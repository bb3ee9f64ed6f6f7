"""The signal recorder: thinning by the samples' own time, nothing of a quiet spell lost,
events all kept, a failing store counted; block rounds as `blocks_up` samples."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from netvigil.errors import StoreError
from netvigil.model import Measurement, new_measurement_id
from netvigil.outcome import Outcome
from netvigil.pipeline.block_signals import BlockSignals
from netvigil.pipeline.signal_record import SignalRecorder
from netvigil.probes.block import BlockSpec
from netvigil.signal import SignalEvent, SignalSample
from netvigil.store.signals import SignalQuery
from netvigil.store.sqlite import SQLiteStore

T0 = 1_765_040_000.0


def vis(t: float, value: float) -> SignalSample:
    return SignalSample("isp", "bgp_visibility", T0 + t, value, "mrt")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = await SQLiteStore.open(tmp_path / "signals.db")
    yield s
    await s.close()


async def test_one_sample_per_every_s_and_the_newest_of_a_spell(store: SQLiteStore) -> None:
    recorder = SignalRecorder(store, every_s=10.0)
    for t, value in ((0, 1.0), (3, 0.9), (6, 0.5), (12, 0.4), (14, 0.0)):
        recorder.sample(vis(t, value))
    recorder.event(SignalEvent("isp", "withdrawal", T0 + 13, "192.0.2.0/24", 5, 5))
    assert await recorder.flush() == 5
    kept = await store.signal_samples(SignalQuery("isp"))
    # kept at once: t=0 and t=12 (10 s on) with t=6 (the spell before it); t=14 at the flush
    assert [(s.t - T0, s.value) for s in kept] == [(0, 1.0), (6, 0.5), (12, 0.4), (14, 0.0)]
    assert len(await store.signal_events(SignalQuery("isp"))) == 1
    recorder.sample(vis(15, 0.2))  # 1 s after the last written: held until the next flush
    stop = asyncio.Event()
    stop.set()
    await recorder.run(stop)  # writes what is left on the way out
    assert (await store.signal_samples(SignalQuery("isp")))[-1] == vis(15, 0.2)


async def test_a_failing_store_drops_and_counts(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "closed.db")
    await store.close()
    recorder = SignalRecorder(store, max_pending=3)
    for t in range(5):
        recorder.sample(vis(20 * t, 1.0))
    assert recorder.dropped == 2  # beyond max_pending, the oldest
    assert await recorder.flush() == 0
    assert recorder.dropped == 5
    with pytest.raises(StoreError):
        await store.signal_samples(SignalQuery("isp"))


def test_block_rounds_become_blocks_up_of_their_network() -> None:
    spec = BlockSpec(name="b", control=True, addresses=["192.0.2.1", "198.51.100.1"], network="isp")
    got: list[SignalSample] = []

    class Sink:
        def sample(self, sample: SignalSample) -> None:
            got.append(sample)

        def event(self, event: SignalEvent) -> None:
            raise AssertionError(event)

    blocks = BlockSignals([spec], Sink())
    detail = {"blocks_up": 1, "blocks_watched": 2}
    for target, kind, d in (("b", "block", detail), ("other", "block", detail), ("b", "block", {})):
        blocks.submit(
            Measurement(
                new_measurement_id(T0), T0, "here", target, kind, True, Outcome.OK, detail=d
            )
        )
    assert got == [SignalSample("isp", "blocks_up", T0, 0.5, "block_probe/here")]

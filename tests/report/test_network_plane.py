"""The network plane from stored signals: buckets, and the statement naming what moved."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from netvigil.evidence import NetworkPlaneFacts
from netvigil.network_plane import (
    NetworkRecord,
    english,
    plane_statement,
    read_network_record,
)
from netvigil.signal import SignalEvent, SignalSample
from netvigil.store.sqlite import SQLiteStore

T0 = 1_765_040_000.0


def vis(t: float, value: float) -> SignalSample:
    return SignalSample("isp", "bgp_visibility", T0 + t, value, "ris_live")


def blocks(t: float, value: float) -> SignalSample:
    return SignalSample("isp", "blocks_up", T0 + t, value, "block_probe/here")


def record(
    *samples: SignalSample,
    before: Sequence[SignalSample] = (),
    events: Sequence[SignalEvent] = (),
) -> NetworkRecord:
    rec = NetworkRecord("isp", T0, T0 + 600, samples=sorted(samples, key=lambda s: s.t))
    rec.before = {s.signal: s for s in before}
    rec.events = list(events)
    return rec


def said(facts: NetworkPlaneFacts | None, blocks: int = 0, stamp: str = "") -> str:
    assert facts is not None
    statement = plane_statement(facts, blocks=blocks)
    assert statement is not None
    return english(statement, stamp)


def test_buckets_keep_the_lowest_and_carry_the_last_value_on() -> None:
    rec = record(
        vis(10, 1.0), vis(70, 0.2), vis(80, 0.9), blocks(10, 1.0), blocks(130, 0.5),
        before=[vis(-50, 0.8)],
    )  # fmt: skip
    series = rec.series(60)
    assert series.times[:3] == [T0, T0 + 60, T0 + 120]
    assert series.visibility[:4] == [1.0, 0.2, 0.9, 0.9]  # the dip shows, then carried
    assert series.visibility[-1] == 0.9
    assert series.blocks_up == [1.0, 1.0] + [0.5] * 8
    hour = record(vis(10, 1.0), blocks(10, 1.0))
    hour.until = T0 + 3600
    series = hour.series(300)
    assert series.visibility == [1.0] * 12  # BGP: the state holds until a change
    assert series.blocks_up == [1.0] * 4 + [None] * 8  # a block round stands 15 min at most


def test_data_plane_dark_while_routes_stay() -> None:
    rec = record(vis(100, 1.0), blocks(100, 0.0), before=[vis(-600, 1.0), blocks(-600, 1.0)])
    facts = rec.facts(onset=T0 + 90, end=None)
    assert said(facts, 4) == "data plane: 0 of 4 blocks answer, routes still visible"


def test_visibility_falling_without_a_withdrawal_event_and_neither_plane() -> None:
    fell = record(vis(100, 0.4), before=[vis(-600, 1.0)]).facts(onset=T0 + 90, end=None)
    assert said(fell) == "control plane: visibility fell from 100% to 40% of collector peers"
    steady = record(vis(100, 1.0), blocks(100, 1.0), before=[vis(-600, 1.0)])
    facts = steady.facts(onset=T0 + 90, end=None)
    assert said(facts, 2) == "neither plane moved: routes still visible, 2 of 2 blocks answer"


def test_a_blackhole_is_named_when_routes_stay() -> None:
    hole = SignalEvent("isp", "blackhole", T0 + 95, "192.0.2.7/32", 3, 10, "65535:666")
    rec = record(vis(100, 1.0), before=[vis(-600, 1.0)], events=[hole])
    facts = rec.facts(onset=T0 + 90, end=None)
    assert facts is not None
    said = english(plane_statement(facts), "21:03:12 UTC")  # type: ignore[arg-type]
    assert (
        said == "control plane: 192.0.2.7/32 blackholed (RFC 7999) by 3 of 10 peers at 21:03:12 UTC"
    )


def test_nothing_stored_says_nothing() -> None:
    assert record().facts(onset=T0, end=None) is None
    assert record().series(60).empty


async def test_a_range_with_too_many_rows_keeps_the_newest(tmp_path: Path) -> None:
    async with await SQLiteStore.open(tmp_path / "rows.db") as store:
        await store.add_signals([vis(-30, 1.0), *(vis(60 * i, i / 10) for i in range(10))], [])
        full = await read_network_record(store, "isp", T0, T0 + 600)
        assert full.complete and full.series(60).visibility[0] == 0.0
        assert full.before["bgp_visibility"] == vis(-30, 1.0)
        cut = await read_network_record(store, "isp", T0, T0 + 600, max_rows=4)
        assert not cut.complete and not cut.before
        assert cut.series(60).visibility == [None] * 6 + [0.6, 0.7, 0.8, 0.9]
        assert not cut.series(60).complete

"""OpenMinutes on its own: no database, no thread; rows in, rollup rows and plans out."""

from __future__ import annotations

import math
import random

from netvigil.model import Measurement
from netvigil.store.codec import Row, measurement_row, rollup_from_row
from netvigil.store.open_rollups import OpenMinutes, Stage
from netvigil.store.rollup import RollupBuilder, minute_of

from .helpers import T0, make_measurement
from .test_contract import assert_rollups_equal, expected_rollups

LATENESS_S = 60.0


def rows_of(*ms: Measurement) -> list[Row]:
    return [measurement_row(m) for m in ms]


def commit(
    minutes: OpenMinutes,
    rows: list[Row],
    *,
    everything: bool = False,
    close_before: float = -math.inf,
) -> list[Row]:
    """Stage rows, plan as the writer does and apply the plan (the commit succeeded)."""
    stage = Stage(cap=math.inf)
    stage.add(rows)
    written, plan = minutes.plan(
        stage, everything=everything, close_before=close_before, lateness_s=LATENESS_S
    )
    minutes.apply(plan)
    return written


def test_rows_of_an_open_minute_are_only_written_when_asked() -> None:
    minutes = OpenMinutes()
    ms = [make_measurement(T0 + i, total=0.1 * i) for i in range(5)]
    assert commit(minutes, rows_of(*ms)) == []
    assert minutes.has_dirty()
    written = commit(minutes, [], everything=True)
    assert_rollups_equal([rollup_from_row(r) for r in written], expected_rollups(ms))
    assert not minutes.has_dirty()
    assert commit(minutes, [], everything=True) == []  # nothing changed since


def test_a_minute_closes_once_rows_lateness_past_its_end_come() -> None:
    minutes = OpenMinutes()
    first = [make_measurement(T0 + i * 10, ok=i != 2, total=0.05 * i) for i in range(6)]
    assert commit(minutes, rows_of(*first)) == []
    almost = make_measurement(T0 + 60 + LATENESS_S - 1)
    assert commit(minutes, rows_of(almost)) == []
    closing = make_measurement(T0 + 60 + LATENESS_S)
    written = commit(minutes, rows_of(closing))
    assert_rollups_equal([rollup_from_row(r) for r in written], expected_rollups(first))
    assert minutes.memory_from == T0 + 60
    assert not minutes.has_minute_before(T0 + 60)
    assert minutes.has_minute_before(T0 + 120)


def test_memory_is_unchanged_until_a_plan_is_applied() -> None:
    minutes = OpenMinutes()
    stage = Stage(cap=math.inf)
    stage.add(rows_of(make_measurement(T0), make_measurement(T0 + 200)))
    written, _plan = minutes.plan(
        stage, everything=True, close_before=-math.inf, lateness_s=LATENESS_S
    )
    assert len(written) == 2  # minute 0 closes, minute 3 is written as it stands
    # The transaction rolled back: the plan is dropped, nothing was held.
    assert minutes.open == {} and minutes.watermark == -math.inf
    assert minutes.memory_from == -math.inf


def test_rows_stamped_past_the_cap_do_not_close_minutes() -> None:
    minutes = OpenMinutes()
    stage = Stage(cap=T0 + 30)
    stage.add(rows_of(make_measurement(T0), make_measurement(T0 + 3600)))
    written, plan = minutes.plan(
        stage, everything=False, close_before=-math.inf, lateness_s=LATENESS_S
    )
    assert written == [] and plan.closing == []
    minutes.apply(plan)
    assert minutes.watermark == T0


def test_late_rows_are_split_off() -> None:
    minutes = OpenMinutes(memory_from=T0 + 120, unmanaged=[int(T0) + 600])
    rows = rows_of(make_measurement(T0 + 1), make_measurement(T0 + 130), make_measurement(T0 + 601))
    memory, late = minutes.split(rows, pruned_before=-math.inf)
    assert [r[1] for r in memory] == [T0 + 130]
    assert [r[1] for r in late] == [T0 + 1, T0 + 601]
    memory, late = minutes.split(rows, pruned_before=T0 + 300)
    assert memory == [] and len(late) == 3


def test_any_batching_gives_the_reference_rollups() -> None:
    rng = random.Random(5)
    ms = [
        make_measurement(
            T0 + rng.uniform(0, 300),
            target=rng.choice("ab"),
            ok=rng.random() > 0.3,
            total=rng.choice([None, rng.uniform(0.001, 2.0)]),
        )
        for _ in range(300)
    ]
    ms.sort(key=lambda m: m.ts)
    minutes = OpenMinutes()
    stored: dict[tuple[str, str, int], Row] = {}
    i = 0
    while i < len(ms):
        n = rng.randint(1, 40)
        for r in commit(minutes, rows_of(*ms[i : i + n]), everything=rng.random() < 0.3):
            stored[(r[0], r[1], r[2])] = r
        i += n
    for r in commit(minutes, [], close_before=math.inf):
        stored[(r[0], r[1], r[2])] = r
    assert minutes.open == {}
    got = sorted((rollup_from_row(r) for r in stored.values()), key=lambda r: (r.minute, r.target))
    builders: dict[tuple[int, str], RollupBuilder] = {}
    for m in ms:
        builders.setdefault((minute_of(m.ts), m.target), RollupBuilder()).add(
            m.ok, str(m.outcome), m.timings.get("total")
        )
    want = [b.build(mi, t, "v1") for (mi, t), b in sorted(builders.items())]
    assert_rollups_equal(got, want)

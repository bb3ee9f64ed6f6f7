"""The per-minute rollups a writer is still building: its open minutes, in memory.

Pure bookkeeping, no database and no threads. The samples (success, outcome, `total`) of
every (minute, target, vantage) whose minute is still open are held here; a minute
closes once rows `lateness_s` past its end have been written. A transaction goes
through three steps, so that memory only changes once it has committed:

    stage = Stage(cap=now + max_ahead_s)
    stage.add(new_rows)                    # rows of open minutes the transaction wrote
    rows, plan = minutes.plan(stage, everything=..., close_before=..., lateness_s=...)
    # ... the writer upserts `rows` into `rollups` and commits, then:
    minutes.apply(plan)

Rows are `measurement_row` tuples (`codec.MEASUREMENT_COLUMNS`); rollup rows are
`ROLLUP_COLUMNS` tuples, the same numbers `RollupBuilder` gives over the same samples.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from netvigil.store.codec import Row, encode_json
from netvigil.store.rollup import MINUTE_S, OpenRollup, Sample

__all__ = ["Held", "OpenMinutes", "Pair", "Plan", "Stage", "open_rollup_row"]

Pair = tuple[str, str]
"""(target, vantage): the key of an open rollup within its minute."""

Held = float | Sample | OpenRollup
"""What an open key holds: one sample (a float: an `ok` one with that `total`), or more."""


class Stage:
    """New rows of open minutes written by one transaction, kept apart until it commits."""

    __slots__ = ("cap", "max_ts", "minutes")

    def __init__(self, cap: float) -> None:
        self.cap = cap
        """Rows stamped after this do not move the watermark (they do not close minutes)."""
        self.max_ts = -math.inf
        self.minutes: dict[int, dict[Pair, list[Sample]]] = {}

    def add(self, rows: Iterable[Row]) -> None:
        """Stage newly written rows of open minutes."""
        minutes = self.minutes
        cap, max_ts = self.cap, self.max_ts
        for r in rows:
            ts = r[1]
            if max_ts < ts <= cap:
                max_ts = ts
            minute = int(ts // MINUTE_S) * MINUTE_S
            keys = minutes.get(minute)
            if keys is None:
                keys = minutes[minute] = {}
            pair = (r[3], r[2])
            sample = (r[5], r[6], r[8])
            samples = keys.get(pair)
            if samples is None:
                keys[pair] = [sample]
            else:
                samples.append(sample)
        self.max_ts = max_ts


@dataclass(slots=True)
class Plan:
    """What to change in memory once the transaction that wrote the rollups commits."""

    stage: Stage
    closing: list[int]
    everything: bool
    watermark: float
    memory_from: float


class OpenMinutes:
    """The open minutes of one writer and which of their rollups are written.

    `memory_from`: minutes from this one on are accumulated here; rows of older ones
    (and of `unmanaged` minutes) are late, and their rollups are recomputed from raw
    rows by the writer. `watermark`: the newest `ts` written (bar rows too far ahead).
    """

    def __init__(self, *, memory_from: float = -math.inf, unmanaged: Iterable[int] = ()) -> None:
        self.open: dict[int, dict[Pair, Held]] = {}
        """Samples of every key of the open minutes, by minute."""
        self.dirty: dict[int, set[Pair]] = {}
        """Keys of open minutes whose stored rollup is missing or out of date."""
        self.memory_from = memory_from
        self.unmanaged = set(unmanaged)
        """Minutes at or after `memory_from` whose raw rows predate this writer (late)."""
        self.watermark = -math.inf

    def has_dirty(self) -> bool:
        """Whether some open rollup changed since it was last written."""
        return any(self.dirty.values())

    def has_minute_before(self, before: float) -> bool:
        """Whether some open minute starts before `before`."""
        return any(m < before for m in self.open)

    def split(self, rows: Iterable[Row], pruned_before: float) -> tuple[list[Row], list[Row]]:
        """`rows` as (rows of open minutes, late rows); late ones are recomputed or merged."""
        memory: list[Row] = []
        late: list[Row] = []
        unmanaged = self.unmanaged
        floor = max(self.memory_from, pruned_before)
        for r in rows:
            minute = int(r[1] // MINUTE_S) * MINUTE_S
            if minute < floor or minute in unmanaged:
                late.append(r)
            else:
                memory.append(r)
        return memory, late

    def plan(
        self, stage: Stage, *, everything: bool, close_before: float, lateness_s: float
    ) -> tuple[list[Row], Plan]:
        """The rollup rows to write now, and the plan to `apply` once they are committed.

        Minutes before `close_before`, or `lateness_s` past their end by the watermark,
        close; their rows are written. With `everything`, every changed open rollup is
        written too. When some minute closes, `plan.memory_from` moves past it.
        """
        watermark = max(self.watermark, stage.max_ts)
        minutes = self.open.keys() | stage.minutes.keys()
        closing = sorted(
            m for m in minutes if m < close_before or m + MINUTE_S + lateness_s <= watermark
        )
        rows: list[Row] = []
        for minute in minutes if everything else closing:
            held = self.open.get(minute, {})
            staged = stage.minutes.get(minute, {})
            dirty = self.dirty.get(minute)
            pairs: Iterable[Pair] = staged.keys() | dirty if dirty else staged
            for pair in pairs:
                rows.append(open_rollup_row(pair, minute, held.get(pair), staged.get(pair)))
        memory_from = self.memory_from
        if closing:
            memory_from = max(memory_from, closing[-1] + MINUTE_S)
        return rows, Plan(stage, closing, everything, watermark, memory_from)

    def apply(self, plan: Plan) -> None:
        """Fold a committed transaction's staged rows into the open minutes."""
        closing = set(plan.closing)
        for minute, staged in plan.stage.minutes.items():
            if minute in closing:
                continue
            held = self.open.get(minute)
            if held is None:
                held = self.open[minute] = {}
                self.dirty[minute] = set()
            for pair, samples in staged.items():
                old = held.get(pair)
                if old is None:
                    held[pair] = (
                        _compact_sample(samples[0]) if len(samples) == 1 else OpenRollup(samples)
                    )
                elif isinstance(old, OpenRollup):
                    old.extend(samples)
                else:
                    held[pair] = OpenRollup([_sample(old), *samples])
            if not plan.everything:
                self.dirty[minute].update(staged)
        for minute in closing:
            self.open.pop(minute, None)
            self.dirty.pop(minute, None)
        if plan.everything:
            for dirty in self.dirty.values():
                dirty.clear()
        self.watermark = plan.watermark
        self.memory_from = plan.memory_from


_ONE_OUTCOME: dict[str, str] = {}
"""`{"<outcome>":1}`, the outcomes JSON of a single measurement, by outcome name."""


def _compact_sample(sample: Sample) -> float | Sample:
    """One sample as held: the usual ok one as just its `total` (a float is 24 bytes)."""
    ok, outcome, total_s = sample
    return total_s if ok and outcome == "ok" and type(total_s) is float else sample


def _sample(held: float | Sample) -> Sample:
    """A held single sample as a Sample again."""
    return (1, "ok", held) if isinstance(held, float) else held


def open_rollup_row(pair: Pair, minute: int, held: Held | None, staged: list[Sample] | None) -> Row:
    """The `rollups` row of one open key: what it holds plus this transaction's samples."""
    if held is None and staged is not None and len(staged) == 1:
        held, staged = staged[0], None
    elif isinstance(held, float):
        held = _sample(held)
    if isinstance(held, tuple) and not staged:
        ok, outcome, total_s = held
        outcomes = _ONE_OUTCOME.get(outcome)
        if outcomes is None:
            outcomes = _ONE_OUTCOME[outcome] = encode_json({outcome: 1})
        latency = None
        if ok and total_s is not None and math.isfinite(total_s):
            latency = total_s + 0.0  # as `quantile` computes it (-0.0 becomes 0.0)
        return (pair[0], pair[1], minute, 1, 1 if ok else 0, latency, latency, outcomes)
    if held is None:
        acc = OpenRollup()
    elif isinstance(held, tuple):
        acc = OpenRollup((held,))
    else:
        acc = held
    count, ok_count, p50, p95, outcome_counts = acc.summary(staged or ())
    return (pair[0], pair[1], minute, count, ok_count, p50, p95, encode_json(outcome_counts))

"""The signal detector: a network, an AS or a country going down, read from its signals.

A shutdown or a route withdrawal shows as reachability signals of a whole network falling
far below their recent level: BGP visibility, /24 blocks answering pings, telescope
packets, traffic (`netvigil.signal`). One `SignalDropDetector` per entity watches all of
its signals; `SignalWatch` keeps one per entity and turns their scores into "network down"
alarms that open and close, naming the signals that moved and by how much.

How one bin is judged (`SignalDropDetector.update`):

- Each signal keeps a robust baseline (`RobustLevel`: a Huber-clipped EWMA with an
  absolute-deviation scale). A signal *drops* when it is at least `min_drop` of its
  baseline and `min_sigmas` robust scales below it; its drop scores
  `relative drop / (2 * min_drop)`, capped at 1.
- Only signals that vote are counted: warmed up (`warmup` values learnt), with a value in
  this bin or one no older than `stale_s`. A missing value (None or NaN in a bin) means
  the signal does not vote in that bin: a sparse signal never holds a bin back.
- Joint score: the quorum-th largest drop among the voting signals, where the quorum is
  `max(quorum_min, ceil(quorum_fraction * voters))`. Four signals need two to agree; a
  country with 70 regional signals needs 18, so a few small overnight dips never alarm.
- Single-signal score: one signal alone alarms when its drop is strong, at least
  `alone_drop` of its baseline (40%, by default) and `alone_sigmas` scales below it; it
  keeps alarming while it stays `alone_hold` (25%) below (hysteresis, so a signal
  hovering about the threshold gives one alarm, not many). This holds for entities with
  at most `alone_max_voters` voting signals (6), where each signal sees the whole entity;
  with more (70 regional signals of a country) one signal is a part, and only the quorum
  speaks for the whole.
  Active probing down by half while BGP barely moves is an outage; a noisy signal whose
  scale is large next to its level (a sparse telescope count) can never drop that clearly.
- The score is the larger of the two; at or above `alarm` the entity is down.

Baselines never absorb an outage: while the entity is alarmed, and while a signal is
itself strongly down, no baseline learns. Re-learn rule, for a real level change (a
network that moved half its address space away for good): a signal that has stayed below
its baseline (dropped, not learning) for `relearn_s` of stream time (24 h by default) is
re-based on what it showed meanwhile: its level becomes the median of those values (at
most `history` of them) and its scale their mean absolute deviation from it. An outage
is therefore never learnt within hours, and a new normal is accepted after one day.

Time is the samples' own (stream time): the detector reads no clock, so a replay of a
file and the live feed run the same code.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from netvigil.detect.baseline import RobustLevel
from netvigil.signal import SignalSample

__all__ = [
    "AlarmChange",
    "NetworkDownAlarm",
    "SignalDropDetector",
    "SignalDropSettings",
    "SignalMove",
    "SignalWatch",
]

_MAD_TO_SIGMA = 1.2533
"""A mean absolute deviation times this is a standard deviation (normal noise)."""


@dataclass(frozen=True, slots=True)
class SignalDropSettings:
    """How the signal detector judges; see the module docstring. Defaults suit 5-minute bins.

    Keyword arguments::

        alpha=0.02           baseline weight of a new value (5-minute bins: about 4 h memory)
        min_drop=0.1         relative drop below which a signal is not down; twice it is fully down
        min_sigmas=4.0       drop, in robust scales, below which a signal is not down
        quorum_fraction=0.25 share of the voting signals that must be down together
        quorum_min=2         ... and never fewer than this many
        alone_drop=0.4       relative drop at which one signal alarms alone
        alone_sigmas=8.0     ... when it is also this many robust scales down
        alone_hold=0.25      relative drop above which a signal alarming alone keeps doing so
        alone_max_voters=6   above this many voting signals, none alarms alone
        alarm=0.5            score at and above which the entity is down
        warmup=12            values a signal learns before it votes
        stale_s=900.0        how long a signal's last value keeps voting without a new one
        clear_s=0.0          how long the score must stay below `alarm` before an alarm closes
        relearn_s=86400.0    how long a signal stays dropped before it is re-based
        history=288          values kept per dropped signal for re-basing
    """

    alpha: float = 0.02
    min_drop: float = 0.1
    min_sigmas: float = 4.0
    quorum_fraction: float = 0.25
    quorum_min: int = 2
    alone_drop: float = 0.4
    alone_sigmas: float = 8.0
    alone_hold: float = 0.25
    alone_max_voters: int = 6
    alarm: float = 0.5
    warmup: int = 12
    stale_s: float = 900.0
    clear_s: float = 0.0
    relearn_s: float = 86_400.0
    history: int = 288

    def quorum(self, voters: int) -> int:
        """How many of `voters` signals must be down together for a joint alarm."""
        return max(self.quorum_min, math.ceil(self.quorum_fraction * voters))


@dataclass(frozen=True, slots=True)
class SignalMove:
    """One signal that moved: its baseline, its value, and the drop as a fraction of the
    baseline (0.42 = down 42%)."""

    signal: str
    baseline: float
    value: float
    drop: float


class _Signal:
    """One signal of one entity: its baseline and its latest judgement."""

    __slots__ = ("down_since", "drop", "level", "rel", "strong", "t", "value", "while_down")

    def __init__(self, alpha: float, history: int) -> None:
        self.level = RobustLevel(alpha)
        self.t = -math.inf
        self.value = math.nan
        self.rel = 0.0
        self.drop = 0.0
        self.strong = False
        self.down_since: float | None = None
        self.while_down: deque[float] = deque(maxlen=history)

    def judge(self, t: float, x: float, s: SignalDropSettings) -> None:
        """Score value `x` at `t` against the baseline (nothing is learnt here)."""
        self.t, self.value = t, x
        was_strong = self.strong
        self.rel, self.drop, self.strong = 0.0, 0.0, False
        lvl = self.level
        if lvl.count < s.warmup or lvl.level <= 0.0:
            return
        gap = lvl.level - x
        sigma = lvl.scale * _MAD_TO_SIGMA
        self.rel = gap / lvl.level
        if self.rel >= s.min_drop and gap >= s.min_sigmas * sigma:
            self.drop = min(1.0, self.rel / (2.0 * s.min_drop))
            if was_strong:  # hysteresis: a strong drop holds while it stays clear
                self.strong = self.rel >= s.alone_hold
            else:
                self.strong = self.rel >= s.alone_drop and gap >= s.alone_sigmas * sigma

    def votes(self, t: float, s: SignalDropSettings) -> bool:
        """Whether it counts at `t`: warmed up, with a value no older than `stale_s`."""
        return (
            self.level.count >= s.warmup and math.isfinite(self.value) and t - self.t <= s.stale_s
        )

    def learn(self, t: float, x: float, frozen: bool, s: SignalDropSettings) -> None:
        """Learn `x` unless `frozen`; track how long it has been dropped; re-base it after
        `relearn_s` dropped."""
        if not frozen or self.drop <= 0.0:
            if not frozen:
                self.level.learn(x, 1e-9 * abs(x) + 1e-12)
            self.down_since = None
            self.while_down.clear()
            return
        if self.down_since is None:
            self.down_since = t
        self.while_down.append(x)
        if t - self.down_since >= s.relearn_s:
            self._rebase()

    def _rebase(self) -> None:
        values = np.fromiter(self.while_down, dtype=float)
        median = float(np.median(values))
        self.level.level = median
        self.level.scale = max(float(np.mean(np.abs(values - median))), 1e-9 * abs(median))
        self.down_since = None
        self.while_down.clear()
        self.rel, self.drop, self.strong = 0.0, 0.0, False


class SignalDropDetector:
    """Streaming detector of one entity's signals; `update` scores a bin in [0, 1].

        det = SignalDropDetector()
        score = det.update(ts, {"bgp": 2917.0, "ping-slash24": 581.0, "gtr": None})
        if score >= det.settings.alarm:
            det.moved()   # the signals down, with baseline, value and drop

    Values missing from the mapping keep their last value's vote for `stale_s`; a None or
    NaN value withdraws the signal's vote for this bin.
    """

    def __init__(self, settings: SignalDropSettings | None = None) -> None:
        self.settings = settings or SignalDropSettings()
        self._signals: dict[str, _Signal] = {}
        self.score = 0.0
        self.alone = False
        """Whether the last score came from one signal alone."""

    @property
    def signals(self) -> list[str]:
        """The names of the signals seen so far."""
        return sorted(self._signals)

    def update(self, ts: float, values: Mapping[str, float | None]) -> float:
        """Judge one bin of values at `ts` (stream time), then learn them; return the score."""
        s = self.settings
        fresh: list[tuple[_Signal, float]] = []
        for name, raw in values.items():
            sig = self._signals.get(name)
            if sig is None:
                sig = self._signals[name] = _Signal(s.alpha, s.history)
            if raw is None or not math.isfinite(raw):
                sig.value = math.nan  # no vote in this bin
                continue
            sig.judge(ts, float(raw), s)
            fresh.append((sig, float(raw)))
        voting = [sig for sig in self._signals.values() if sig.votes(ts, s)]
        joint = 0.0
        quorum = s.quorum(len(voting))
        if len(voting) >= quorum:
            drops = np.fromiter((sig.drop for sig in voting), dtype=float, count=len(voting))
            joint = float(-np.partition(-drops, quorum - 1)[quorum - 1])
        alone = 0.0
        if len(voting) <= s.alone_max_voters:
            alone = max((sig.drop for sig in voting if sig.strong), default=0.0)
        self.score = max(joint, alone)
        self.alone = alone >= s.alarm and joint < s.alarm
        alarmed = self.score >= s.alarm
        for sig, x in fresh:
            sig.learn(ts, x, alarmed or sig.strong, s)
        return self.score

    def moved(self) -> list[SignalMove]:
        """The voting signals that are down now (most dropped first)."""
        out = [
            SignalMove(name, sig.level.level, sig.value, sig.rel)
            for name, sig in self._signals.items()
            if sig.drop > 0.0 and math.isfinite(sig.value)
        ]
        return sorted(out, key=lambda m: (-m.drop, m.signal))

    def baseline(self, signal: str) -> float | None:
        """The signal's baseline level, or None before it has warmed up."""
        sig = self._signals.get(signal)
        if sig is None or sig.level.count < self.settings.warmup:
            return None
        return sig.level.level

    def latest(self) -> dict[str, tuple[float, float]]:
        """Per signal with a value: (when, value) of its latest value."""
        return {
            name: (sig.t, sig.value)
            for name, sig in sorted(self._signals.items())
            if math.isfinite(sig.t)
        }


@dataclass(slots=True)
class NetworkDownAlarm:
    """An entity seen down by its signals, from `start` until `end` (None while open).

    `moved` holds each signal that went down during the alarm at its deepest drop;
    `alone` says the alarm opened on one signal's strong drop, without a quorum.
    """

    entity: str
    start: float
    end: float | None = None
    moved: list[SignalMove] = field(default_factory=list)
    score: float = 0.0
    alone: bool = False

    @property
    def open(self) -> bool:
        """Whether it has not ended."""
        return self.end is None

    def copy(self) -> NetworkDownAlarm:
        """A snapshot."""
        return replace(self, moved=list(self.moved))

    def absorb(self, moves: Iterable[SignalMove], score: float) -> None:
        """Keep each signal's deepest drop and the highest score seen."""
        deepest = {m.signal: m for m in self.moved}
        for m in moves:
            old = deepest.get(m.signal)
            if old is None or m.drop > old.drop:
                deepest[m.signal] = m
        self.moved = sorted(deepest.values(), key=lambda m: (-m.drop, m.signal))
        self.score = max(self.score, score)


@dataclass(frozen=True, slots=True)
class AlarmChange:
    """An alarm opened or closed at stream time `t` (`alarm` is a snapshot)."""

    kind: Literal["opened", "closed"]
    t: float
    alarm: NetworkDownAlarm


class SignalWatch:
    """One `SignalDropDetector` per entity, and the "network down" alarms they raise.

        watch = SignalWatch()
        for change in watch.observe(sample):      # or watch.update(entity, ts, values)
            ...                                     # AlarmChange("opened" | "closed", ...)

    An alarm opens at the first bin whose score reaches `alarm`, and closes once the score
    has stayed below it for `clear_s` (its `end` is the first bin below).
    """

    def __init__(self, settings: SignalDropSettings | None = None) -> None:
        self.settings = settings or SignalDropSettings()
        self._detectors: dict[str, SignalDropDetector] = {}
        self._open: dict[str, NetworkDownAlarm] = {}
        self._clear_since: dict[str, float] = {}

    def detector(self, entity: str) -> SignalDropDetector:
        """The entity's detector (made on first use)."""
        det = self._detectors.get(entity)
        if det is None:
            det = self._detectors[entity] = SignalDropDetector(self.settings)
        return det

    @property
    def entities(self) -> list[str]:
        """The entities seen so far."""
        return sorted(self._detectors)

    def open_alarms(self) -> list[NetworkDownAlarm]:
        """Snapshots of the open alarms, oldest first."""
        return sorted((a.copy() for a in self._open.values()), key=lambda a: (a.start, a.entity))

    def alarm(self, entity: str) -> NetworkDownAlarm | None:
        """The entity's open alarm (a snapshot), or None."""
        found = self._open.get(entity)
        return found.copy() if found is not None else None

    def observe(self, sample: SignalSample) -> list[AlarmChange]:
        """Take one sample (one signal of one entity)."""
        return self.update(sample.entity, sample.t, {sample.signal: sample.value})

    def update(
        self, entity: str, ts: float, values: Mapping[str, float | None]
    ) -> list[AlarmChange]:
        """Take a bin of the entity's signal values at `ts`; return what opened or closed."""
        det = self.detector(entity)
        score = det.update(ts, values)
        current = self._open.get(entity)
        if score >= self.settings.alarm:
            self._clear_since.pop(entity, None)
            if current is None:
                current = self._open[entity] = NetworkDownAlarm(entity, ts, alone=det.alone)
                current.absorb(det.moved(), score)
                return [AlarmChange("opened", ts, current.copy())]
            current.absorb(det.moved(), score)
            return []
        if current is None:
            return []
        since = self._clear_since.setdefault(entity, ts)
        if ts - since < self.settings.clear_s:
            return []
        del self._open[entity], self._clear_since[entity]
        current.end = since
        return [AlarmChange("closed", ts, current.copy())]

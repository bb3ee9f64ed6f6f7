"""The network plane over time: one network's stored signals as a series, and the
statement naming the plane that moved around an incident.

    record = await read_network_record(store, "example-isp", since, until)
    series = record.series(step=60)          # per bucket: visibility, blocks up, events
    facts = record.facts(onset=inc.start, end=inc.end)
    statement = plane_statement(facts)       # "control plane: 192.0.2.0/24 withdrawn ..."

What is read is what `netvigil run` stores (`netvigil.pipeline.signal_record`): the
`bgp_visibility` samples of the BGP feeds, with the peer counts and per-prefix peers
beside them, the `blocks_up` samples of block rounds, and the control-plane events.

A series bucket holds the lowest value of its samples (a peers total: the highest), so a
short dip shows; a bucket without samples carries the last value on, as BGP samples come
only when something changes (a `blocks_up` value, from periodic rounds, is carried at
most `BLOCK_CARRY_S`). The value before `since` is looked up `LOOKBACK_S` back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal

from netvigil.evidence import NetworkPlaneFacts
from netvigil.incident import Incident
from netvigil.probes.block import BlockSpec
from netvigil.signal import SignalEvent, SignalSample
from netvigil.store.signals import PREFIX_PEERS, SignalQuery, SignalStore, signal_store_of

__all__ = [
    "BLOCK_CARRY_S",
    "LOOKBACK_S",
    "MAX_BUCKETS",
    "NetworkPlane",
    "NetworkRecord",
    "NetworkSeries",
    "PlaneStatement",
    "blocks_answer",
    "blocks_watched",
    "english",
    "plane_events",
    "plane_statement",
    "read_network_record",
    "read_planes",
]

VISIBILITY = "bgp_visibility"
BLOCKS_UP = "blocks_up"
PEERS_SEEING = "bgp_peers_seeing"
PEERS_TOTAL = "bgp_peers_total"

LOOKBACK_S = 86_400.0
"""How far before a range the value it starts with is looked for."""
BLOCK_CARRY_S = 900.0
"""How long a `blocks_up` value stands for the buckets after it without a round."""
MAX_BUCKETS = 5_000
"""At most this many buckets in one series."""
MAX_ROWS = 200_000
"""At most this many samples (and as many events) are read for one range."""
LEAD_S = 300.0
"""How long before an incident's onset a drop still counts as its own."""
EVENTS_BEFORE_S = 900.0
"""How long before the onset an event still counts for it."""


@dataclass(frozen=True, slots=True)
class NetworkSeries:
    """One network's signals in buckets of `step` seconds from `since` (`times` are the
    buckets' starts). A value is None where nothing is known; `prefixes` gives per
    prefix the peers routing it; the event counts are events per bucket (one event
    gathers every peer that withdrew a prefix within a second)."""

    network: str
    since: float
    until: float
    step: float
    times: list[float]
    visibility: list[float | None]
    peers_seeing: list[float | None]
    peers_total: list[float | None]
    blocks_up: list[float | None]
    withdrawals: list[int]
    announcements: list[int]
    blackholes: list[int]
    prefixes: dict[str, list[float | None]]
    events: list[SignalEvent]
    complete: bool = True
    """False when the range held too many rows: its oldest part is left empty."""

    @property
    def empty(self) -> bool:
        """Whether no signal says anything of the network in the range."""
        return (
            all(v is None for v in self.visibility)
            and all(v is None for v in self.blocks_up)
            and not self.events
        )


@dataclass(slots=True)
class NetworkRecord:
    """The stored signals of one network over [since, until): samples oldest first, the
    last sample of each signal before `since` (`before`), and the events."""

    network: str
    since: float
    until: float
    samples: list[SignalSample] = field(default_factory=list)
    before: dict[str, SignalSample] = field(default_factory=dict)
    events: list[SignalEvent] = field(default_factory=list)
    complete: bool = True
    """False when the range held too many rows and only the newest were read."""

    @property
    def empty(self) -> bool:
        """Whether nothing at all is stored for the network up to `until`."""
        return not self.samples and not self.before and not self.events

    def series(self, step: float) -> NetworkSeries:
        """The record in buckets of `step` seconds (at most MAX_BUCKETS: ValueError)."""
        count = max(1, math.ceil((self.until - self.since) / step))
        if count > MAX_BUCKETS:
            raise ValueError(f"{count} buckets of {step:g} s: at most {MAX_BUCKETS}")
        times = [self.since + i * step for i in range(count)]
        by_signal: dict[str, list[SignalSample]] = {name: [] for name in self.before}
        for sample in self.samples:
            by_signal.setdefault(sample.signal, []).append(sample)
        values = {
            name: self._bucketed(name, samples, step, count)
            for name, samples in sorted(by_signal.items())
        }
        none: list[float | None] = [None] * count

        def counts(kind: str) -> list[int]:
            out = [0] * count
            for e in self.events:
                if e.kind == kind:
                    out[min(count - 1, int((e.t - self.since) // step))] += 1
            return out

        return NetworkSeries(
            network=self.network,
            since=self.since,
            until=self.until,
            step=step,
            times=times,
            visibility=values.get(VISIBILITY, none),
            peers_seeing=values.get(PEERS_SEEING, none),
            peers_total=values.get(PEERS_TOTAL, none),
            blocks_up=values.get(BLOCKS_UP, none),
            withdrawals=counts("withdrawal"),
            announcements=counts("announcement"),
            blackholes=counts("blackhole"),
            prefixes={
                n.removeprefix(PREFIX_PEERS): v
                for n, v in values.items()
                if n.startswith(PREFIX_PEERS)
            },
            events=list(self.events),
            complete=self.complete,
        )

    def _bucketed(
        self, name: str, samples: list[SignalSample], step: float, count: int
    ) -> list[float | None]:
        """One signal's value per bucket from its `samples` (oldest first): the lowest (of a
        total: the highest), else the last value carried on."""
        highest = name == PEERS_TOTAL
        carry_s = BLOCK_CARRY_S if name == BLOCKS_UP else math.inf
        cells: list[list[float]] = [[] for _ in range(count)]
        last_in: list[SignalSample | None] = [None] * count
        for s in samples:
            i = min(count - 1, int((s.t - self.since) // step))
            cells[i].append(s.value)
            last_in[i] = s
        out: list[float | None] = []
        last = self.before.get(name)
        for i, cell in enumerate(cells):
            start = self.since + i * step
            if cell:
                out.append(max(cell) if highest else min(cell))
                last = last_in[i]
            elif last is not None and start - last.t <= carry_s:
                out.append(last.value)
            else:
                out.append(None)
        return out

    def facts(self, *, onset: float, end: float | None) -> NetworkPlaneFacts | None:
        """What the record says of the network plane around an incident from `onset` to
        `end` (open: to `until`); None when no signal of the network is stored."""
        if self.empty:
            return None
        stop = self.until if end is None else end

        def around(name: str) -> tuple[float | None, float | None]:
            before = self.before.get(name)
            low: float | None = None
            for s in self.samples:
                if s.signal != name:
                    continue
                if s.t < onset - LEAD_S:
                    before = s
                elif s.t <= stop:
                    low = s.value if low is None else min(low, s.value)
            was = before.value if before is not None else None
            return (low if low is not None else was), was

        vis_now, vis_before = around(VISIBILITY)
        up_now, up_before = around(BLOCKS_UP)
        totals = [s.value for s in self.samples if s.signal == PEERS_TOTAL and s.t <= stop]
        kept = [e for e in self.events if onset - EVENTS_BEFORE_S <= e.t <= stop]
        return NetworkPlaneFacts(
            networks=(self.network,),
            visibility_now=vis_now,
            visibility_before=vis_before,
            peers=int(totals[-1]) if totals else max((e.peers_total for e in kept), default=0),
            blocks_up_now=up_now,
            blocks_up_before=up_before,
            withdrawals=tuple(e for e in kept if e.kind == "withdrawal"),
            blackholes=tuple(e for e in kept if e.kind == "blackhole"),
            origin_changes=tuple(e for e in kept if e.kind in ("origin_change", "path_change")),
        )


async def read_network_record(
    store: SignalStore, network: str, since: float, until: float, *, max_rows: int = MAX_ROWS
) -> NetworkRecord:
    """The stored signals of `network` over [since, until), with the last value of each
    signal in the LOOKBACK_S before `since`. Of a range holding `max_rows` samples (or
    events) or more, the newest are read and the record is not `complete`. Raises
    StoreError when the store fails."""
    record = NetworkRecord(network, since, until)
    newest = SignalQuery(network, since=since, until=until, limit=max_rows, newest_first=True)
    record.samples = (await store.signal_samples(newest))[::-1]
    record.events = (await store.signal_events(newest))[::-1]
    record.complete = len(record.samples) < max_rows and len(record.events) < max_rows
    if not record.complete:
        return record  # the oldest part is left out: nothing is carried into it
    earlier = await store.signal_samples(
        SignalQuery(network, since=since - LOOKBACK_S, until=since, limit=2_000, newest_first=True)
    )
    for s in earlier:
        record.before.setdefault(s.signal, s)
    return record


PlaneKind = Literal["withdrawn", "less_visible", "blackholed"]


@dataclass(frozen=True, slots=True)
class PlaneStatement:
    """Which plane moved, in parts any language can word.

    `control` is the control-plane fact (None: the routes did not move); `data` says
    the blocks went dark. `prefix`, `peers`, `peers_total` and `t` are those of the
    withdrawal or blackhole named; `blocks_share` is the share of blocks answering, and
    `blocks_up` of `blocks` the same as counts (`blocks` 0: the count is unknown).
    `routes_known` / `blocks_known` say whether a visibility / a block round is stored.
    """

    control: PlaneKind | None
    data: bool
    prefix: str = ""
    peers: int = 0
    peers_total: int = 0
    t: float | None = None
    visibility_before: float = 0.0
    visibility_now: float = 0.0
    blocks_share: float = 0.0
    blocks_up: int = 0
    blocks: int = 0
    routes_visible: bool = False
    routes_known: bool = False
    blocks_known: bool = False


def plane_statement(facts: NetworkPlaneFacts, *, blocks: int = 0) -> PlaneStatement | None:
    """Which plane moved by `facts` (`blocks`: how many blocks are watched, 0 unknown);
    None when the facts hold neither visibility nor blocks nor events."""
    routes_known = facts.visibility_now is not None
    blocks_known = facts.blocks_up_now is not None
    if not (routes_known or blocks_known or facts.withdrawals or facts.blackholes):
        return None
    share = facts.blocks_up_now if facts.blocks_up_now is not None else 0.0
    base = PlaneStatement(
        None,
        facts.blocks_dark,
        visibility_before=facts.visibility_before or 0.0,
        visibility_now=facts.visibility_now or 0.0,
        blocks_share=share,
        blocks_up=round(share * blocks),
        blocks=blocks,
        routes_visible=facts.routes_visible,
        routes_known=routes_known,
        blocks_known=blocks_known,
    )
    before, now = facts.visibility_before, facts.visibility_now
    widest = max(facts.withdrawals, key=lambda e: (e.peers, -e.t), default=None)
    if widest is not None and (facts.withdrawn_share >= 0.5 or not facts.routes_visible):
        return _naming(base, "withdrawn", widest)
    if now is not None and before is not None and now < 0.9 * before:
        return replace(base, control="less_visible")
    if facts.blackholes:
        return _naming(base, "blackholed", facts.blackholes[0])
    return base


def _naming(base: PlaneStatement, kind: PlaneKind, event: SignalEvent) -> PlaneStatement:
    return replace(
        base,
        control=kind,
        prefix=event.prefix,
        peers=event.peers,
        peers_total=event.peers_total,
        t=event.t,
    )


def english(s: PlaneStatement, stamp: str = "") -> str:
    """The statement in English (`stamp`: its time as the reader reads times):
    "control plane: 192.0.2.0/24 withdrawn by 5 of 5 peers at 21:03:12",
    "data plane: 0 of 4 blocks answer, routes still visible", ..."""
    at = f" at {stamp}" if stamp else ""
    parts: list[str] = []
    if s.control == "withdrawn":
        parts.append(
            f"control plane: {s.prefix} withdrawn by {s.peers} of {s.peers_total} peers{at}"
        )
    elif s.control == "less_visible":
        parts.append(
            f"control plane: visibility fell from {s.visibility_before:.0%} to "
            f"{s.visibility_now:.0%} of collector peers"
        )
    elif s.control == "blackholed":
        parts.append(
            f"control plane: {s.prefix} blackholed (RFC 7999) by {s.peers} of "
            f"{s.peers_total} peers{at}"
        )
    if s.data:
        still = ", routes still visible" if s.control is None and s.routes_visible else ""
        parts.append(f"data plane: {blocks_answer(s)}{still}")
    if not parts:
        steady = ["routes still visible"] if s.routes_known else []
        steady += [blocks_answer(s)] if s.blocks_known else []
        parts.append("neither plane moved: " + ", ".join(steady))
    return "; ".join(parts)


def blocks_answer(s: PlaneStatement) -> str:
    """ "3 of 4 blocks answer", or as a share when the count is unknown."""
    if s.blocks:
        return f"{s.blocks_up} of {s.blocks} blocks answer"
    return f"{s.blocks_share:.0%} of blocks answer"


def blocks_watched(specs: Sequence[object], network: str) -> int:
    """How many address blocks the block targets of `network` watch (0: none)."""
    return sum(len(t.blocks()) for t in specs if isinstance(t, BlockSpec) and t.entity == network)


@dataclass(frozen=True, slots=True)
class NetworkPlane:
    """One network of an incident as a report shows it: the series over the report's
    window, and the statement naming the plane that moved (None: nothing to say)."""

    network: str
    series: NetworkSeries
    statement: PlaneStatement | None

    @property
    def text(self) -> str:
        """The statement in English, its time as 'HH:MM:SS UTC' ("" when there is none)."""
        s = self.statement
        if s is None:
            return ""
        at = datetime.fromtimestamp(s.t, tz=UTC).strftime("%H:%M:%S UTC") if s.t else ""
        return english(s, at)


async def read_planes(
    store: object,
    incident: Incident,
    specs: Sequence[object],
    *,
    since: float,
    until: float,
    step: float,
) -> list[NetworkPlane]:
    """The network plane of each of `incident`'s networks with stored signals over
    [since, until) in buckets of `step` (none when `store` keeps no signals; `specs` are
    the config's targets, for the blocks watched). Raises StoreError."""
    signals = signal_store_of(store)
    if signals is None:
        return []
    step = max(step, math.ceil((until - since) / MAX_BUCKETS))
    out: list[NetworkPlane] = []
    for network in incident.networks:
        record = await read_network_record(signals, network, since, until)
        if record.empty:
            continue
        facts = record.facts(onset=incident.start, end=incident.end)
        statement = (
            plane_statement(facts, blocks=blocks_watched(specs, network))
            if facts is not None
            else None
        )
        out.append(NetworkPlane(network, record.series(step), statement))
    return out


EVENT_ROWS = 12
"""At most this many control-plane events are listed in a report."""


def plane_events(planes: Sequence[NetworkPlane], limit: int = EVENT_ROWS) -> list[list[str]]:
    """The control-plane events of `planes` (feed states left out), oldest first, as
    table rows: time (UTC), network, kind, prefix, "peers of total", detail."""
    events = sorted(
        ((p.network, e) for p in planes for e in p.series.events if not e.kind.startswith("feed")),
        key=lambda pair: pair[1].t,
    )
    return [
        [
            datetime.fromtimestamp(e.t, tz=UTC).strftime("%Y-%m-%d %H:%M:%S"),
            network,
            e.kind,
            e.prefix,
            f"{e.peers} of {e.peers_total}" if e.peers_total else str(e.peers),
            e.detail,
        ]
        for network, e in events[:limit]
    ]

"""The network plane over time: one network's stored signals as a series, and the
statement naming the plane that moved around an incident.

    record = await read_network_record(store, "example-isp", since, until)
    series = record.series(step=60)          # per bucket: visibility, blocks up, events
    facts = record.facts(onset=inc.start, end=inc.end)
    statement = plane_statement(facts)       # "control plane: 192.0.2.0/24 withdrawn ..."

What is read is what `netvigil run` stores (`netvigil.pipeline.signal_record`): the
`bgp_visibility` samples of the BGP feeds, with the peer counts and per-prefix peers
beside them, the `blocks_up` samples of block rounds, and the control-plane events.

The record's series is bucketed as `netvigil.network_series` says (the lowest value per
bucket, the last carried on); a chart over a long range reads its buckets from the
database instead (`read_network_series`). The value before `since` is looked up
`LOOKBACK_S` back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal

from netvigil.evidence import NetworkPlaneFacts
from netvigil.incident import Incident
from netvigil.network_series import (
    BLOCK_CARRY_S,
    BLOCKS_UP,
    LOOKBACK_S,
    MAX_BUCKETS,
    PEERS_TOTAL,
    VISIBILITY,
    NetworkSeries,
    bucket_count,
    bucket_samples,
    count_events,
    series_of,
)
from netvigil.probes.block import BlockSpec
from netvigil.signal import SignalEvent, SignalSample
from netvigil.store.signals import SignalQuery, SignalStore, signal_store_of

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

MAX_ROWS = 200_000
"""At most this many samples (and as many events) are read for one range."""
LEAD_S = 300.0
"""How long before an incident's onset a drop still counts as its own."""
EVENTS_BEFORE_S = 900.0
"""How long before the onset an event still counts for it."""


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
        count = bucket_count(self.since, self.until, step)
        return series_of(
            self.network,
            self.since,
            self.until,
            step,
            buckets=bucket_samples(self.samples, self.since, step, count),
            before=self.before,
            counts=count_events(self.events, self.since, step, count),
            events=self.events,
            complete=self.complete,
        )

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
    widest = max(facts.route_withdrawals, key=lambda e: (e.peers, -e.t), default=None)
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

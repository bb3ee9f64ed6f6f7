"""Networks over time: the network plane's series (BGP visibility, blocks up, events)."""

from __future__ import annotations

from pydantic import Field

from netvigil.network_plane import NetworkSeries
from netvigil.signal import SignalEvent
from netvigil.web.api.models.common import ResponseModel

__all__ = ["NetworkPointOut", "NetworkSeriesOut", "PrefixSeriesOut", "SignalEventOut"]


class NetworkPointOut(ResponseModel):
    """One bucket of a network's series (null: nothing known then)."""

    t: float = Field(description="The bucket's start (epoch s)")
    visibility: float | None = Field(
        description="BGP visibility: peers routing each of the network's prefixes / peers "
        "carrying that prefix's address family, averaged over its prefixes (the bucket's "
        "lowest)"
    )
    peers_seeing: int | None = Field(description="Collector peers routing any of its prefixes")
    peers_total: int | None = Field(
        description="Collector peers carrying any of the network's address families"
    )
    blocks_up: float | None = Field(
        description="Share of the network's watched address blocks that answer (the "
        "bucket's lowest, from `block` targets)"
    )
    withdrawals: int = Field(description="Withdrawal events in the bucket")
    announcements: int = Field(description="Announcement events in the bucket")
    blackholes: int = Field(description="Blackhole-community events in the bucket")


class PrefixSeriesOut(ResponseModel):
    """One prefix of the network: per bucket, the peers routing it and the share of
    peers heard from that route it."""

    prefix: str
    peers: list[int | None]
    visibility: list[float | None]


class SignalEventOut(ResponseModel):
    """A control-plane event about the network (`netvigil.signal.SignalEvent`)."""

    kind: str
    t: float
    prefix: str
    peers: int
    peers_total: int
    detail: str
    source: str

    @classmethod
    def of(cls, e: SignalEvent) -> SignalEventOut:
        return cls(
            kind=e.kind,
            t=e.t,
            prefix=e.prefix,
            peers=e.peers,
            peers_total=e.peers_total,
            detail=e.detail,
            source=e.source,
        )


def _count(value: float | None) -> int | None:
    return None if value is None else round(value)


class NetworkSeriesOut(ResponseModel):
    """A network's plane over a range, in buckets of `step` seconds."""

    network: str
    since: float
    until: float
    step: float
    stored: bool = Field(description="Whether this server keeps network signals at all")
    complete: bool = Field(
        description="False when the range held too many samples: only the newest were read, "
        "and the oldest buckets are null"
    )
    points: list[NetworkPointOut]
    prefixes: list[PrefixSeriesOut]
    events: list[SignalEventOut] = Field(
        description="Withdrawals, announcements, blackholes, origin changes and feed "
        "states in the range, oldest first (the newest `events_limit`)"
    )

    @classmethod
    def of(cls, s: NetworkSeries, *, stored: bool, events_limit: int) -> NetworkSeriesOut:
        points = [
            NetworkPointOut(
                t=t,
                visibility=s.visibility[i],
                peers_seeing=_count(s.peers_seeing[i]),
                peers_total=_count(s.peers_total[i]),
                blocks_up=s.blocks_up[i],
                withdrawals=s.withdrawals[i],
                announcements=s.announcements[i],
                blackholes=s.blackholes[i],
            )
            for i, t in enumerate(s.times)
        ]
        prefixes = [
            PrefixSeriesOut(
                prefix=prefix,
                peers=[_count(v) for v in peers],
                visibility=[
                    None if v is None or not total else min(1.0, v / total)
                    for v, total in zip(peers, s.peers_total, strict=True)
                ],
            )
            for prefix, peers in sorted(s.prefixes.items())
        ]
        events = [SignalEventOut.of(e) for e in s.events[-events_limit:]]
        return cls(
            network=s.network,
            since=s.since,
            until=s.until,
            step=s.step,
            stored=stored,
            complete=s.complete,
            points=points,
            prefixes=prefixes,
            events=events,
        )

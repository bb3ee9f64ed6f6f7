"""The RIS Live JSON protocol: the subscriptions netvigil sends and the messages it reads.

Every message is a JSON object `{"type": ..., "data": {...}}` (RIS Live manual,
https://ris-live.ripe.net/manual/). The client sends `ris_subscribe` with filters:

    {"type": "ris_subscribe", "data": {"prefix": "192.0.2.0/24", "moreSpecific": true,
                                       "type": "UPDATE", "host": "rrc00"}}
    {"type": "ris_subscribe", "data": {"path": "64500$", "type": "UPDATE"}}

The server answers with `ris_message` (data `type` UPDATE, RIS_PEER_STATE, OPEN,
NOTIFICATION, KEEPALIVE), `ris_error`, `ris_subscribe_ok` and `pong`. An UPDATE's data
holds `timestamp`, `peer`, `peer_asn` (a string), `host` (the collector), `path` (an
AS_SET is a nested list), `community` (pairs), `announcements` (`next_hop`, `prefixes`)
and `withdrawals` (prefixes); a RIS_PEER_STATE's holds `state` ("connected", "down").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from netvigil.bgp.model import BgpElement, BgpItem, PeerState
from netvigil.config.model import NetworkConfig

__all__ = [
    "RisMessage",
    "decode_ris_message",
    "ris_items",
    "subscriptions",
]


@dataclass(frozen=True, slots=True)
class RisMessage:
    """One decoded server message: its `type`, the items it carries, and an error's text."""

    type: str
    items: tuple[BgpItem, ...] = ()
    error: str = ""


def subscriptions(
    networks: Iterable[NetworkConfig], collectors: Sequence[str] = ()
) -> list[dict[str, Any]]:
    """The `ris_subscribe` messages that bring every UPDATE about `networks` and peer states.

    One per configured prefix (with its more-specifics, so a hijacked /24 of a watched
    /22 arrives too), one per AS origin (`path: "<asn>$"`: what the AS originates, which
    catches prefixes not listed), and one for RIS_PEER_STATE; each once per collector in
    `collectors` when that filter is set.
    """
    filters: list[dict[str, Any]] = []
    for network in networks:
        for prefix in network.prefixes:
            filters.append({"prefix": str(prefix), "moreSpecific": True, "type": "UPDATE"})
        if network.asn is not None:
            filters.append({"path": f"{network.asn}$", "type": "UPDATE"})
    if filters:
        filters.append({"type": "RIS_PEER_STATE"})
    hosts: Sequence[str | None] = list(collectors) or [None]
    out: list[dict[str, Any]] = []
    for data in filters:
        for host in hosts:
            sub = dict(data) if host is None else {**data, "host": host}
            out.append({"type": "ris_subscribe", "data": sub})
    return out


def decode_ris_message(text: str | bytes) -> RisMessage:
    """The type and items of one server message; ValueError when it is not RIS Live JSON."""
    try:
        message = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from exc
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise ValueError("not a RIS Live message (no type)")
    kind: str = message["type"]
    data = message.get("data")
    if kind == "ris_error":
        text_ = data.get("message", "") if isinstance(data, dict) else ""
        return RisMessage(kind, error=str(text_))
    if kind != "ris_message":
        return RisMessage(kind)
    if not isinstance(data, dict):
        raise ValueError("ris_message without data")
    try:
        return RisMessage(kind, tuple(ris_items(data)))
    except (TypeError, AttributeError, KeyError) as exc:  # a field of an unexpected shape
        raise ValueError(f"malformed ris_message: {exc!r}") from exc


def ris_items(data: dict[str, Any]) -> list[BgpItem]:
    """The elements of an UPDATE or the state of a RIS_PEER_STATE (others give none).

    ValueError on a message missing its time, peer or collector.
    """
    subtype = data.get("type")
    if subtype not in ("UPDATE", "RIS_PEER_STATE"):
        return []
    try:
        t = float(data["timestamp"])
        peer_ip = str(data["peer"])
        peer_asn = int(data.get("peer_asn") or 0)
        collector = str(data["host"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"{subtype} without timestamp, peer or host: {exc}") from exc
    if subtype == "RIS_PEER_STATE":
        return [PeerState(t, collector, peer_ip, peer_asn, str(data.get("state", "")))]
    path, origins = _path(data.get("path") or [])
    communities = tuple(_community(c) for c in data.get("community") or [])
    items: list[BgpItem] = []
    for announcement in data.get("announcements") or []:
        for prefix in announcement.get("prefixes") or []:
            items.append(
                BgpElement(
                    t, "announce", collector, peer_ip, peer_asn, str(prefix),
                    path, origins, communities,
                )
            )  # fmt: skip
    for prefix in data.get("withdrawals") or []:
        items.append(BgpElement(t, "withdraw", collector, peer_ip, peer_asn, str(prefix)))
    return items


def _path(raw: list[Any]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The flattened AS path and the origin AS(es): an AS_SET at the end gives several."""
    flat: list[int] = []
    for hop in raw:
        if isinstance(hop, list):
            flat.extend(int(a) for a in hop)
        else:
            flat.append(int(hop))
    if not raw:
        return (), ()
    last = raw[-1]
    origins = tuple(int(a) for a in last) if isinstance(last, list) else (int(last),)
    return tuple(flat), origins


def _community(raw: Any) -> str:
    """A community pair (or large-community triple) as "a:b"."""
    if isinstance(raw, list | tuple):
        return ":".join(str(int(part)) for part in raw)
    return str(raw)

"""The route collector's reading of BIRD: its routing table, and the changes as RIS Live messages.

    control = BirdControl("/run/nv-lab/bird/collector.ctl")
    table = parse_routes(await control.command("show route all"))
    for message in updates(old_table, table, peers, host="collector", now=time.time()):
        ...                                   # {"type": "ris_message", "data": {...}}

BIRD's control socket speaks lines of text: `NNNN-text` (more follows), `NNNN text`
(the last line) or ` text` (a continuation of the previous code). `parse_routes` reads
the table `show route all` prints into one `Route` per (session, prefix); `updates`
compares two tables session by session and says what changed the way RIPE RIS Live
does: one UPDATE per session and path attributes with the prefixes announced with
them, one UPDATE per session with the prefixes withdrawn.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "BirdControl",
    "Peer",
    "Route",
    "parse_routes",
    "peer_state",
    "session_states",
    "updates",
]

_HEADER = re.compile(
    r"^(?P<prefix>\S+)?\s+(?P<dest>unicast|blackhole|unreachable|prohibit)\s+\[(?P<proto>[^\s\]]+)"
)
_END = re.compile(r"^\d{4} ")


class BirdControl:
    """A client of BIRD's control socket: one command at a time, one connection kept open."""

    def __init__(self, path: str, *, timeout_s: float = 5.0) -> None:
        self.path = path
        self.timeout_s = timeout_s
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._lock = asyncio.Lock()

    async def command(self, command: str) -> list[str]:
        """The reply to `command`, one string per line with the reply codes taken off.

        Raises OSError (or TimeoutError) when BIRD does not answer; the next call
        connects again.
        """
        async with self._lock:
            try:
                return await asyncio.wait_for(self._command(command), self.timeout_s)
            except (OSError, TimeoutError, asyncio.IncompleteReadError):
                await self.close()
                raise

    async def _command(self, command: str) -> list[str]:
        if self._streams is None:
            reader, writer = await asyncio.open_unix_connection(self.path)
            await reader.readline()  # the `0001 BIRD x.y.z ready.` greeting
            self._streams = (reader, writer)
        reader, writer = self._streams
        writer.write(command.encode() + b"\n")
        await writer.drain()
        lines: list[str] = []
        while True:
            raw = (await reader.readuntil(b"\n")).decode(errors="replace").rstrip("\n")
            if _END.match(raw):
                if raw[5:].strip():
                    lines.append(raw[5:])
                return lines
            lines.append(raw[5:] if raw[:4].isdigit() else raw[1:])

    async def close(self) -> None:
        """Close the connection (the next command opens a new one)."""
        if self._streams is not None:
            _, writer = self._streams
            self._streams = None
            writer.close()


@dataclass(frozen=True, slots=True)
class Route:
    """One route a session gave the collector: its path attributes."""

    path: tuple[int, ...]
    communities: tuple[tuple[int, int], ...] = ()
    next_hop: str = ""
    origin: str = "igp"

    def attributes(self) -> tuple[tuple[int, ...], tuple[tuple[int, int], ...], str, str]:
        """What an UPDATE groups prefixes by."""
        return (self.path, self.communities, self.next_hop, self.origin)


@dataclass(frozen=True, slots=True)
class Peer:
    """A session of the collector, as RIS names it: the peer's address and AS number."""

    address: str
    asn: int


def parse_routes(lines: list[str]) -> dict[tuple[str, str], Route]:
    """The routes in `show route all` output, by (session name, prefix)."""
    table: dict[tuple[str, str], Route] = {}
    prefix = proto = ""
    attrs: dict[str, str] = {}

    def flush() -> None:
        if proto and prefix:
            table[(proto, prefix)] = _route(attrs)

    for line in lines:
        header = _HEADER.match(line)
        if header is not None:
            flush()
            prefix = header["prefix"] or prefix
            proto, attrs = header["proto"], {}
            continue
        text = line.strip()
        if text.startswith("Table "):
            flush()
            prefix = proto = ""
            continue
        key, sep, value = text.partition(": ")
        if sep and key.startswith("BGP."):
            attrs[key[4:]] = value
    flush()
    return table


def _route(attrs: Mapping[str, str]) -> Route:
    path = tuple(int(a) for a in re.findall(r"\d+", attrs.get("as_path", "")))
    communities = tuple(
        (int(a), int(b)) for a, b in re.findall(r"\((\d+),\s*(\d+)\)", attrs.get("community", ""))
    )
    next_hop = attrs.get("next_hop", "").split()[0] if attrs.get("next_hop") else ""
    return Route(path, communities, next_hop, attrs.get("origin", "IGP").lower())


def session_states(lines: list[str]) -> dict[str, bool]:
    """Whether each BGP session in `show protocols` output is Established."""
    out: dict[str, bool] = {}
    for line in lines:
        cols = line.split()
        if len(cols) >= 4 and cols[1] == "BGP":
            out[cols[0]] = cols[3] == "up" and "Established" in line
    return out


def updates(
    old: Mapping[tuple[str, str], Route],
    new: Mapping[tuple[str, str], Route],
    peers: Mapping[str, Peer],
    *,
    host: str,
    now: float,
    counter: Iterator[int],
) -> list[dict[str, Any]]:
    """RIS Live `ris_message` UPDATEs saying how `new` differs from `old`, per session.

    Sessions not in `peers` are left out. `counter` numbers the messages (their `id`).
    """
    messages: list[dict[str, Any]] = []
    for proto, peer in sorted(peers.items()):
        announced: dict[tuple[Any, ...], list[str]] = {}
        for (p, prefix), route in new.items():
            if p == proto and old.get((p, prefix)) != route:
                announced.setdefault(route.attributes(), []).append(prefix)
        withdrawn = sorted(pfx for (p, pfx) in old if p == proto and (p, pfx) not in new)
        for (path, communities, next_hop, origin), prefixes in sorted(announced.items()):
            data = _base(peer, host, now, next(counter))
            data.update(
                path=list(path),
                community=[list(c) for c in communities],
                origin=origin,
                announcements=[{"next_hop": next_hop, "prefixes": sorted(prefixes)}],
            )
            messages.append({"type": "ris_message", "data": data})
        if withdrawn:
            data = _base(peer, host, now, next(counter))
            data.update(path=[], community=[], withdrawals=withdrawn)
            messages.append({"type": "ris_message", "data": data})
    return messages


def peer_state(peer: Peer, *, up: bool, host: str, now: float, number: int) -> dict[str, Any]:
    """A RIS Live RIS_PEER_STATE message: the session to `peer` came up or went down."""
    data = _base(peer, host, now, number)
    data.update(type="RIS_PEER_STATE", state="connected" if up else "down")
    return {"type": "ris_message", "data": data}


def _base(peer: Peer, host: str, now: float, number: int) -> dict[str, Any]:
    return {
        "timestamp": round(now, 3),
        "peer": peer.address,
        "peer_asn": str(peer.asn),
        "id": f"{peer.address}-{now:.3f}-{number}",
        "host": host,
        "type": "UPDATE",
    }

"""The MRT records pybgpkit-parser 0.6.2 does not decode: the 1999-2000 RIS archive.

Early RIS collectors wrote BGP messages as MRT type 5 (`BGP`, deprecated by RFC 6396,
appendix B.2) and RIB dumps as TABLE_DUMP records batching many entries (each record
4 bytes longer than declared, which `mrt_frames` takes care of). The binding yields
nothing for the first and stops after one entry of the second, so netvigil decodes them
here, from the records the header walk frames:

- type 5, subtype 1 (`BGP_UPDATE`): peer AS (2 bytes), peer IP (4), local AS (2),
  local IP (4), then the BGP UPDATE without its 19-byte header: withdrawn routes,
  path attributes (2-byte AS numbers), NLRI. Other subtypes (OPEN, KEEPALIVE, state
  changes) carry no routes.
- type 12 (`TABLE_DUMP`), subtype 1 (IPv4) or 2 (IPv6): view (2) and sequence number (2),
  then entries of prefix (4 or 16), length (1), status (1), originated time (4), peer IP
  (4 or 16), peer AS (2), attribute length (2) and attributes, one after another to the
  record's end (one entry per record since; many in the 2000 dumps).

Each element takes the record's timestamp. A malformed record raises ValueError.
"""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator

from netvigil.bgp.model import BgpElement

__all__ = ["LEGACY_KINDS", "legacy_elements"]

BGP, TABLE_DUMP = 5, 12
LEGACY_KINDS = frozenset({BGP, TABLE_DUMP})
"""The MRT types decoded here."""

_AS_SET, _AS_SEQUENCE = 1, 2
_ATTR_AS_PATH, _ATTR_COMMUNITIES = 2, 8
_ATTR_MP_REACH, _ATTR_MP_UNREACH = 14, 15


def legacy_elements(
    time: float, kind: int, subtype: int, body: bytes, collector: str
) -> list[BgpElement]:
    """The elements of one type-5 or TABLE_DUMP record; ValueError when it is malformed."""
    try:
        if kind == BGP:
            return list(_bgp_update(time, subtype, body, collector)) if subtype == 1 else []
        if kind == TABLE_DUMP and subtype in (1, 2):
            return list(_table_dump(time, subtype == 2, body, collector))
    except (struct.error, IndexError, OSError) as exc:
        raise ValueError(f"malformed {_name(kind)} record: {exc}") from exc
    return []


def _bgp_update(t: float, subtype: int, body: bytes, collector: str) -> Iterator[BgpElement]:
    peer_asn, peer_ip = struct.unpack_from("!H4s", body, 0)
    peer = socket.inet_ntop(socket.AF_INET, peer_ip)
    update = memoryview(body)[12:]
    (withdrawn_len,) = struct.unpack_from("!H", update, 0)
    withdrawn = update[2 : 2 + withdrawn_len]
    (attrs_len,) = struct.unpack_from("!H", update, 2 + withdrawn_len)
    start = 4 + withdrawn_len
    if start + attrs_len > len(update) or len(withdrawn) < withdrawn_len:
        raise ValueError(
            f"UPDATE lengths ({withdrawn_len}, {attrs_len}) exceed its {len(update)} bytes"
        )
    attrs = _attributes(update[start : start + attrs_len])
    for prefix in _prefixes(withdrawn, v6=False):
        yield BgpElement(t, "withdraw", collector, peer, peer_asn, prefix)
    for prefix in attrs.withdrawn:
        yield BgpElement(t, "withdraw", collector, peer, peer_asn, prefix)
    announced = [*_prefixes(update[start + attrs_len :], v6=False), *attrs.announced]
    for prefix in announced:
        yield BgpElement(
            t, "announce", collector, peer, peer_asn, prefix,
            attrs.as_path, attrs.origins, attrs.communities,
        )  # fmt: skip


def _table_dump(t: float, v6: bool, body: bytes, collector: str) -> Iterator[BgpElement]:
    size = 16 if v6 else 4
    family = socket.AF_INET6 if v6 else socket.AF_INET
    entry = struct.Struct(f"!{size}sBBI{size}sHH")
    offset = 4  # view and sequence number, once per record
    while len(body) - offset >= entry.size:
        prefix, length, _, _, peer_ip, peer_asn, attrs_len = entry.unpack_from(body, offset)
        offset += entry.size
        if offset + attrs_len > len(body) or length > size * 8:
            raise ValueError(f"TABLE_DUMP entry at {offset - entry.size} runs past its record")
        attrs = _attributes(memoryview(body)[offset : offset + attrs_len])
        offset += attrs_len
        yield BgpElement(
            t, "announce", collector, socket.inet_ntop(family, peer_ip), peer_asn,
            f"{socket.inet_ntop(family, prefix)}/{length}",
            attrs.as_path, attrs.origins, attrs.communities,
        )  # fmt: skip


class _Attributes:
    __slots__ = ("announced", "as_path", "communities", "origins", "withdrawn")

    def __init__(self) -> None:
        self.as_path: tuple[int, ...] = ()
        self.origins: tuple[int, ...] = ()
        self.communities: tuple[str, ...] = ()
        self.announced: list[str] = []
        self.withdrawn: list[str] = []


def _attributes(data: memoryview) -> _Attributes:
    found = _Attributes()
    offset = 0
    while offset < len(data):
        flags, code = data[offset], data[offset + 1]
        if flags & 0x10:
            (length,) = struct.unpack_from("!H", data, offset + 2)
            offset += 4
        else:
            length = data[offset + 2]
            offset += 3
        value = data[offset : offset + length]
        if len(value) < length:
            raise ValueError(f"attribute {code} runs past the attributes")
        offset += length
        if code == _ATTR_AS_PATH:
            found.as_path, found.origins = _as_path(value)
        elif code == _ATTR_COMMUNITIES:
            found.communities = tuple(
                f"{a}:{b}" for a, b in struct.iter_unpack("!HH", value[: length - length % 4])
            )
        elif code == _ATTR_MP_REACH:
            found.announced = _mp_reach(value)
        elif code == _ATTR_MP_UNREACH:
            found.withdrawn = _prefixes(value[3:], v6=_afi(value) == 2)
    return found


def _as_path(value: memoryview) -> tuple[tuple[int, ...], tuple[int, ...]]:
    path: list[int] = []
    origins: tuple[int, ...] = ()
    offset = 0
    while offset + 2 <= len(value):
        kind, count = value[offset], value[offset + 1]
        asns = struct.unpack_from(f"!{count}H", value, offset + 2)
        offset += 2 + 2 * count
        path.extend(asns)
        if asns:
            origins = tuple(asns) if kind == _AS_SET else (asns[-1],)
    return tuple(path), origins


def _afi(value: memoryview) -> int:
    (afi,) = struct.unpack_from("!H", value, 0)
    return int(afi)


def _mp_reach(value: memoryview) -> list[str]:
    """MP_REACH_NLRI: AFI, SAFI, next hop, the SNPAs of RFC 2283 (none in practice), NLRI."""
    next_hop_len = value[3]
    offset = 4 + next_hop_len
    snpas = value[offset]
    offset += 1
    for _ in range(snpas):
        offset += 1 + (value[offset] + 1) // 2
    return _prefixes(value[offset:], v6=_afi(value) == 2)


def _prefixes(data: memoryview | bytes, *, v6: bool) -> list[str]:
    """The prefixes of an NLRI field (length in bits, then just enough address bytes)."""
    size = 16 if v6 else 4
    family = socket.AF_INET6 if v6 else socket.AF_INET
    out: list[str] = []
    offset = 0
    while offset < len(data):
        length = data[offset]
        need = (length + 7) // 8
        if length > size * 8 or offset + 1 + need > len(data):
            raise ValueError(f"prefix length {length} at byte {offset} does not fit")
        address = bytes(data[offset + 1 : offset + 1 + need]).ljust(size, b"\0")
        out.append(f"{socket.inet_ntop(family, address)}/{length}")
        offset += 1 + need
    return out


def _name(kind: int) -> str:
    return "BGP (type 5)" if kind == BGP else "TABLE_DUMP"

"""MRT framing: walk a dump's record headers to count records and find where it breaks.

An MRT record is a 12-byte header (timestamp, type, subtype, length; RFC 6396 section 2)
and `length` bytes of body. Walking the headers alone needs no BGP decoding, so it is an
independent check on what a parser read: how many records the file holds, of which
types, and where (at which byte of the uncompressed stream) a torn write, a truncated
end or a damaged compressed stream stops it. Files may be gzip or bzip2 compressed
(recognised by their first bytes) or plain.
"""

from __future__ import annotations

import bz2
import gzip
import io
import struct
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "DEPRECATED",
    "MRT_TYPES",
    "MrtFraming",
    "MrtRecord",
    "mrt_records",
    "open_mrt",
    "scan_mrt",
]

MRT_TYPES: dict[int, str] = {
    1: "START",
    2: "DIE",
    3: "I_AM_DEAD",
    4: "PEER_DOWN",
    5: "BGP",
    6: "RIP",
    7: "IDRP",
    8: "RIPNG",
    9: "BGP4PLUS",
    10: "BGP4PLUS_01",
    11: "OSPFv2",
    12: "TABLE_DUMP",
    13: "TABLE_DUMP_V2",
    16: "BGP4MP",
    17: "BGP4MP_ET",
    32: "ISIS",
    33: "ISIS_ET",
    48: "OSPFv3",
    49: "OSPFv3_ET",
}
"""MRT record types by number (1-10 are the deprecated types of RFC 6396 appendix B)."""

_BGP4MP_DEPRECATED = {2: "BGP4MP_ENTRY", 3: "BGP4MP_SNAPSHOT"}
DEPRECATED = frozenset({*(MRT_TYPES[n] for n in range(1, 11)), *_BGP4MP_DEPRECATED.values()})
"""Names of the deprecated record types and subtypes (RFC 6396 appendix B)."""

_HEADER = struct.Struct("!IHHI")
_TABLE_DUMP = 12
_BGP4MP = 16
_MAX_RECORD = 1 << 24  # no real record is 16 MiB; a larger length is a damaged header


@dataclass(frozen=True, slots=True)
class MrtRecord:
    """One whole MRT record: where it starts (uncompressed byte), its header, its body."""

    offset: int
    time: int
    kind: int
    subtype: int
    body: bytes


@dataclass(slots=True)
class MrtFraming:
    """What walking a file's record headers found.

    `records`: whole records framed; `types`: how many of each type (by name);
    `bytes_read`: uncompressed bytes walked; `error`: why the walk stopped early ("" when
    it reached a clean end), with the byte offset.
    """

    records: int = 0
    types: Counter[str] = field(default_factory=Counter)
    bytes_read: int = 0
    error: str = ""

    @property
    def deprecated_records(self) -> int:
        """Records of a deprecated type or subtype: types 1-10 (1990s collectors wrote BGP
        as type 5) and BGP4MP_ENTRY / BGP4MP_SNAPSHOT (OpenBGPD's old RIB dumps)."""
        return sum(count for name, count in self.types.items() if name in DEPRECATED)


@contextmanager
def open_mrt(path: Path) -> Iterator[io.BufferedIOBase]:
    """The uncompressed byte stream of an MRT file (gzip, bzip2 or plain), closed after.

    OSError when the file cannot be opened.
    """
    with path.open("rb") as raw:
        magic = raw.read(3)
        raw.seek(0)
        if magic[:2] == b"\x1f\x8b":
            with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
                yield unzipped
        elif magic == b"BZh":
            with bz2.BZ2File(raw, mode="rb") as unbzipped:
                yield unbzipped
        else:
            yield raw


def scan_mrt(path: Path) -> MrtFraming:
    """Walk every record header of `path`; never raises for damaged content.

    OSError only when the file cannot be opened at all.
    """
    found = MrtFraming()
    with open_mrt(path) as stream:
        for _ in mrt_records(stream, found):
            pass
    return found


def mrt_records(stream: io.BufferedIOBase, found: MrtFraming) -> Iterator[MrtRecord]:
    """Each whole record of `stream`, counted into `found`; stops at the first damage, which
    `found.error` then describes.

    Early RIS RIB dumps (TABLE_DUMP, 2000) declare each record 4 bytes shorter than
    written: where a TABLE_DUMP record is followed by no header but 4 bytes later by
    another TABLE_DUMP header (or by the end), those 4 bytes are part of the record.
    """
    offset = 0
    try:
        header = stream.read(12)
        while header:
            if len(header) < 12:
                found.error = f"ends inside a record header at byte {offset}"
                return
            t, kind, subtype, length = _HEADER.unpack(header)
            name = MRT_TYPES.get(kind)
            if kind == _BGP4MP:
                name = _BGP4MP_DEPRECATED.get(subtype, name)
            if name is None or length > _MAX_RECORD:
                found.error = (
                    f"no MRT record at byte {offset} (type {kind}, length {length}):"
                    " the file is damaged there"
                )
                return
            body = stream.read(length)
            if len(body) < length:
                found.error = (
                    f"ends inside a {name} record at byte {offset} ({len(body)} of {length} bytes)"
                )
                return
            header = stream.read(12)
            if kind == _TABLE_DUMP:
                body, header = _table_dump_tail(stream, body, header)
            offset += 12 + len(body)
            found.records += 1
            found.types[name] += 1
            found.bytes_read = offset
            yield MrtRecord(offset - 12 - len(body), t, kind, subtype, body)
    except (EOFError, OSError, zlib.error) as exc:
        found.error = f"compressed stream damaged after byte {offset}: {exc}"


def _table_dump_tail(stream: io.BufferedIOBase, body: bytes, header: bytes) -> tuple[bytes, bytes]:
    """The body of a TABLE_DUMP record with the 4 bytes early dumps wrote beyond its declared
    length, and the header that really follows."""
    if len(header) == 4:  # the last record's 4 bytes, then the end
        return body + header, stream.read(12)
    if len(header) == 12 and not _plausible(header):
        shifted = header[4:] + stream.read(4)
        if _plausible(shifted, _TABLE_DUMP):
            return body + header[:4], shifted
        return body, header  # not the quirk: the walk stops at this header
    return body, header


def _plausible(header: bytes, kind: int | None = None) -> bool:
    """Whether 12 bytes read as a record header (of type `kind`, when given)."""
    if len(header) < 12:
        return False
    _, found_kind, _, length = _HEADER.unpack(header)
    if kind is not None and found_kind != kind:
        return False
    return found_kind in MRT_TYPES and length <= _MAX_RECORD

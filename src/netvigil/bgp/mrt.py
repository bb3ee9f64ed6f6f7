"""MRT import: RIS and RouteViews update files and RIB dumps as `BgpElement`s.

    report = import_mrt(Path("updates.20150401.0000.gz"), on_element)
    report.elements, report.error     # what was read; why it stopped early ("" if it did not)

Elements come from bgpkit's parser (`pybgpkit_parser`), except in files of the 1999-2000
RIS archive (MRT type 5, batched TABLE_DUMP), which it cannot read and netvigil decodes
itself (`netvigil.bgp.mrt_legacy`). The file's record headers are also walked on their
own (`netvigil.bgp.mrt_frames`) so that damage the parser passes over in silence (a torn
write, a truncated end, a broken compressed stream) and records nothing decodes are
reported with the file's name instead of passing as a short file. Nothing in a file's
content raises: a damaged file gives what could be read and an error.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pybgpkit_parser  # type: ignore[import-untyped]

from netvigil.bgp.model import BgpElement
from netvigil.bgp.mrt_frames import MrtFraming, mrt_records, open_mrt, scan_mrt
from netvigil.bgp.mrt_legacy import LEGACY_KINDS, legacy_elements

__all__ = ["MrtReport", "collector_of", "element_of", "import_mrt"]

_COLLECTOR = re.compile(r"rrc\d\d|route-views(?:\d+|\.[a-z][a-z0-9]*)?")


@dataclass(slots=True)
class MrtReport:
    """What importing one MRT file read.

    `elements` = `announcements` + `withdrawals`; `peers` counts elements per
    (peer IP, peer ASN); `first_time`/`last_time` bound their timestamps. `framing` is
    the independent walk of the record headers (None when `check` was off). `error`
    says why the file was not read to a clean end, "" when it was.
    """

    path: Path
    collector: str
    elements: int = 0
    announcements: int = 0
    withdrawals: int = 0
    peers: Counter[tuple[str, int]] = field(default_factory=Counter)
    first_time: float | None = None
    last_time: float | None = None
    framing: MrtFraming | None = None
    error: str = ""

    def to_json(self) -> dict[str, Any]:
        """The report as `netvigil bgp import --json` prints it."""
        return {
            "file": str(self.path),
            "collector": self.collector,
            "elements": self.elements,
            "announcements": self.announcements,
            "withdrawals": self.withdrawals,
            "peers": [
                {"peer_ip": ip, "peer_asn": asn, "elements": n}
                for (ip, asn), n in self.peers.most_common()
            ],
            "first_time": self.first_time,
            "last_time": self.last_time,
            "records": self.framing.records if self.framing is not None else None,
            "record_types": dict(self.framing.types) if self.framing is not None else None,
            "error": self.error,
        }


def collector_of(path: Path) -> str:
    """The route collector a dump came from, by its path ("rrc06", "route-views.jinx"),
    else the file's name."""
    found = _COLLECTOR.findall(str(path))
    return found[-1] if found else path.name


def import_mrt(
    path: Path,
    on_element: Callable[[BgpElement], None] | None = None,
    *,
    collector: str | None = None,
    check: bool = True,
) -> MrtReport:
    """Read every element of `path`, handing each to `on_element`; never raises for the
    file's content (an unreadable or damaged file gives `error`, naming the file).

    `check` walks the record headers first (`MrtReport.framing`), to report damage and
    undecodable records the parser skips without a word, and to send the files of the
    1999-2000 RIS archive (MRT type 5, batched TABLE_DUMP), which the parser cannot read,
    to netvigil's own decoder (`netvigil.bgp.mrt_legacy`).
    """
    report = MrtReport(path=path, collector=collector or collector_of(path))
    try:
        framing = scan_mrt(path) if check else None
    except OSError as exc:
        report.error = f"{path}: cannot read: {exc.strerror or exc}"
        return report
    report.framing = framing
    if not path.is_file():
        report.error = f"{path}: not a file"
        return report
    legacy = framing is not None and _is_legacy(framing)
    problems: list[str] = []
    elements = _legacy(path, report.collector, problems) if legacy else _parsed(path, report)
    try:
        _count(elements, report, on_element)
    except Exception as exc:  # the parser raises PanicException (a BaseException) too
        report.error = f"{path}: the parser stopped after {report.elements} elements: {exc}"
    except BaseException as exc:
        if isinstance(exc, KeyboardInterrupt | SystemExit | GeneratorExit):
            raise
        report.error = f"{path}: the parser stopped after {report.elements} elements: {exc}"
    if not report.error:
        found = [_framing_error(framing, report.elements, legacy)] if framing is not None else []
        if problems:
            found.append(f"{len(problems)} records could not be decoded, first {problems[0]}")
        if any(found):
            report.error = f"{path}: " + "; ".join(text for text in found if text)
    return report


def _is_legacy(framing: MrtFraming) -> bool:
    """Whether a file is of the early RIS archive: type 5 or TABLE_DUMP, nothing newer."""
    types = framing.types
    old = types.get("BGP", 0) + types.get("TABLE_DUMP", 0)
    return old > 0 and not (types.get("BGP4MP", 0) or types.get("TABLE_DUMP_V2", 0))


def _parsed(path: Path, report: MrtReport) -> Iterator[BgpElement]:
    """The elements bgpkit's parser reads."""
    collector = report.collector
    for elem in pybgpkit_parser.Parser(url=str(path)):
        yield element_of(elem, collector)


def _legacy(path: Path, collector: str, problems: list[str]) -> Iterator[BgpElement]:
    """The elements of a type-5 / TABLE_DUMP file; each record that cannot be decoded
    is noted in `problems` and skipped."""
    with open_mrt(path) as stream:
        for record in mrt_records(stream, MrtFraming()):
            if record.kind not in LEGACY_KINDS:
                continue
            try:
                elements = legacy_elements(
                    record.time, record.kind, record.subtype, record.body, collector
                )
            except ValueError as exc:
                problems.append(f"at byte {record.offset}: {exc}")
                continue
            yield from elements


def _count(
    elements: Iterable[BgpElement],
    report: MrtReport,
    on_element: Callable[[BgpElement], None] | None,
) -> None:
    peers = report.peers
    first = last = None
    announcements = withdrawals = 0
    try:
        for element in elements:
            if element.kind == "announce":
                announcements += 1
            else:
                withdrawals += 1
            peers[(element.peer_ip, element.peer_asn)] += 1
            t = element.time
            if first is None or t < first:
                first = t
            if last is None or t > last:
                last = t
            if on_element is not None:
                on_element(element)
    finally:
        report.announcements, report.withdrawals = announcements, withdrawals
        report.elements = announcements + withdrawals
        report.first_time, report.last_time = first, last


def element_of(elem: Any, collector: str) -> BgpElement:
    """One `pybgpkit_parser.Elem` as a `BgpElement` of `collector`."""
    if elem.elem_type == "W":
        return BgpElement(
            float(elem.timestamp), "withdraw", collector, elem.peer_ip, elem.peer_asn, elem.prefix
        )
    return BgpElement(
        float(elem.timestamp),
        "announce",
        collector,
        elem.peer_ip,
        elem.peer_asn,
        elem.prefix,
        _path(elem.as_path),
        tuple(elem.origin_asns or ()),
        tuple(elem.communities or ()),
    )


def _path(text: str | None) -> tuple[int, ...]:
    """bgpkit's AS path text ("64500 64501 {64502,64503}") flattened to AS numbers."""
    if not text:
        return ()
    return tuple(int(a) for a in text.replace("{", " ").replace("}", " ").replace(",", " ").split())


def _framing_error(framing: MrtFraming, elements: int, legacy: bool) -> str:
    """What the header walk found wrong with a file the decoder read without complaint."""
    if framing.error:
        return (
            f"damaged: {framing.error}; {framing.records} whole records before it,"
            f" {elements} elements read"
        )
    table_dumps = framing.types.get("TABLE_DUMP", 0)
    if elements < table_dumps:  # each TABLE_DUMP record holds at least one route
        return (
            f"the parser stopped early: {elements} elements from {table_dumps} TABLE_DUMP records"
        )
    undecoded = framing.deprecated_records - (framing.types.get("BGP", 0) if legacy else 0)
    if undecoded:
        kinds = ", ".join(f"{n} {name}" for name, n in sorted(framing.types.items()))
        return (
            f"{undecoded} of {framing.records} records are of a"
            f" deprecated MRT type that is not decoded ({kinds}); {elements} elements read"
        )
    return ""

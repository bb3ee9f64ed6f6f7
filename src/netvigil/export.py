"""Measurement files: JSONL (one `Measurement.to_json()` object per line) and CSV.

    write_jsonl(measurements, fp)       # the lossless format; read back with read_jsonl
    write_csv(measurements, fp)         # one flat row per measurement, for spreadsheets
    for m in read_jsonl(fp, source="run.jsonl"): ...

`read_jsonl` checks every line and raises JSONLError naming the line and field of the
first malformed one (`run.jsonl:3: outcome: Input should be 'ok', ...`).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import IO, Any

from pydantic import TypeAdapter, ValidationError

from netvigil.errors import IngestError
from netvigil.model import Measurement

__all__ = ["CSV_COLUMNS", "TIMING_PHASES", "JSONLError", "read_jsonl", "write_csv", "write_jsonl"]

TIMING_PHASES = ("resolve", "connect", "tls", "ttfb", "total")
"""The timing phases that get a CSV column each (`<phase>_s`)."""

CSV_COLUMNS = (
    "id",
    "ts",
    "time",
    "vantage",
    "target",
    "kind",
    "ok",
    "outcome",
    "phase",
    *(f"{p}_s" for p in TIMING_PHASES),
    "address",
    "detail",
)
"""CSV header: `ts` is epoch seconds, `time` the same instant in ISO-8601 UTC."""

_measurement_adapter: TypeAdapter[Measurement] = TypeAdapter(Measurement)
_compact = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str).encode


class JSONLError(IngestError):
    """A JSONL line is not a valid measurement; `line` is 1-based, `field` may be empty."""

    def __init__(self, source: str, line: int, field: str, message: str) -> None:
        self.source = source
        self.line = line
        self.field = field
        where = f"{source}:{line}: {field}: " if field else f"{source}:{line}: "
        super().__init__(where + message)


def write_jsonl(measurements: Iterable[Measurement], fp: IO[str]) -> int:
    """Write one JSON object per line (`Measurement.to_json()`); returns the count."""
    n = 0
    for m in measurements:
        fp.write(_compact(m.to_json()))
        fp.write("\n")
        n += 1
    return n


def write_csv(measurements: Iterable[Measurement], fp: IO[str], *, header: bool = True) -> int:
    """Write measurements as CSV rows (columns: `CSV_COLUMNS`); returns the count.

    The header row comes first unless `header` is false (when appending a page).
    Timings outside `TIMING_PHASES` are left out (JSONL keeps everything). Open `fp`
    with `newline=""`, as the csv module asks.
    """
    writer = csv.writer(fp)
    if header:
        writer.writerow(CSV_COLUMNS)
    n = 0
    for m in measurements:
        writer.writerow(
            [
                m.id,
                repr(m.ts),
                datetime.fromtimestamp(m.ts, UTC).isoformat(timespec="milliseconds"),
                m.vantage,
                m.target,
                m.kind,
                "true" if m.ok else "false",
                str(m.outcome),
                "" if m.phase is None else str(m.phase),
                *(_number(m.timings.get(p)) for p in TIMING_PHASES),
                m.address or "",
                _compact(m.detail),
            ]
        )
        n += 1
    return n


def read_jsonl(fp: IO[str], *, source: str = "<jsonl>") -> Iterator[Measurement]:
    """Yield the measurement on each non-blank line of `fp`, validated.

    Raises JSONLError (an IngestError) at the first line that is not JSON or not a
    valid measurement, naming `source`, the line number and the field.
    """
    for number, line in enumerate(fp, start=1):
        if not line.strip():
            continue
        try:
            obj: Any = json.loads(line)
        except json.JSONDecodeError as exc:
            raise JSONLError(source, number, "", f"not JSON: {exc.msg}") from exc
        if not isinstance(obj, dict):
            raise JSONLError(source, number, "", "expected a JSON object")
        try:
            yield _measurement_adapter.validate_python(obj)
        except ValidationError as exc:
            first = exc.errors()[0]
            field = ".".join(str(part) for part in first["loc"])
            raise JSONLError(source, number, field, first["msg"]) from exc


def _number(value: float | None) -> str:
    return "" if value is None else repr(value)

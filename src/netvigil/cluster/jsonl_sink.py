"""A measurement sink writing one JSON object per line to a file, for tests and debugging.

    sink = JSONLSink.open("prober-1.jsonl")
    monitor = Monitor(targets, probes, [sink], ...)
    ...
    sink.close()

Each line is `Measurement.to_json()` (the format of `netvigil export --format jsonl`),
written and flushed as the measurement arrives, so a reader sees it at once and a
process killed outright loses at most the line it was writing. Lines are appended:
several runs into one file add up.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TextIO

from netvigil.model import Measurement

__all__ = ["JSONLSink"]


class JSONLSink:
    """Appends each submitted measurement to a file as a JSON line (see the module docs)."""

    def __init__(self, stream: TextIO, path: Path) -> None:
        self.path = path
        self._stream = stream
        self.written = 0
        """Measurements written so far."""

    @classmethod
    def open(cls, path: str | Path) -> JSONLSink:
        """Open `path` for appending (created if missing). Raises OSError."""
        target = Path(path)
        return cls(target.open("a", encoding="utf-8"), target)

    def submit(self, m: Measurement) -> None:
        """Write `m` as one line and flush it."""
        self._stream.write(json.dumps(m.to_json(), separators=(",", ":")) + "\n")
        self._stream.flush()
        self.written += 1

    def close(self) -> None:
        """Close the file."""
        self._stream.close()

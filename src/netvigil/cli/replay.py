"""`netvigil replay FILE.jsonl -c CONFIG`: detect incidents in recorded measurements.

The same Detector as `netvigil run`, fed from a file in the `netvigil export --format
jsonl` format instead of the probes, as fast as it can read: time comes only from the
measurements' timestamps, so the same file and config always give the same incidents.
"""

from __future__ import annotations

import json
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import IO, Annotated

import typer

from netvigil.cli._common import output_console, required_config
from netvigil.cli.incidents import incidents_table
from netvigil.config import load_config
from netvigil.detect.detector import Detector
from netvigil.errors import NetvigilError
from netvigil.export import read_jsonl


def replay(
    file: Annotated[
        Path,
        typer.Argument(
            help="Measurements as JSON lines (`netvigil export --format jsonl`); - for stdin.",
            show_default=False,
        ),
    ],
    config_path: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="netvigil.toml naming the targets (default: ./netvigil.toml).",
            show_default=False,
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One incident per line as JSON.")] = False,
    lateness: Annotated[
        float,
        typer.Option(
            "--lateness",
            min=0,
            help="Seconds a measurement may be out of order in the file and still count.",
        ),
    ] = 30.0,
) -> None:
    """Run detection over recorded measurements, faster than real time and deterministic.

    Prints the incidents found, oldest first. A malformed line stops the replay with an
    error naming FILE:LINE: FIELD (exit 1); a bad config exits 2.
    """
    config = load_config(required_config(config_path))
    detector = Detector(config, lateness_s=lateness)
    count = 0
    with ExitStack() as stack:
        fp: IO[str]
        if str(file) == "-":
            fp, source = sys.stdin, "<stdin>"
        else:
            try:
                fp = stack.enter_context(file.open(encoding="utf-8"))
            except OSError as exc:
                raise NetvigilError(f"{file}: cannot read: {exc.strerror or exc}") from exc
            source = str(file)
        for m in read_jsonl(fp, source=source):
            detector.feed(m)
            count += 1
    detector.flush()
    found = detector.incidents()
    late = f", {detector.late} dropped as later than --lateness" if detector.late else ""
    typer.echo(f"replayed {count} measurements{late}: {len(found)} incident(s)", err=True)
    if as_json:
        for inc in found:
            sys.stdout.write(json.dumps(inc.to_json(), separators=(",", ":")) + "\n")
        return
    end = max((i.end or i.updated for i in found), default=0.0)
    output_console().print(incidents_table(found, title=f"incidents in {source}", now=end))

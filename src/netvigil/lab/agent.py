"""The lab's vantage agent: probes a netvigil config from inside a namespace, writes JSONL.

    python -m netvigil.lab.agent --config tirana.toml --once [--target NAME ...]
    python -m netvigil.lab.agent --config tirana.toml --out tirana.jsonl --duration 120

`--once` probes every target (or the named ones) once and prints one measurement per
line; otherwise the agent runs `netvigil.monitor.Monitor` on the config's schedule for
`--duration` seconds and appends each measurement to `--out` as it comes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from netvigil.config import load_config
from netvigil.model import Measurement
from netvigil.monitor import Monitor
from netvigil.probes import ProbeSet
from netvigil.shutdown import stop_event

__all__ = ["JSONLSink", "main"]


class JSONLSink:
    """A measurement sink that writes one JSON object per line and flushes each."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.count = 0

    def submit(self, m: Measurement) -> None:
        self.stream.write(json.dumps(m.to_json()) + "\n")
        self.stream.flush()
        self.count += 1


def _open_append(path: Path) -> IO[str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path.open("a", encoding="utf-8")


async def run_agent(args: argparse.Namespace) -> int:
    """Probe as the arguments say; returns the exit status."""
    config = load_config(args.config)
    targets = [t for t in config.targets if not args.target or t.name in args.target]
    async with ProbeSet() as probes:
        if args.once:
            sink = JSONLSink(sys.stdout)
            monitor = Monitor(targets, probes, [sink], config.vantage.name, config.scheduler)
            await monitor.run_once(targets)
            return 0
        with _open_append(Path(args.out)) as stream:
            sink = JSONLSink(stream)
            monitor = Monitor(targets, probes, [sink], config.vantage.name, config.scheduler)
            await monitor.run(stop_event(args.duration))
    return 0


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry."""
    parser = argparse.ArgumentParser(prog="netvigil.lab.agent")
    parser.add_argument("--config", required=True)
    parser.add_argument("--once", action="store_true")
    parser.add_argument("--target", action="append", default=[])
    parser.add_argument("--out")
    parser.add_argument("--duration", type=float, default=60.0)
    args = parser.parse_args(argv)
    if not args.once and not args.out:
        parser.error("give --once or --out FILE")
    sys.exit(asyncio.run(run_agent(args)))


if __name__ == "__main__":
    main()

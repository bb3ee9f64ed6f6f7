"""`netvigil bgp import FILE...` and `netvigil bgp watch`: BGP data by hand.

`import` reads MRT update files and RIB dumps (gz, bz2 or plain) and prints what they
hold (announcements, withdrawals, elements per collector peer) and how visible each
configured network was over them; a damaged file is read as far as it goes and its
error, naming it, ends the command with exit code 1. `watch` runs the config's `[[bgp]]`
feeds and prints each visibility sample and event as it comes.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from netvigil.bgp.feed import BgpFeed
from netvigil.bgp.mrt import MrtReport, import_mrt
from netvigil.bgp.visibility import PrefixVisibility
from netvigil.cli._common import ConfigOption, load_optional_config, output_console, required_config
from netvigil.cli._loop import run_async
from netvigil.config import load_config
from netvigil.errors import ConfigError
from netvigil.shutdown import stop_event
from netvigil.signal import SignalEvent, SignalSample

app = typer.Typer(help="BGP data: import MRT files, watch the RIS Live feed.", no_args_is_help=True)

PEERS_SHOWN = 20
"""Peers listed per file in the text output (--json lists them all)."""


class _Collected:
    """A sink that keeps every sample and event (the command prints them at the end)."""

    def __init__(self) -> None:
        self.samples: list[SignalSample] = []
        self.events: list[SignalEvent] = []

    def sample(self, sample: SignalSample) -> None:
        self.samples.append(sample)

    def event(self, event: SignalEvent) -> None:
        self.events.append(event)


@app.command("import")
def import_files(
    files: Annotated[list[Path], typer.Argument(help="MRT files (gz, bz2 or plain).")],
    config_path: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """Read MRT FILEs: element counts per file and peer, each network's visibility over them."""
    config = load_optional_config(config_path)
    collected = _Collected()
    networks = config.networks if config is not None else []
    visibility = PrefixVisibility(networks, collected, source="mrt")
    reports = [import_mrt(path, visibility.update) for path in files]
    visibility.flush(visibility.latest + visibility.hold_s)
    summary = [_network_summary(name, visibility, collected) for name in visibility.networks]
    if as_json:
        document = {"files": [r.to_json() for r in reports], "networks": summary}
        typer.echo(json.dumps(document, indent=2))
    else:
        _print_text(reports, summary)
    failed = [r for r in reports if r.error]
    for report in failed:
        typer.echo(f"error: {report.error}", err=True)
    if failed:
        raise typer.Exit(1)


@app.command("watch")
def watch(
    config_path: ConfigOption = None,
    duration: Annotated[
        float | None, typer.Option(min=1, help="Stop after this many seconds.")
    ] = None,
) -> None:
    """Run the config's [[bgp]] feeds and print visibility samples and events as they come."""
    path = required_config(config_path)
    config = load_config(path)
    feed = BgpFeed.from_config(config, base=path.parent)
    if feed is None:
        raise ConfigError(str(path), [("bgp", "no [[bgp]] section: nothing to watch")])
    run_async(_watch(feed, duration))


class _Printer:
    """A sink printing one line per sample and event."""

    def sample(self, sample: SignalSample) -> None:
        typer.echo(f"{_when(sample.t)} {sample.entity} {sample.signal} {sample.value:.3f}")

    def event(self, event: SignalEvent) -> None:
        where = f" {event.prefix}" if event.prefix else ""
        typer.echo(f"{_when(event.t)} {event.entity} {event.kind}{where}: {event.detail}")


async def _watch(feed: BgpFeed, duration: float | None) -> None:
    stop = stop_event(duration)
    runner = asyncio.create_task(feed.run(_Printer()))
    await stop.wait()
    feed.stop()
    await runner


def _network_summary(name: str, visibility: PrefixVisibility, seen: _Collected) -> dict[str, Any]:
    """One network over the files: the last visibility, its lowest sample, its events."""
    now = visibility.visibility(name)
    values = [s.value for s in seen.samples if s.entity == name]
    kinds = Counter(e.kind for e in seen.events if e.entity == name)
    return {
        "network": name,
        "visibility": now.value if now is not None else None,
        "peers_seeing": now.peers_seeing if now is not None else 0,
        "peers_total": now.peers_total if now is not None else 0,
        "samples": len(values),
        "lowest": min(values) if values else None,
        "events": dict(sorted(kinds.items())),
        "last_events": [asdict(e) for e in seen.events if e.entity == name][-5:],
    }


def _print_text(reports: list[MrtReport], summary: list[dict[str, Any]]) -> None:
    console = output_console()
    for r in reports:
        records = f", {r.framing.records} records" if r.framing is not None else ""
        span = ""
        if r.first_time is not None and r.last_time is not None:
            span = f", {_when(r.first_time)} to {_when(r.last_time)}"
        console.print(
            f"{r.path}: [bold]{r.elements}[/bold] elements ({r.announcements} announcements,"
            f" {r.withdrawals} withdrawals) from {len(r.peers)} peers of {r.collector}"
            f"{records}{span}",
            highlight=False,
            soft_wrap=True,
        )
        for (ip, asn), count in r.peers.most_common(PEERS_SHOWN):
            console.print(f"  {ip} AS{asn}: {count}", highlight=False)
        if len(r.peers) > PEERS_SHOWN:
            console.print(f"  ... and {len(r.peers) - PEERS_SHOWN} more peers", highlight=False)
    for n in summary:
        value = "unknown" if n["visibility"] is None else f"{n['visibility']:.3f}"
        lowest = "" if n["lowest"] is None else f", lowest {n['lowest']:.3f}"
        events = ", ".join(f"{k} {v}" for k, v in n["events"].items()) or "no events"
        console.print(
            f"network {n['network']}: visibility {value} ({n['peers_seeing']} of"
            f" {n['peers_total']} peers){lowest}; {events}",
            highlight=False,
        )
    sys.stdout.flush()


def _when(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S")

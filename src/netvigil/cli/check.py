"""`netvigil check TARGET...`: ad-hoc checks with a table or JSON lines."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from netvigil.cli._common import output_console
from netvigil.cli._loop import run_async
from netvigil.cli._time import format_ts
from netvigil.config.load import read_text_file
from netvigil.config.model import SchedulerConfig
from netvigil.errors import ConfigError
from netvigil.model import Measurement
from netvigil.monitor import Monitor
from netvigil.outcome import Outcome
from netvigil.probes import DNSSpec, HTTPSpec, ProbeSet, TargetSpec, TLSSpec
from netvigil.probes.connect import is_ip_literal
from netvigil.target_url import parse_target_url, parse_target_urls

TIMING_COLUMNS = ("resolve", "connect", "tls", "ttfb", "total")


def check(
    targets: Annotated[
        list[str] | None,
        typer.Argument(
            help="Targets as URLs: https://host/path, http://..., tcp://host:port, "
            "tls://host:port, icmp://host, dns://resolver[:port]/name?type=A",
            show_default=False,
        ),
    ] = None,
    from_file: Annotated[
        Path | None, typer.Option("--from", help="Read targets one per line from FILE.")
    ] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object per measurement per line.")
    ] = False,
    timeout: Annotated[
        float, typer.Option("--timeout", min=0.1, max=300, help="Timeout of each check, seconds.")
    ] = 10.0,
    vantage: Annotated[str, typer.Option(help="Name of this vantage in the output.")] = "local",
    ca_file: Annotated[
        Path | None,
        typer.Option(
            "--ca-file",
            exists=True,
            dir_okay=False,
            help="PEM file of CAs to trust for https:// and tls:// instead of the system's.",
        ),
    ] = None,
    insecure: Annotated[
        bool,
        typer.Option(
            "--insecure", help="Do not verify certificates of https:// and tls:// targets."
        ),
    ] = False,
) -> None:
    """Check targets once and show outcomes and timings; exit 1 if any check fails."""
    specs: list[TargetSpec] = [
        parse_target_url(t, timeout_s=timeout, source="argument") for t in targets or []
    ]
    if from_file is not None:
        lines = read_text_file(from_file).splitlines()
        specs += parse_target_urls(lines, source=str(from_file), timeout_s=timeout)
    _refuse_named_resolvers(specs)
    if not specs:
        raise typer.BadParameter("give at least one TARGET or --from FILE", param_hint="TARGET")
    specs = [with_tls_options(s, ca_file, verify=not insecure) for s in specs]
    specs = list({s.name: s for s in specs}.values())
    measurements = run_async(_measure(specs, vantage))
    if as_json:
        for m in measurements:
            sys.stdout.write(json.dumps(m.to_json(), separators=(",", ":")) + "\n")
    else:
        output_console().print(_table(measurements))
    if not all(m.ok for m in measurements):
        raise typer.Exit(1)


def _refuse_named_resolvers(specs: list[TargetSpec]) -> None:
    """A dns:// target must name its resolver by address: a name would need a resolver."""
    problems = [
        (s.name, f"the resolver must be an IP address like 9.9.9.9, not {s.resolver!r}")
        for s in specs
        if isinstance(s, DNSSpec) and not is_ip_literal(s.resolver)
    ]
    if problems:
        raise ConfigError("argument", problems)


def with_tls_options(spec: TargetSpec, ca_file: Path | None, *, verify: bool) -> TargetSpec:
    """`spec` with --ca-file and --insecure applied (HTTP and TLS targets; others as they are)."""
    ca = None if ca_file is None else str(ca_file)
    if isinstance(spec, HTTPSpec):
        return spec.model_copy(update={"verify_tls": verify, "ca_file": ca or spec.ca_file})
    if isinstance(spec, TLSSpec):
        return spec.model_copy(update={"verify": verify, "ca_file": ca or spec.ca_file})
    return spec


async def _measure(specs: list[TargetSpec], vantage: str) -> list[Measurement]:
    async with ProbeSet() as probes:
        monitor = Monitor(specs, probes, [], vantage, SchedulerConfig())
        return await monitor.run_once(specs)


def _table(measurements: list[Measurement]) -> Table:
    table = Table(box=None, header_style="bold")
    table.add_column("target")
    table.add_column("kind")
    table.add_column("outcome")
    table.add_column("phase")
    for name in TIMING_COLUMNS:
        table.add_column(f"{name} ms", justify="right")
    table.add_column("detail", overflow="fold")
    for m in measurements:
        colour = "green" if m.ok else "red"
        timings = [
            f"{m.timings[name] * 1000:.1f}" if name in m.timings else "" for name in TIMING_COLUMNS
        ]
        table.add_row(
            m.target,
            m.kind,
            f"[{colour}]{m.outcome.value}[/{colour}]",
            m.phase.value if m.phase else "",
            *timings,
            summarise_detail(m),
        )
    if measurements:
        table.caption = f"vantage {measurements[0].vantage} at {format_ts(measurements[0].ts)}"
    return table


def summarise_detail(m: Measurement) -> str:
    """A short human summary of a measurement's detail (status, answers, cert, error)."""
    d = m.detail
    parts: list[str] = []
    keys = ["status", "rcode", "answers", "protocol", "days_to_expiry", "loss"]
    if m.outcome is Outcome.UNKNOWN:
        keys.append("error")
    for key in keys:
        if key in d and d[key] not in (None, "", []):
            value = d[key]
            if isinstance(value, list):
                value = ",".join(str(v) for v in value[:3])
            parts.append(f"{key}={value}")
    return " ".join(parts)

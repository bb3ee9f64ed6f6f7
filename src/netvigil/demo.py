"""The demo: Albania, July 2022, replayed in the lab while netvigil watches.

    python -m netvigil.demo            # or `make demo`; needs root (network namespaces)

Brings the lab up, plays `scenarios/albania-2022.toml` (a flood on the government
network, then the operator shuts it down while still under attack; the tax portal on
another network stays up; service returns) on its compressed clock, shows what netvigil
sees as it happens, writes the incident report into `out/demo/`, prints where, and
tears the lab down. About four minutes. Without root or netns support it says what is
missing and how to get it, and exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from netvigil.errors import ConfigError, NetvigilError
from netvigil.lab import netns
from netvigil.lab.config import detector_config
from netvigil.lab.scenario import Scenario, ScenarioResult, ScenarioRunner, load_scenario
from netvigil.lab.score import run_report
from netvigil.lab.show import LiveView
from netvigil.lab.summary import describe_expectation, summary_lines
from netvigil.lab.topology import Topology
from netvigil.model import Measurement

__all__ = ["default_scenario", "main", "write_summary"]


def default_scenario() -> Path:
    """`scenarios/albania-2022.toml` of this source tree, else of the current folder."""
    for base in (Path(__file__).resolve().parents[2], Path.cwd()):
        path = base / "scenarios" / "albania-2022.toml"
        if path.exists():
            return path
    return Path("scenarios") / "albania-2022.toml"


def write_summary(doc: dict[str, Any], out: Path) -> Path:
    """A Markdown summary of a scored run: what netvigil reported, and how it did."""
    lines = [f"# {doc['scenario']}: what netvigil saw", "", doc.get("description", ""), ""]
    lines += ["## Timeline (seconds from the start)", ""]
    for f in doc["faults"]:
        lines.append(f"- t={f['at']:g}-{f['until']:g}s: `{f['kind']}` on `{f['target']}`")
    lines += ["", "## Incidents", ""]
    if not doc["incidents"]:
        lines.append("None.")
    for inc in doc["incidents"]:
        what = f"vantage {inc['vantage']}" if inc["vantage"] else ", ".join(inc["services"])
        end = "still open" if inc["end"] is None else f"until t={inc['end']:.0f}s"
        confirmed = inc["confirmed_at"]
        lines.append(
            f"### {what}: {inc['cause']} ({inc['confidence']:.2f})"
            if what
            else f"### {inc['cause']} ({inc['confidence']:.2f})"
        )
        lines.append("")
        lines.append(
            f"From t={inc['start']:.0f}s {end}"
            + ("" if confirmed is None else f", confirmed at t={confirmed:.0f}s")
            + f"; seen from {', '.join(inc['vantages']) or '-'}."
        )
        history = " -> ".join(
            f"{c['cause']} {c['confidence']:.2f} (t={c['at']:.0f}s)" for c in inc["cause_history"]
        )
        if history:
            lines.append(f"Cause over time: {history}.")
        lines.append("")
        lines += [f"- {e}" for e in inc["evidence"]]
        lines.append("")
    sc = doc["score"]
    lines += ["## Against the ground truth", ""]
    lines += ["- " + describe_expectation(e, markdown=True) for e in sc["expectations"]]
    lines.append(f"- false incidents: {len(sc['false_incidents'])}")
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


async def _full_reports(
    doc_incidents: list[str],
    measurements: Sequence[Measurement],
    topology: Topology,
    scenario: Scenario,
    out: Path,
) -> list[Path]:
    """Incident reports with figures (`netvigil.report`), from a store of the run."""
    from netvigil.replay import replay
    from netvigil.report import build_report, write_report
    from netvigil.store.sqlite import SQLiteStore

    config = detector_config(
        topology, interval_s=scenario.probe_interval_s, timeout_s=scenario.probe_timeout_s
    )
    ordered = sorted(measurements, key=lambda m: (m.ts, m.id))  # one file per vantage
    incidents = [i for i in replay(ordered, config) if i.id in doc_incidents]
    db = out / "demo.db"
    db.unlink(missing_ok=True)
    written: list[Path] = []
    async with await SQLiteStore.open(db) as store:
        await store.add(list(measurements))
        for n, inc in enumerate(incidents, 1):
            report = await build_report(inc, store, config, now=max(m.ts for m in measurements))
            written += write_report(report, out / f"incident-{n}.md")
    return written


def _say(text: str = "", *, err: bool = False) -> None:
    stream = sys.stderr if err else sys.stdout
    stream.write(text + "\n")
    stream.flush()


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m netvigil.demo", description=__doc__)
    parser.add_argument("--scenario", type=Path, default=None, help="scenario file")
    parser.add_argument("--out", type=Path, default=Path("out/demo"), help="report folder")
    parser.add_argument("--plain", action="store_true", help="plain lines, no live view")
    return parser.parse_args(argv)


def _play(scenario: Scenario, path: Path, out: Path, *, plain: bool) -> ScenarioResult:
    """Run the scenario in a fresh lab with the live view; the lab is down afterwards."""
    view = LiveView(
        interval_s=scenario.probe_interval_s,
        timeout_s=scenario.probe_timeout_s,
        plain=True if plain else None,
    )
    _say(
        f"netvigil demo: {scenario.name}: {scenario.description}. "
        f"About {scenario.duration_s / 60:.0f} min; Ctrl-C stops it and removes the lab."
    )
    runner = ScenarioRunner(
        scenario,
        scenario_path=path,
        out_dir=out,
        progress=view.note,
        sleep=view.sleep,
        on_start=view.start,
    )
    try:
        return runner.run()
    finally:
        view.close()


def _write_reports(
    doc: dict[str, Any], result: ScenarioResult, scenario: Scenario, out: Path
) -> list[Path]:
    """`incidents.json`, `summary.md` and, when they can be made, the full reports."""
    assert result.topology is not None
    incidents_json = out / "incidents.json"
    incidents_json.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    written = [incidents_json, write_summary(doc, out / "summary.md")]
    try:
        written += asyncio.run(
            _full_reports(
                [i["id"] for i in doc["incidents"]],
                result.records,
                result.topology,
                scenario,
                out,
            )
        )
    except Exception as exc:  # the summary above stands on its own
        _say(f"note: no full incident report ({type(exc).__name__}: {exc})", err=True)
    return written


def _tell(doc: dict[str, Any], out: Path, written: list[Path]) -> None:
    """What netvigil reported, and where the report went."""
    _say("")
    _say(f"netvigil reported {len(doc['incidents'])} incident(s):")
    for line in summary_lines(doc)[1:]:
        _say(line)
    _say("")
    _say(f"report written to {out.resolve()}/:")
    for p in written:
        if p.suffix != ".png":
            _say(f"  {p}")
    pngs = [p for p in written if p.suffix == ".png"]
    if pngs:
        _say(f"  (+ {len(pngs)} figures)")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo; returns the exit status."""
    args = _arguments(argv)
    t0 = time.monotonic()
    try:
        netns.check_support()
    except NetvigilError as exc:
        _say(f"error: {exc}", err=True)
        return 1
    path = args.scenario or default_scenario()
    try:
        scenario = load_scenario(path)
    except ConfigError as exc:
        _say(f"error: {exc}", err=True)
        return 2
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    try:
        result = _play(scenario, path, out, plain=args.plain)
    except NetvigilError as exc:
        _say(f"error: {exc}", err=True)
        return 1
    except KeyboardInterrupt:
        _say("stopped; the lab is down", err=True)
        return 130
    assert result.topology is not None
    doc, _ = run_report(
        scenario,
        result.topology,
        started=result.started,
        measurements=result.records,
        windows=result.windows,
        feed=result.feed,
    )
    _tell(doc, out, _write_reports(doc, result, scenario, out))
    _say(f"the lab is down; the demo took {time.monotonic() - t0:.0f}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

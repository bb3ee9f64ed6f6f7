"""`netvigil lab up|down|status|run`: the lab of network namespaces, and scenarios in it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from netvigil.lab import lab_down, lab_status, lab_up
from netvigil.lab.scenario import ScenarioRunner, load_scenario
from netvigil.lab.score import run_report
from netvigil.lab.show import LiveView
from netvigil.lab.summary import summary_lines

__all__ = ["app", "resolve_scenario"]

app = typer.Typer(
    help="A small internet in network namespaces (needs root): build it, break it, score netvigil.",
    no_args_is_help=True,
)

TopologyOption = Annotated[
    Path | None,
    typer.Option(
        "--topology", "-t", help="Topology file (default: the built-in one).", show_default=False
    ),
]


def _echo(text: str) -> None:
    typer.echo(text)


@app.command("up")
def up(topology: TopologyOption = None) -> None:
    """Build the lab (namespaces, links, servers). Anything left by an earlier lab goes first."""
    lab = lab_up(topology)
    topo = lab.topology
    _echo(
        f"lab {topo.name!r} is up: {len(topo.networks)} networks, {len(topo.hosts)} hosts, "
        f"{len(lab.processes)} processes; state in {lab.state_dir}"
    )
    vantages = ", ".join(h.name for h in topo.hosts_with("vantage"))
    _echo(f"vantages: {vantages}; `netvigil lab down` removes it all")


@app.command("down")
def down() -> None:
    """Remove everything the lab made (idempotent; also after a crash)."""
    removed = lab_down()
    namespaces = sum(r.startswith("namespace ") for r in removed)
    processes = sum(r.startswith("process ") for r in removed)
    links = sum(r.startswith("link ") for r in removed)
    faults = sum(r.startswith("fault ") for r in removed)
    if not removed:
        _echo("nothing to remove: no lab is up")
    else:
        undone = f"undid {faults} faults, " if faults else ""
        _echo(f"{undone}removed {namespaces} namespaces, {processes} processes, {links} links")


@app.command("status")
def status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """What of the lab exists now: namespaces, processes, active faults."""
    st = lab_status()
    if as_json:
        _echo(json.dumps(st.to_json(), indent=2))
        return
    if not st.up:
        _echo("no lab is up")
        return
    _echo(f"lab {st.topology or '(unknown topology)'} is up: {len(st.namespaces)} namespaces")
    _echo(f"processes: {len(st.processes)} ({len(st.dead_processes)} dead)")
    for key in st.dead_processes:
        _echo(f"  dead: {key}")
    _echo(f"active faults: {', '.join(st.active_faults) or 'none'}")


def resolve_scenario(name: str) -> Path:
    """A scenario file: the path as given, else `scenarios/<name>.toml` in this folder."""
    path = Path(name)
    if path.suffix or "/" in name:
        return path
    candidate = Path("scenarios") / f"{name}.toml"
    try:
        return candidate if not path.exists() and candidate.exists() else path
    except OSError:  # unreadable folder: let loading the file say so
        return path


@app.command("run")
def run(
    scenario: Annotated[
        str, typer.Argument(help="Scenario file, or the name of one in ./scenarios.")
    ],
    json_out: Annotated[
        Path | None,
        typer.Option(
            "--json",
            help="Write what netvigil reported, the ground truth and the score here ('-': stdout).",
            show_default=False,
        ),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Save the measurements (JSONL) and outcome counts here.",
            show_default=False,
        ),
    ] = None,
    topology: TopologyOption = None,
    live: Annotated[
        bool | None,
        typer.Option("--live/--plain", help="Live view (default on a terminal) or plain lines."),
    ] = None,
) -> None:
    """Run a scenario with netvigil watching, then score what it reported against the truth."""
    path = resolve_scenario(scenario)
    spec = load_scenario(path)
    to_stdout = json_out is not None and str(json_out) == "-"
    view = LiveView(
        interval_s=spec.probe_interval_s,
        timeout_s=spec.probe_timeout_s,
        plain=None if live is None else not live,
        out=sys.stderr if to_stdout else sys.stdout,
    )
    runner = ScenarioRunner(
        spec,
        scenario_path=path,
        topology_path=topology,
        out_dir=out_dir,
        progress=view.note,
        sleep=view.sleep,
        on_start=view.start,
    )
    try:
        result = runner.run()
    finally:
        view.close()
    assert result.topology is not None
    doc, _ = run_report(
        spec,
        result.topology,
        started=result.started,
        measurements=result.records,
        windows=result.windows,
    )
    doc["scenario_file"] = str(path)
    if json_out is not None:
        text = json.dumps(doc, indent=2)
        if to_stdout:
            sys.stdout.write(text + "\n")
        else:
            json_out.parent.mkdir(parents=True, exist_ok=True)
            json_out.write_text(text + "\n", encoding="utf-8")
    sink = sys.stderr if to_stdout else sys.stdout
    for line in summary_lines(doc):
        print(line, file=sink)
    if json_out is not None and not to_stdout:
        print(f"wrote {json_out}", file=sink)

"""`netvigil lab up|down|status|run|fuzz`: the lab of network namespaces, and scenarios in it."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from netvigil.errors import LabError
from netvigil.lab import lab_down, lab_status, lab_up
from netvigil.lab.fuzz import FuzzSettings, compose_many, write_scenario
from netvigil.lab.scenario import Scenario, ScenarioRunner, load_scenario
from netvigil.lab.score import ScenarioScore, run_report
from netvigil.lab.show import LiveView
from netvigil.lab.summary import summarize_scores, summary_lines
from netvigil.lab.topology import load_topology

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


def _play(
    spec: Scenario,
    path: Path,
    *,
    out_dir: Path | None,
    topology: Path | None,
    live: bool | None,
    out: TextIO,
) -> tuple[dict[str, Any], ScenarioScore]:
    """Run one scenario in a fresh lab with the live view, then replay and score it."""
    view = LiveView(
        interval_s=spec.probe_interval_s,
        timeout_s=spec.probe_timeout_s,
        plain=None if live is None else not live,
        out=out,
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
    doc, score = run_report(
        spec,
        result.topology,
        started=result.started,
        measurements=result.records,
        windows=result.windows,
        feed=result.feed,
    )
    doc["scenario_file"] = str(path)
    return doc, score


def _write_json(doc: dict[str, Any], json_out: Path) -> None:
    text = json.dumps(doc, indent=2)
    if str(json_out) == "-":
        sys.stdout.write(text + "\n")
    else:
        json_out.parent.mkdir(parents=True, exist_ok=True)
        json_out.write_text(text + "\n", encoding="utf-8")


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
    sink = sys.stderr if to_stdout else sys.stdout
    doc, _ = _play(spec, path, out_dir=out_dir, topology=topology, live=live, out=sink)
    if json_out is not None:
        _write_json(doc, json_out)
    for line in summary_lines(doc):
        print(line, file=sink)
    if json_out is not None and not to_stdout:
        print(f"wrote {json_out}", file=sink)


@app.command("fuzz")
def fuzz(
    seed: Annotated[int, typer.Option("--seed", help="Random seed: the same seed, the same runs.")],
    count: Annotated[int, typer.Option("--count", min=1, max=1000, help="Scenarios to compose.")],
    json_out: Annotated[
        Path | None,
        typer.Option(
            "--json",
            help="Write every run's report and the totals here ('-': stdout).",
            show_default=False,
        ),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Where the scenario files and runs go (default out/fuzz-SEED).",
            show_default=False,
        ),
    ] = None,
    quick: Annotated[
        bool,
        typer.Option("--quick", help="Short scenarios (one fault of 8-12 s): a smoke test."),
    ] = False,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only compose and write the scenario files.")
    ] = False,
    topology: TopologyOption = None,
    live: Annotated[
        bool | None,
        typer.Option("--live/--plain", help="Live view (default on a terminal) or plain lines."),
    ] = None,
) -> None:
    """Compose scenarios at random from the fault kinds, write them as TOML, run and score them."""
    directory = out_dir or Path("out") / f"fuzz-{seed}"
    topo = load_topology(topology)
    scenarios = compose_many(seed, count, topo, FuzzSettings.quick() if quick else None)
    if topology is not None:
        scenarios = [s.model_copy(update={"topology": str(topology.resolve())}) for s in scenarios]
    paths = [write_scenario(s, directory) for s in scenarios]
    to_stdout = json_out is not None and str(json_out) == "-"
    sink = sys.stderr if to_stdout else sys.stdout
    for s, p in zip(scenarios, paths, strict=True):
        print(f"{p}: {s.description}", file=sink)
    if dry_run:
        return
    docs: list[dict[str, Any]] = []
    scores: list[ScenarioScore] = []
    failed: list[str] = []
    for s, p in zip(scenarios, paths, strict=True):
        try:
            doc, score = _play(s, p, out_dir=directory, topology=topology, live=live, out=sink)
        except LabError as exc:  # one broken run must not lose the others
            print(f"{s.name}: {exc}", file=sink)
            failed.append(s.name)
            continue
        docs.append(doc)
        scores.append(score)
        for line in summary_lines(doc):
            print(line, file=sink)
    total = summarize_scores(scores)
    if json_out is not None:
        report = {"seed": seed, "count": count, "failed": failed, "runs": docs, "total": total}
        _write_json(report, json_out)
    print(f"total over {len(scores)} run(s): " + json.dumps(total), file=sink)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sink)

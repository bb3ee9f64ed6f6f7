"""`netvigil cluster up | status | down`: the scale-out mode on this machine.

`up` starts PostgreSQL and NATS (from their wheels), two collectors, a detector, the web
and three agents measuring as three vantages, against loopback services it starts
itself; prints what runs where; then stops one service for `--fault` seconds, brings it
back and prints the incident the detector stored. The cluster keeps running until
`down` stops every process it started and removes what it made.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Annotated

import typer

from netvigil.cli._loop import run_async
from netvigil.cluster_local import (
    DEFAULT_BASE_PORT,
    FAULTED_SERVICE,
    ClusterLayout,
    ClusterPlan,
    ClusterState,
    LocalClusterError,
    PortPlan,
    bring_up,
    describe_cluster,
    describe_incident,
    run_fault,
    take_down,
)
from netvigil.cluster_local.processes import alive
from netvigil.store.postgres import PostgresStore

__all__ = ["app"]

app = typer.Typer(help="Run the scale-out mode on this machine (loopback only).")

DEFAULT_DIR = Path(tempfile.gettempdir()) / "netvigil-cluster"

DirOption = Annotated[
    Path,
    typer.Option(
        "--dir",
        help="The cluster's folder: configs, logs, data and its state file.",
        file_okay=False,
    ),
]


def _say(text: str) -> None:
    typer.echo(text)


@app.command("up")
def up(
    folder: DirOption = DEFAULT_DIR,
    base_port: Annotated[
        int,
        typer.Option(min=1024, max=65000, help="First of the ports used (nine in a row)."),
    ] = DEFAULT_BASE_PORT,
    interval: Annotated[
        float, typer.Option(min=0.5, max=60, help="Seconds between probes of each target.")
    ] = 2.0,
    fault: Annotated[
        float,
        typer.Option(
            min=0, max=600, help=f"Seconds the fault stops `{FAULTED_SERVICE}` (0: no fault)."
        ),
    ] = 30.0,
    ready_timeout: Annotated[
        float, typer.Option(min=5, max=600, help="Seconds to wait for every process.")
    ] = 90.0,
) -> None:
    """Start the cluster, wait until it is ready, run the fault and print what was found."""
    root = folder.absolute()
    plan = ClusterPlan(
        ClusterLayout(root), PortPlan(base_port), interval_s=interval, timeout_s=interval / 2
    )
    run_async(_up(plan, fault_s=fault, ready_timeout_s=ready_timeout))


async def _up(plan: ClusterPlan, *, fault_s: float, ready_timeout_s: float) -> None:
    t0 = time.monotonic()
    _say(f"netvigil cluster: starting in {plan.layout.root} (127.0.0.1 only)")
    cluster = await bring_up(plan, ready_timeout_s=ready_timeout_s, say=_say)
    state = cluster.state
    _say(f"ready in {time.monotonic() - t0:.0f} s:")
    for line in describe_cluster(state):
        _say(line)
    if fault_s <= 0:
        return
    _say("")
    async with await PostgresStore.open(cluster.dsn) as store:
        result = await run_fault(
            plan, state, store, fault_s=fault_s, settle_s=12 * plan.interval_s + 30, say=_say
        )
    _say("")
    _say(f"what the detector stored in PostgreSQL ({len(result.incidents)} incident(s)):")
    for incident in result.incidents:
        for line in describe_incident(incident, result.stopped_at):
            _say(line)
    if result.found() is None:
        raise LocalClusterError(f"the detector stored no incident of {FAULTED_SERVICE}")
    _say(f"the cluster keeps running; stop it with: netvigil cluster down --dir {plan.layout.root}")


@app.command("down")
def down(
    folder: DirOption = DEFAULT_DIR,
    grace: Annotated[
        float, typer.Option(min=0, max=300, help="Seconds each process has to stop before SIGKILL.")
    ] = 10.0,
) -> None:
    """Stop every process of the cluster and remove what it made."""
    root = folder.absolute()
    result = take_down(root, grace_s=grace)
    killed = f" ({', '.join(result.killed)} needed SIGKILL)" if result.killed else ""
    _say(f"stopped {len(result.stopped)} process(es){killed}; removed {root}'s cluster files")


@app.command("status")
def status(folder: DirOption = DEFAULT_DIR) -> None:
    """Print what runs where; exit 1 when a process of the cluster is down."""
    root = folder.absolute()
    state = ClusterState.read(ClusterLayout(root))
    if state is None:
        raise LocalClusterError(f"{root}: no cluster here")
    for line in describe_cluster(state):
        _say(line)
    if not all(alive(p) for p in state.processes):
        raise typer.Exit(1)

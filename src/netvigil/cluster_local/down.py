"""Taking a local cluster down: stop what its state file names, remove what it made.

    report = take_down(Path("netvigil-cluster"), grace_s=10.0)

The netvigil processes stop first (agents, web, detector, collectors: each finishes what
it holds, which needs NATS and PostgreSQL still up), then the servers (the loopback
services, nats-server, PostgreSQL). Each gets its stop signal (SIGINT for PostgreSQL, a
fast shutdown; SIGTERM for the others) and, after `grace_s`, SIGKILL with whatever else
is left in its process group. Then the folder's configs, logs, data, spools and state
file are removed, and the folder itself when `up` made it.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field
from pathlib import Path

from netvigil.cluster_local.layout import (
    ClusterLayout,
    ClusterState,
    LocalClusterError,
    ProcessRecord,
)
from netvigil.cluster_local.processes import alive, group_is_ours, group_members, stop_all

__all__ = ["SERVER_ROLES", "TakeDown", "remove_made", "stop_cluster", "take_down"]

SERVER_ROLES = frozenset({"service", "nats", "postgres"})
"""Roles stopped last: the netvigil processes still need them while they stop."""


@dataclass(slots=True)
class TakeDown:
    """What `take_down` did."""

    stopped: list[str] = field(default_factory=list)
    """The processes that were running and stopped."""
    killed: list[str] = field(default_factory=list)
    """Of those, the ones that needed SIGKILL."""
    removed: list[Path] = field(default_factory=list)


def stop_cluster(processes: list[ProcessRecord], *, grace_s: float) -> TakeDown:
    """Stop `processes`: the netvigil ones, then the servers. Raises LocalClusterError
    when one is still running afterwards."""
    result = TakeDown()
    for phase in (
        [p for p in processes if p.role not in SERVER_ROLES],
        [p for p in processes if p.role in SERVER_ROLES],
    ):
        result.stopped += [p.name for p in phase if alive(p)]
        result.killed += stop_all(phase, grace_s=grace_s)
    left = [p.name for p in processes if alive(p) or (group_is_ours(p) and group_members(p.pid))]
    if left:
        raise LocalClusterError(f"still running after SIGKILL: {', '.join(left)}")
    return result


def remove_made(layout: ClusterLayout, *, created_root: bool) -> list[Path]:
    """Remove what `up` made in the folder (and the folder, if `up` made it and it is
    now empty); returns what was removed."""
    removed = []
    for path in layout.made():
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
            removed.append(path)
        elif path.exists() or path.is_symlink():
            path.unlink()
            removed.append(path)
    layout.state_file.with_suffix(".json.tmp").unlink(missing_ok=True)
    if created_root and layout.root.is_dir() and not any(layout.root.iterdir()):
        layout.root.rmdir()
        removed.append(layout.root)
    return removed


def take_down(root: Path, *, grace_s: float = 10.0) -> TakeDown:
    """Stop the cluster in `root` and remove what it made. Raises LocalClusterError when
    `root` holds no cluster or a process does not stop."""
    layout = ClusterLayout(root)
    state = ClusterState.read(layout)
    if state is None:
        raise LocalClusterError(f"{root}: no cluster here (no {layout.state_file.name})")
    result = stop_cluster(state.processes, grace_s=grace_s)
    result.removed = remove_made(layout, created_root=state.created_root)
    return result

"""What runs where in a local cluster, as lines for a terminal."""

from __future__ import annotations

from pathlib import Path

from netvigil.cluster_local.layout import HOST, ClusterState
from netvigil.cluster_local.processes import alive

__all__ = ["describe_cluster"]


def describe_cluster(state: ClusterState) -> list[str]:
    """A table of the cluster's processes (name, role, pid, state, address, log) and
    where its dashboard, configs and logs are."""
    root = Path(state.root)
    rows = [("process", "role", "pid", "state", "listens on", "log")]
    for p in state.processes:
        where = f"{HOST}:{p.port}" if p.port is not None else "-"
        log = Path(p.log)
        shown = str(log.relative_to(root)) if log.is_relative_to(root) else str(log)
        rows.append((p.name, p.role, str(p.pid), "up" if alive(p) else "DOWN", where, shown))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  " + "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines += [
        "",
        f"dashboard: {state.dashboard}",
        f"folder:    {root} (configs in config/, logs in logs/)",
        f"stop with: netvigil cluster down --dir {root}",
    ]
    return lines

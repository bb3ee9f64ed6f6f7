"""Bringing a lab up and down, and saying what of it exists.

lab = lab_up()            # the default topology; anything an earlier lab left goes first
lab_status().up           # True
lab_down()                # idempotent: faults undone, processes and namespaces removed
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netvigil.errors import LabError
from netvigil.lab import netns
from netvigil.lab.lab import STATE_FILE, Lab, default_prefix, default_state_dir
from netvigil.lab.topology import Topology, load_topology
from netvigil.lab.wiring import own_namespaces

__all__ = ["LabStatus", "lab_down", "lab_status", "lab_up", "own_namespaces"]


@dataclass(frozen=True, slots=True)
class LabStatus:
    """What exists now: namespaces and processes named nv-*, and the lab's state if any."""

    up: bool
    topology: str | None
    namespaces: list[str]
    processes: dict[str, int]
    dead_processes: list[str]
    active_faults: list[str]

    def to_json(self) -> dict[str, Any]:
        return {
            "up": self.up,
            "topology": self.topology,
            "namespaces": self.namespaces,
            "processes": self.processes,
            "dead_processes": self.dead_processes,
            "active_faults": self.active_faults,
        }


def lab_up(
    topology_path: str | Path | None = None,
    *,
    state_dir: Path | None = None,
    prefix: str | None = None,
) -> Lab:
    """Build a lab from a topology file (the default one when None) and start its servers.

    Its namespaces start with `prefix` (default: `default_prefix()`); labs of different
    prefixes (and state dirs) run side by side. Anything left by an earlier lab of the
    same names is removed first. On failure everything built so far is torn down again.
    Raises LabError (missing root, tools or netns support; a failed command; a bad
    prefix) and ConfigError (an invalid topology file).
    """
    topology = load_topology(topology_path)
    prefix = netns.check_prefix(prefix) if prefix is not None else default_prefix()
    netns.check_support()
    state_dir = state_dir or default_state_dir()
    own = own_namespaces(topology, prefix)
    _sweep(state_dir, prefix, only=own)  # what an earlier lab of these names left behind
    lab = Lab(
        topology=topology,
        state_dir=state_dir,
        topology_path=None if topology_path is None else str(topology_path),
        prefix=prefix,
    )
    try:
        lab.build()
    except BaseException:
        _sweep(state_dir, prefix, only=own)
        raise
    return lab


def lab_down(
    *,
    state_dir: Path | None = None,
    topology: Topology | None = None,
    prefix: str | None = None,
) -> list[str]:
    """Remove everything the lab made: processes, namespaces (with their links, routes,
    iptables rules and qdiscs), links and /etc/netns entries whose names start with
    `prefix` (default: `default_prefix()`, so `nv-`: every lab's). Idempotent.

    Faults still recorded as active in the state file (say the process that applied
    them died) are undone first, as far as their undo records reach. With `topology`,
    only that lab's namespaces (and the processes in them and in the state file) go,
    and other `nv-*` namespaces on the machine are left alone. Returns what was
    removed (`fault <id>` for each fault undone).
    """
    prefix = netns.check_prefix(prefix) if prefix is not None else default_prefix()
    only = None if topology is None else own_namespaces(topology, prefix)
    state_dir = state_dir or default_state_dir()
    undone = _undo_faults(state_dir)
    return undone + _sweep(state_dir, prefix, only=only)


def _undo_faults(state_dir: Path) -> list[str]:
    """Undo the faults the state file lists as active; the ids of those undone."""
    try:
        lab = Lab.load(state_dir)
    except LabError:
        return []
    undone: list[str] = []
    for fault_id in list(lab.active_faults):
        with contextlib.suppress(LabError, OSError):
            lab.clear_fault(fault_id)
            undone.append(f"fault {fault_id}")
    return undone


def _sweep(state_dir: Path, prefix: str, *, only: list[str] | None) -> list[str]:
    pids: list[int] = []
    state = state_dir / STATE_FILE
    if state.exists():
        try:
            pids = [int(p) for p in json.loads(state.read_text()).get("processes", {}).values()]
        except (OSError, ValueError):
            pids = []
    removed = netns.remove_everything(prefix, extra_pids=pids, only=only)
    state.unlink(missing_ok=True)
    return removed


def lab_status(*, state_dir: Path | None = None, prefix: str | None = None) -> LabStatus:
    """What of the lab exists now (works whether or not a lab is up): namespaces
    starting with `prefix` (default: `default_prefix()`), and the state in `state_dir`."""
    state_dir = state_dir or default_state_dir()
    prefix = netns.check_prefix(prefix) if prefix is not None else default_prefix()
    namespaces = netns.list_namespaces(prefix)
    try:
        lab: Lab | None = Lab.load(state_dir)
    except LabError:
        lab = None
    if lab is None:
        return LabStatus(bool(namespaces), None, namespaces, {}, [], [])
    dead = [key for key, pid in lab.processes.items() if not Path(f"/proc/{pid}").exists()]
    return LabStatus(
        up=bool(namespaces),
        topology=lab.topology.name,
        namespaces=namespaces,
        processes=lab.processes,
        dead_processes=dead,
        active_faults=sorted(lab.active_faults),
    )

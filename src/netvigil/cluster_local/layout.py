"""Where a local cluster keeps its files, which ports it uses, and its state file.

    layout = ClusterLayout(Path("netvigil-cluster"))
    ports = PortPlan(base=24200)          # ports.nats == 24200, ports.web == 24202, ...
    state = ClusterState.read(layout)     # None when the folder holds no cluster

Everything the cluster makes lives in its folder: the configs (`config/`), one log per
process (`logs/`), PostgreSQL's data (`postgres/`), JetStream's store (`nats/`), the
agents' spools (`spool/`) and the state file `cluster.json`, which names every process
started (pid, start time, port, log) so that `netvigil cluster down` can stop exactly
those and remove exactly what was made.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from netvigil.errors import NetvigilError

__all__ = [
    "DEFAULT_BASE_PORT",
    "FAULTED_SERVICE",
    "HOST",
    "SERVICES",
    "VANTAGES",
    "ClusterLayout",
    "ClusterState",
    "LocalClusterError",
    "LoopbackService",
    "PortPlan",
    "ProcessRecord",
]

HOST = "127.0.0.1"
DEFAULT_BASE_PORT = 24200
"""Below the kernel's usual ephemeral range (32768-60999), whose ports outgoing connections take."""
STATE_VERSION = 1
VANTAGES = ("north", "south", "west")
"""The vantages the cluster's agents measure as (one agent each)."""
COLLECTORS = 2


class LocalClusterError(NetvigilError):
    """A local cluster could not be started, inspected or stopped."""


@dataclass(frozen=True, slots=True)
class LoopbackService:
    """One loopback service the agents probe: its name, protocol and network."""

    name: str
    kind: str
    """`http` or `tcp` (see `netvigil.cluster_local.services`)."""
    network: str
    control: bool = False
    """A control target: it judges the vantages, not a service."""


SERVICES = (
    LoopbackService("shop", "http", "net-a"),
    LoopbackService("news", "http", "net-b"),
    LoopbackService("mail", "tcp", "net-b"),
    LoopbackService("control", "tcp", "net-c", control=True),
)
FAULTED_SERVICE = "shop"
"""The service the fault scenario stops."""


@dataclass(frozen=True, slots=True)
class PortPlan:
    """The cluster's ports, consecutive from `base`, all on 127.0.0.1."""

    base: int = DEFAULT_BASE_PORT

    @property
    def nats(self) -> int:
        return self.base

    @property
    def postgres(self) -> int:
        return self.base + 1

    @property
    def web(self) -> int:
        return self.base + 2

    def collector_metrics(self, index: int) -> int:
        """The metrics port of collector `index` (0 or 1)."""
        return self.base + 3 + index

    def service(self, name: str) -> int:
        """The port of the loopback service `name`."""
        names = [s.name for s in SERVICES]
        return self.base + 3 + COLLECTORS + names.index(name)

    def named(self) -> list[tuple[int, str]]:
        """Every port with what uses it, in order."""
        out = [(self.nats, "nats-server"), (self.postgres, "postgres"), (self.web, "web")]
        out += [
            (self.collector_metrics(i), f"collector-{i + 1} metrics") for i in range(COLLECTORS)
        ]
        out += [(self.service(s.name), f"service {s.name}") for s in SERVICES]
        return out

    def check(self) -> None:
        """Raises LocalClusterError when the plan leaves the port range."""
        last = max(port for port, _ in self.named())
        if self.base < 1024 or last > 65535:
            raise LocalClusterError(f"--base-port {self.base}: the ports must lie in 1024-65535")


@dataclass(frozen=True, slots=True)
class ClusterLayout:
    """The paths of a cluster folder."""

    root: Path

    @property
    def state_file(self) -> Path:
        return self.root / "cluster.json"

    @property
    def config_dir(self) -> Path:
        return self.root / "config"

    @property
    def log_dir(self) -> Path:
        return self.root / "logs"

    @property
    def postgres_dir(self) -> Path:
        return self.root / "postgres"

    @property
    def nats_dir(self) -> Path:
        return self.root / "nats"

    @property
    def spool_dir(self) -> Path:
        return self.root / "spool"

    def made(self) -> list[Path]:
        """Every entry `up` makes inside the folder (what `down` removes)."""
        return [
            self.config_dir,
            self.log_dir,
            self.postgres_dir,
            self.nats_dir,
            self.spool_dir,
            self.state_file,
        ]

    def config(self, name: str) -> Path:
        return self.config_dir / f"{name}.toml"

    def log(self, name: str) -> Path:
        return self.log_dir / f"{name}.log"


@dataclass(slots=True)
class ProcessRecord:
    """One process of the cluster, as the state file keeps it."""

    name: str
    role: str
    pid: int
    start_ticks: int
    """Its start time in clock ticks since boot (/proc/PID/stat), so that a pid reused
    by another program is never signalled."""
    argv: list[str]
    log: str
    port: int | None = None
    stop_signal: str = "SIGTERM"


@dataclass(slots=True)
class ClusterState:
    """What runs in a cluster folder: written as processes start, read by `down`."""

    root: str
    base_port: int
    created_root: bool
    dashboard: str
    processes: list[ProcessRecord] = field(default_factory=list)
    version: int = STATE_VERSION

    def write(self, layout: ClusterLayout) -> None:
        """Write the state file atomically (a new file renamed over the old)."""
        temporary = layout.state_file.with_suffix(".json.tmp")
        temporary.write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, layout.state_file)

    @classmethod
    def read(cls, layout: ClusterLayout) -> ClusterState | None:
        """The state in `layout`'s folder, None when there is no state file. Raises
        LocalClusterError for a file that is not a cluster state."""
        try:
            raw: Any = json.loads(layout.state_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            raise LocalClusterError(f"{layout.state_file}: not a cluster state: {exc}") from exc
        try:
            processes = [ProcessRecord(**p) for p in raw.pop("processes")]
            return cls(processes=processes, **raw)
        except (TypeError, KeyError, AttributeError) as exc:
            raise LocalClusterError(f"{layout.state_file}: not a cluster state: {exc}") from exc

    def record(self, name: str) -> ProcessRecord:
        """The process called `name`. Raises LocalClusterError when there is none."""
        for p in self.processes:
            if p.name == name:
                return p
        raise LocalClusterError(f"the cluster has no process {name!r}")

    def replace(self, record: ProcessRecord) -> None:
        """Put `record` in place of the process of the same name (or add it)."""
        self.processes = [p for p in self.processes if p.name != record.name] + [record]

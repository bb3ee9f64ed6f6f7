"""The configs of a local cluster: nats-server's, and one netvigil.toml per process.

    plan = ClusterPlan(layout, PortPlan(24200))
    files = write_configs(plan)      # files.nats, files.process["collector-1"], ...

Every process has a NATS user of its own with a new random password:

- each agent the user `agent-<vantage>` (`netvigil.bus.agent_user`): it may publish its
  own vantage's measurements and nothing else;
- the collectors, the web and the cluster command itself collector users
  (`netvigil.bus.collector_user`): the JetStream API, acks, dead letters, incident events;
- the detector a collector user that may also keep its membership in the members bucket
  and its checkpoints in theirs, and the web one that may also answer the server's flow
  control (ordered consumers) and announce mutes in the mutes bucket.

The files hold passwords and are written mode 0600. Every netvigil config names the same
services and targets: the loopback services of `layout.SERVICES`, probed every
`interval_s` by each agent.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from netvigil.bus import NATSUser, agent_user, collector_user, write_server_config
from netvigil.bus.checkpoints import CHECKPOINTS_BUCKET
from netvigil.cluster import MEMBERS_BUCKET
from netvigil.cluster.mute_sync import MUTES_BUCKET
from netvigil.cluster_local.layout import (
    HOST,
    SERVICES,
    VANTAGES,
    ClusterLayout,
    PortPlan,
)
from netvigil.cluster_local.postgres import dsn_of

__all__ = [
    "COLLECTOR_NAMES",
    "DATABASE",
    "DETECTOR_NAME",
    "OPERATOR_USER",
    "WEB_NAME",
    "ClusterConfigs",
    "ClusterPlan",
    "agent_name",
    "write_configs",
]

DATABASE = "netvigil"
COLLECTOR_NAMES = ("collector-1", "collector-2")
DETECTOR_NAME = "detector-1"
WEB_NAME = "web"
OPERATOR_USER = "operator"
"""The NATS user the cluster command itself checks the bus with."""


def agent_name(vantage: str) -> str:
    """The process name of the agent measuring as `vantage`."""
    return f"agent-{vantage}"


@dataclass(frozen=True, slots=True)
class ClusterPlan:
    """What a cluster is made of: its folder, its ports and how often it probes."""

    layout: ClusterLayout
    ports: PortPlan
    interval_s: float = 2.0
    """Every target's probe interval."""
    timeout_s: float = 1.0
    """Every probe's timeout."""
    lateness_s: float = 1.0
    """How long the detector waits for late measurements."""

    @property
    def nats_url(self) -> str:
        return f"nats://{HOST}:{self.ports.nats}"

    @property
    def dashboard(self) -> str:
        return f"http://{HOST}:{self.ports.web}/"


@dataclass(slots=True)
class ClusterConfigs:
    """The files written and the secrets the cluster command needs itself."""

    nats: Path
    postgres_password: str
    operator_password: str
    process: dict[str, Path] = field(default_factory=dict)


def _password() -> str:
    return secrets.token_urlsafe(24)


def _toml(value: str | float | bool) -> str:
    """A TOML value (JSON's string escapes are TOML's)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value)


def _table(name: str, values: dict[str, str | float | bool]) -> str:
    body = "".join(f"{key} = {_toml(v)}\n" for key, v in values.items())
    return f"[{name}]\n{body}"


def _world(plan: ClusterPlan) -> str:
    """The services and targets every process's config names."""
    parts = []
    for network in sorted({s.network for s in SERVICES if not s.control}):
        parts.append(_table("[networks]", {"name": network}))
    for s in SERVICES:
        if not s.control:
            parts.append(_table("[services]", {"name": s.name, "network": s.network}))
    timing: dict[str, str | float | bool] = {
        "interval_s": plan.interval_s,
        "timeout_s": plan.timeout_s,
    }
    for s in SERVICES:
        port = plan.ports.service(s.name)
        target: dict[str, str | float | bool] = {"name": s.name, "kind": s.kind}
        if s.kind == "http":
            target["url"] = f"http://{HOST}:{port}/"
        else:
            target |= {"host": HOST, "port": port}
        target |= {"control": True} if s.control else {"service": s.name}
        parts.append(_table("[targets]", target | timing))
    return "\n".join(parts)


def _write_private(path: Path, text: str) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    return path


def _bus(plan: ClusterPlan, user: str, password: str) -> str:
    return _table(
        "bus",
        {"kind": "nats", "url": plan.nats_url, "user": user, "password": password, "ack_wait_s": 5},
    )


def _server_side(plan: ClusterPlan, user: str, password: str, dsn: str) -> str:
    """A collector's, the detector's or the web's config: the bus, PostgreSQL, detection."""
    return "\n".join(
        [
            _table("vantage", {"name": "cluster"}),
            _table("server", {"title": "netvigil local cluster"}),
            _table("store", {"kind": "postgres", "dsn": dsn}),
            _bus(plan, user, password),
            _table("detect", {"lateness_s": plan.lateness_s}),
            _world(plan),
        ]
    )


def _agent(plan: ClusterPlan, vantage: str, password: str) -> str:
    return "\n".join(
        [
            _table("vantage", {"name": vantage}),
            _bus(plan, f"agent-{vantage}", password),
            _world(plan),
        ]
    )


def write_configs(plan: ClusterPlan) -> ClusterConfigs:
    """Write nats-server's config and every process's netvigil.toml into the folder's
    `config/` (which must exist); returns their paths and the cluster's own secrets."""
    layout = plan.layout
    configs = ClusterConfigs(
        nats=layout.config_dir / "nats-server.json",
        postgres_password=_password(),
        operator_password=_password(),
    )
    dsn = dsn_of(plan.ports.postgres, configs.postgres_password, DATABASE)
    users: list[NATSUser] = [collector_user(OPERATOR_USER, configs.operator_password)]
    extra = {
        DETECTOR_NAME: (f"$KV.{MEMBERS_BUCKET}.>", f"$KV.{CHECKPOINTS_BUCKET}.>"),
        WEB_NAME: ("$JS.FC.>", f"$KV.{MUTES_BUCKET}.>"),
    }
    for name in (*COLLECTOR_NAMES, DETECTOR_NAME, WEB_NAME):
        password = _password()
        base = collector_user(name, password)
        publish = (*base.publish, *extra.get(name, ()))
        users.append(NATSUser(name, password, publish=publish, subscribe=base.subscribe))
        configs.process[name] = _write_private(
            layout.config(name), _server_side(plan, name, password, dsn)
        )
    for vantage in VANTAGES:
        password = _password()
        users.append(agent_user(vantage, password))
        configs.process[agent_name(vantage)] = _write_private(
            layout.config(agent_name(vantage)), _agent(plan, vantage, password)
        )
    write_server_config(
        configs.nats, port=plan.ports.nats, store_dir=layout.nats_dir, users=users, host=HOST
    )
    return configs

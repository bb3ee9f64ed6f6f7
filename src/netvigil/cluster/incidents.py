"""Which networks and services a detector owns when several share one config.

    owned = owned_incident_keys(config, live_detectors, me="detector-2")
    if owned.owns_target(m.target): detector.observe(m)

    share = IncidentShare(config, me)          # kept current by the membership:
    Membership(kv, DETECTOR_ROLE, me, ttl_s=ttl_s, on_change=share.assign)
    share.owned.owns_target(m.target)

An incident groups targets that fell together: every target of a service, and the
services that share a network or an organization. Two detectors must never both own
one incident, so the unit handed out is not a single service but a whole *incident
group*: the services joined, directly or through others, by a shared network or
organization (a connected component). Each group is keyed by the smallest of its
labels (`network:<name>`, `organization:<name>`, `service:<name>`) and assigned by the
same rendezvous hashing as the probers' targets, so every detector that sees the same
members computes the same disjoint split, and a detector leaving moves only its groups.

A target that names no service is its own service. Control targets (a vantage's own
health) are not partitioned: every detector needs them to judge the vantages, so they
are listed apart in `controls`.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from netvigil.cluster.assignment import share
from netvigil.config.model import Config

__all__ = [
    "DETECTOR_ROLE",
    "IncidentGroup",
    "IncidentShare",
    "OwnedIncidents",
    "incident_groups",
    "owned_incident_keys",
]

DETECTOR_ROLE = "detector"
"""The membership role of the detect processes."""


@dataclass(frozen=True, slots=True)
class IncidentGroup:
    """Services that can share an incident, with the networks and targets they bring."""

    key: str
    services: frozenset[str]
    networks: frozenset[str]
    targets: frozenset[str]


@dataclass(frozen=True, slots=True)
class OwnedIncidents:
    """What one detector owns: its incident groups, their services, networks and targets."""

    groups: frozenset[str]
    services: frozenset[str]
    networks: frozenset[str]
    targets: frozenset[str]
    controls: frozenset[str]
    """Control targets: every detector reads them (they judge vantages, not services)."""

    def owns_target(self, name: str) -> bool:
        """Whether measurements of target `name` are this detector's to read."""
        return name in self.targets or name in self.controls


class _Labels:
    """Union-find over labels (`service:x`, `network:y`, `organization:z`)."""

    def __init__(self) -> None:
        self.parent: dict[str, str] = {}

    def find(self, label: str) -> str:
        parent = self.parent.setdefault(label, label)
        while parent != label:
            grand = self.parent[parent]
            self.parent[label] = grand
            label, parent = parent, grand
        return label

    def join(self, a: str, b: str) -> None:
        root_a, root_b = self.find(a), self.find(b)
        if root_a != root_b:
            low, high = sorted((root_a, root_b))
            self.parent[high] = low  # the smallest label stays the root: the group's key


def incident_groups(config: Config) -> list[IncidentGroup]:
    """The config's incident groups (see the module docs), ordered by key."""
    labels = _Labels()
    service_network: dict[str, str | None] = {}
    for svc in config.services:
        label = f"service:{svc.name}"
        labels.find(label)
        service_network[svc.name] = svc.network
        if svc.network:
            labels.join(label, f"network:{svc.network}")
        if svc.organization:
            labels.join(label, f"organization:{svc.organization}")
    target_service: dict[str, str] = {}
    for spec in config.targets:
        if spec.control:
            continue
        service = spec.service or spec.name
        target_service[spec.name] = service
        labels.find(f"service:{service}")
    members: dict[str, tuple[set[str], set[str], set[str]]] = {}
    for label in list(labels.parent):
        services, networks, _ = members.setdefault(labels.find(label), (set(), set(), set()))
        kind, _, name = label.partition(":")
        if kind == "service":
            services.add(name)
        elif kind == "network":
            networks.add(name)
    for target, service in target_service.items():
        members[labels.find(f"service:{service}")][2].add(target)
    return [
        IncidentGroup(key, frozenset(s), frozenset(n), frozenset(t))
        for key, (s, n, t) in sorted(members.items())
        if s
    ]


def owned_incident_keys(config: Config, members: Collection[str], me: str) -> OwnedIncidents:
    """The incident groups `me` owns among the live detectors `members` (see module docs).

    `me` counts as a member even before it appears in `members`; the groups of all the
    members together are every group exactly once.
    """
    groups = {group.key: group for group in incident_groups(config)}
    mine = [groups[key] for key in share(groups, members, me)]
    return OwnedIncidents(
        groups=frozenset(g.key for g in mine),
        services=frozenset(s for g in mine for s in g.services),
        networks=frozenset(n for g in mine for n in g.networks),
        targets=frozenset(t for g in mine for t in g.targets),
        controls=frozenset(spec.name for spec in config.targets if spec.control),
    )


class IncidentShare:
    """A detector's part of `config`, kept current: pass `assign` as the membership's
    `on_change`. Until the first call, `member` counts as the only detector."""

    def __init__(self, config: Config, member: str) -> None:
        self.config = config
        self.member = member
        self.owned = owned_incident_keys(config, (), member)

    def assign(self, members: frozenset[str]) -> None:
        """Take this detector's groups among the live detectors `members`."""
        self.owned = owned_incident_keys(self.config, members, self.member)

"""Incident groups: the services of a config that can share an incident.

    for group in incident_groups(config): group.key, group.services, group.targets

An incident groups targets that fell together: every target of a service, and the
services that share a network or an organization. The unit that the bus routes on
(`netvigil.bus.shards`) and that detectors share out (`netvigil.cluster.incidents`) is
therefore not a single service but a whole *incident group*: the services joined,
directly or through others, by a shared network or organization (a connected
component). Each group is keyed by the smallest of its labels (`network:<name>`,
`organization:<name>`, `service:<name>`). A target that names no service is its own
service (`service:<target name>`). Control targets (a vantage's own health) belong to
no group.
"""

from __future__ import annotations

from dataclasses import dataclass

from netvigil.config.model import Config

__all__ = ["IncidentGroup", "incident_groups"]


@dataclass(frozen=True, slots=True)
class IncidentGroup:
    """Services that can share an incident, with the networks and targets they bring."""

    key: str
    services: frozenset[str]
    networks: frozenset[str]
    targets: frozenset[str]


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

"""Which networks and services a detector owns when several share one config.

    owned = owned_incident_keys(config, live_detectors, me="detector-2")
    if owned.owns_target(m.target): detector.observe(m)

    share = IncidentShare(config, me)          # kept current by the membership:
    Membership(kv, DETECTOR_ROLE, me, ttl_s=ttl_s, on_change=share.assign)
    share.owned.owns_target(m.target)

An incident groups targets that fell together: every target of a service, and the
services that share a network or an organization. Two detectors must never both own
one incident, so the unit handed out is never a single service but whole *incident
groups* (`netvigil.bus.groups`), and in fact whole *shards* of them: the shard a group
falls in (`netvigil.bus.shards`) is what its measurements' subjects carry, so a
detector that owns whole shards can have the server deliver it only theirs. Shards
(`shard:<n>`) are assigned by the same rendezvous hashing as the probers' targets, so
every detector that sees the same members computes the same disjoint split, and a
detector leaving moves only its shards (with their groups).

A target that names no service is its own service. Control targets (a vantage's own
health) are not partitioned: every detector needs them to judge the vantages, so they
are listed apart in `controls` (their shard is `CONTROL_SHARD`).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from netvigil.bus.groups import IncidentGroup, incident_groups
from netvigil.bus.shards import CONTROL_SHARD, shard_of_group, shard_token
from netvigil.bus.subjects import measurement_filter
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
class OwnedIncidents:
    """What one detector owns: its shards, their incident groups, and the groups'
    services, networks and targets."""

    shards: frozenset[str]
    """The shard tokens of its groups (`_s0417`), all of them when it is alone."""
    everything: bool
    """Whether it owns every shard (the only detector)."""
    groups: frozenset[str]
    services: frozenset[str]
    networks: frozenset[str]
    targets: frozenset[str]
    controls: frozenset[str]
    """Control targets: every detector reads them (they judge vantages, not services)."""

    def owns_target(self, name: str) -> bool:
        """Whether measurements of target `name` are this detector's to read."""
        return name in self.targets or name in self.controls

    def subject_filters(self) -> list[str]:
        """The subjects of the measurements this detector reads: its shards' and the
        controls', or every measurement when it owns every shard."""
        if self.everything:
            return [measurement_filter()]
        return [measurement_filter(s) for s in sorted({CONTROL_SHARD, *self.shards})]

    def scope(self, config: Config) -> Config:
        """The part of `config` this detector detects over: its groups' targets and
        services and every control target (all of `config` when it owns every shard).
        Networks, organizations, vantages and the rest are kept whole."""
        if self.everything:
            return config
        return config.model_copy(
            update={
                "targets": [t for t in config.targets if self.owns_target(t.name)],
                "services": [s for s in config.services if s.name in self.services],
            }
        )


def owned_incident_keys(config: Config, members: Collection[str], me: str) -> OwnedIncidents:
    """The incident groups `me` owns among the live detectors `members` (see module docs).

    `me` counts as a member even before it appears in `members`; the groups of all the
    members together are every group exactly once.
    """
    by_shard: dict[str, list[IncidentGroup]] = {}
    for group in incident_groups(config):
        by_shard.setdefault(f"shard:{shard_of_group(group.key)}", []).append(group)
    owned = share(sorted(by_shard), members, me)
    mine = [g for key in owned for g in by_shard[key]]
    return OwnedIncidents(
        shards=frozenset(shard_token(int(key.split(":")[1])) for key in owned),
        everything=not set(members) - {me},
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

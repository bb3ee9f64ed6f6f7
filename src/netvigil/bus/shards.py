"""Shards: the part of a measurement's subject that lets a detector read only its share.

    shards = TargetShards(config)
    shards.token("gov-portal-https")        # -> "_s0417": the shard of its incident group
    shards.token("gateway")                 # -> "_ctl": a control target
    measurement_subject("tirana.1", shards.token(m.target))
        # -> "netvigil.measurements._s0417.tirana.1"

Each incident group (`netvigil.bus.groups`) falls in one of `SHARDS` shards, by a stable
hash of its key (BLAKE2b, never the salted built-in `hash()`); control targets, which
every detector reads, travel on the shard `_ctl`. A publisher puts the shard of each
measurement's target into its subject, and a detector's consumer filters on the shards
it owns (`netvigil.cluster.incidents` hands out whole shards), so the server delivers
each detector only its share: no detector decodes the whole stream. Publishers and
detectors must read the same targets, services, networks and organizations to agree on
the shards; a target a publisher does not know is its own group, as in
`incident_groups`.

The number of shards is fixed: it bounds the filter subjects of a detector's consumer
(`SHARDS` / detectors) and the distinct subjects of the stream (`SHARDS` x vantages),
and is large enough that the shards of n detectors hold about equal shares of a large
config (±1/sqrt(SHARDS/n)).
"""

from __future__ import annotations

import hashlib
import re

from netvigil.bus.groups import incident_groups
from netvigil.config.model import Config

__all__ = [
    "CONTROL_SHARD",
    "SHARDS",
    "TargetShards",
    "is_shard",
    "shard_of_group",
    "shard_token",
]

SHARDS = 1024
"""How many shards the incident groups are hashed into."""

CONTROL_SHARD = "_ctl"
"""The shard of control targets: every detector reads it."""

_PERSON = b"netvigil-shard"
_TOKEN = re.compile(r"_s\d{4}|_ctl")


def shard_token(shard: int) -> str:
    """The subject token of shard number `shard` (0 <= shard < SHARDS)."""
    if not 0 <= shard < SHARDS:
        raise ValueError(f"shard {shard} is not in 0..{SHARDS - 1}")
    return f"_s{shard:04d}"


def is_shard(token: str) -> bool:
    """Whether `token` names a shard (a vantage name never does: those start with a
    letter or a digit)."""
    return _TOKEN.fullmatch(token) is not None


def shard_of_group(key: str) -> int:
    """The shard number of the incident group keyed `key`."""
    digest = hashlib.blake2b(key.encode(), digest_size=8, person=_PERSON).digest()
    return int.from_bytes(digest, "big") % SHARDS


class TargetShards:
    """The shard token of every target of `config` (see the module docs)."""

    def __init__(self, config: Config) -> None:
        self._tokens: dict[str, str] = {}
        for group in incident_groups(config):
            token = shard_token(shard_of_group(group.key))
            for target in group.targets:
                self._tokens[target] = token
        for spec in config.targets:
            if spec.control:
                self._tokens[spec.name] = CONTROL_SHARD

    def token(self, target: str) -> str:
        """The shard token of `target` (a target not in the config is its own group)."""
        token = self._tokens.get(target)
        if token is None:
            token = self._tokens[target] = shard_token(shard_of_group(f"service:{target}"))
        return token

"""The configuration model: this vantage, targets and the grouping netvigil reasons with.

Every target belongs to a service (controls excepted); a service belongs to an
organization, a network (where it is hosted) and a country.
"""

from __future__ import annotations

import hashlib
from ipaddress import IPv4Network, IPv6Network
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from netvigil.probes import TargetSpec

__all__ = [
    "AgentConfig",
    "Config",
    "NetworkConfig",
    "OrganizationConfig",
    "SchedulerConfig",
    "ServerConfig",
    "ServiceConfig",
    "StoreConfig",
    "VantageConfig",
]

NAME = r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$"
COUNTRY = r"^[A-Z]{2}$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class VantageConfig(_Model):
    """Where this netvigil process probes from."""

    name: str = Field(default="local", pattern=NAME, max_length=64)
    country: str | None = Field(default=None, pattern=COUNTRY)
    in_country: bool = True
    """Whether this vantage is inside the watched country (filtering is judged from it)."""


class NetworkConfig(_Model):
    """A hosting network, by the name its operator knows it by."""

    name: str = Field(pattern=NAME, max_length=64)
    description: str = ""
    asn: int | None = Field(default=None, ge=1, le=4294967295)
    prefixes: list[IPv4Network | IPv6Network] = Field(default_factory=list)
    country: str | None = Field(default=None, pattern=COUNTRY)


class OrganizationConfig(_Model):
    """Who runs a set of services."""

    name: str = Field(pattern=NAME, max_length=64)
    description: str = ""


class ServiceConfig(_Model):
    """A public service (a website, a portal) that one or more targets measure."""

    name: str = Field(pattern=NAME, max_length=64)
    description: str = ""
    organization: str | None = None
    network: str | None = None
    country: str | None = Field(default=None, pattern=COUNTRY)


class StoreConfig(_Model):
    """The embedded SQLite store."""

    path: str = "netvigil.db"
    retention_days: float = Field(default=30.0, gt=0)
    """Raw measurements older than this are pruned; per-minute rollups are kept."""


class SchedulerConfig(_Model):
    """How hard netvigil may probe."""

    concurrency: int = Field(default=512, ge=1, le=100_000)
    """At most this many probes in flight at once."""
    per_address_rate: float = Field(default=10.0, gt=0)
    """At most this many probes per second to one destination host."""
    jitter: float = Field(default=0.1, ge=0, le=1)
    """Random spread of each interval, as a fraction of it."""


class ServerConfig(_Model):
    """The web server that `netvigil run` starts (ingest API now, dashboard later)."""

    listen: str = Field(default="127.0.0.1:8080", pattern=r"^(\[[0-9a-fA-F:]+\]|[^:\s]+):\d{1,5}$")
    enabled: bool = True

    @property
    def host(self) -> str:
        return self.listen.rsplit(":", 1)[0].strip("[]")

    @property
    def port(self) -> int:
        return int(self.listen.rsplit(":", 1)[1])


class AgentConfig(_Model):
    """A remote vantage allowed to ship measurements, and the hash of its token."""

    name: str = Field(pattern=NAME, max_length=64)
    token_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    """sha256 hex digest of the agent's bearer token (`netvigil agent token` prints both)."""
    country: str | None = Field(default=None, pattern=COUNTRY)
    in_country: bool = False

    def accepts(self, token: str) -> bool:
        """Whether `token` is this agent's token (constant-time comparison)."""
        import hmac

        digest = hashlib.sha256(token.encode()).hexdigest()
        return hmac.compare_digest(digest, self.token_sha256)


class Config(_Model):
    """A whole netvigil.toml."""

    vantage: VantageConfig = Field(default_factory=VantageConfig)
    networks: list[NetworkConfig] = Field(default_factory=list)
    organizations: list[OrganizationConfig] = Field(default_factory=list)
    services: list[ServiceConfig] = Field(default_factory=list)
    targets: list[TargetSpec] = Field(default_factory=list)
    store: StoreConfig = Field(default_factory=StoreConfig)
    scheduler: SchedulerConfig = Field(default_factory=SchedulerConfig)
    server: ServerConfig = Field(default_factory=ServerConfig)
    agents: list[AgentConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check_references(self) -> Self:
        problems: list[str] = []
        for field_name in ("networks", "organizations", "services", "targets", "agents"):
            seen: set[str] = set()
            for item in getattr(self, field_name):
                if item.name in seen:
                    problems.append(f"{field_name}: name {item.name!r} is used twice")
                seen.add(item.name)
        networks = {n.name for n in self.networks}
        orgs = {o.name for o in self.organizations}
        services = {s.name for s in self.services}
        for i, svc in enumerate(self.services):
            if svc.network is not None and svc.network not in networks:
                problems.append(f"services[{i}].network: unknown network {svc.network!r}")
            if svc.organization is not None and svc.organization not in orgs:
                problems.append(
                    f"services[{i}].organization: unknown organization {svc.organization!r}"
                )
        for i, tgt in enumerate(self.targets):
            if tgt.service is None and not tgt.control:
                problems.append(
                    f"targets[{i}].service: target {tgt.name!r} names no service "
                    "(set service, or control = true for a control target)"
                )
            elif tgt.service is not None and tgt.service not in services:
                problems.append(f"targets[{i}].service: unknown service {tgt.service!r}")
        if self.vantage.name in {a.name for a in self.agents}:
            problems.append(f"agents: {self.vantage.name!r} is this server's own vantage name")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def service(self, name: str) -> ServiceConfig | None:
        return next((s for s in self.services if s.name == name), None)

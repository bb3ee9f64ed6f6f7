"""The lab topology: networks, hosts, services and DNS zones, read from a TOML file.

A topology is a tree of networks. The one network without an `upstream` is the core
(transit); every other network hangs off its upstream through a router-to-router link,
optionally shaped (`[networks.uplink]`, a tc token bucket on the traffic flowing into
the network). Each network has one router namespace (`nv-r-<network>`) with a bridge
holding the network's hosts; each host is its own namespace (`nv-<host>`).

Addresses come from the documentation ranges only (192.0.2.0/24, 198.51.100.0/24,
203.0.113.0/24, 2001:db8::/32); the loader refuses anything else.
"""

from __future__ import annotations

from importlib import resources
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address, ip_network
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from netvigil.config.load import load_toml_model

__all__ = [
    "DOC_RANGES",
    "Host",
    "Network",
    "Service",
    "Topology",
    "Uplink",
    "Zone",
    "default_topology_path",
    "is_lab_address",
    "load_topology",
]

DOC_RANGES: tuple[IPv4Network | IPv6Network, ...] = (
    IPv4Network("192.0.2.0/24"),
    IPv4Network("198.51.100.0/24"),
    IPv4Network("203.0.113.0/24"),
    IPv6Network("2001:db8::/32"),
)
NAME = r"^[a-z0-9][a-z0-9\-]{0,19}$"
"""Host and network names: short, since namespace and interface names derive from them."""

HostRole = Literal["server", "dns", "resolver", "vantage", "attacker", "control", "monitor"]


def is_lab_address(address: str) -> bool:
    """Whether `address` lies in one of the documentation ranges the lab may use."""
    try:
        addr = ip_address(address)
    except ValueError:
        return False
    return any(addr.version == net.version and addr in net for net in DOC_RANGES)


def _in_doc_ranges(net: IPv4Network | IPv6Network) -> bool:
    return any(net.version == d.version and net.subnet_of(d) for d in DOC_RANGES)  # type: ignore[arg-type]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Uplink(_Model):
    """Shaping of the traffic flowing into a network from its upstream.

    An htb class at `rate_kbit` feeding a FIFO of `queue_packets` packets: when a flood
    fills the queue, every packet (a small ping as much as a large datagram) is dropped,
    and those that get in wait up to about queue_packets * size / rate.
    """

    rate_kbit: int = Field(default=8000, ge=64, le=10_000_000)
    queue_packets: int = Field(default=100, ge=2, le=100_000)
    burst_kbit: int = Field(default=64, ge=8, le=100_000)


class Network(_Model):
    """An autonomous network: a router namespace and the hosts behind it."""

    name: str = Field(pattern=NAME)
    description: str = ""
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    organization: str | None = None
    upstream: str | None = None
    prefix4: IPv4Network
    prefix6: IPv6Network | None = None
    uplink: Uplink | None = None


class Host(_Model):
    """A machine in a network: it runs servers, a DNS server, probes (vantage) or floods."""

    name: str = Field(pattern=NAME)
    network: str
    role: HostRole = "server"
    description: str = ""
    dns_name: str | None = None
    """The name the lab DNS serves for this host (A and AAAA)."""
    country: str | None = Field(default=None, pattern=r"^[A-Z]{2}$")
    """For vantages: the country they probe from (defaults to the network's)."""


class Service(_Model):
    """A web service on a host: a real aiohttp server with a bounded pool of workers."""

    name: str = Field(pattern=NAME)
    host: str
    scheme: Literal["http", "https"] = "http"
    port: int | None = Field(default=None, ge=1, le=65535)
    description: str = ""
    organization: str | None = None
    keyword: str | None = None
    workers: int = Field(default=4, ge=1, le=256)
    """Requests handled at once; more wait in a queue of `backlog`, beyond which 503."""
    backlog: int = Field(default=16, ge=0, le=10_000)
    work_s: float = Field(default=0.05, ge=0, le=10)
    """Time one request takes a worker."""

    @property
    def effective_port(self) -> int:
        return self.port or (443 if self.scheme == "https" else 80)


class Zone(_Model):
    """A DNS zone served by an authoritative server on one lab host."""

    name: str = Field(min_length=1)
    server: str


class Topology(_Model):
    """A whole lab topology file."""

    name: str = "lab"
    description: str = ""
    ttl_s: int = Field(default=60, ge=1, le=86400)
    link_prefix4: IPv4Network = IPv4Network("198.51.100.192/26")
    link_prefix6: IPv6Network = IPv6Network("2001:db8:ffff::/48")
    networks: list[Network]
    hosts: list[Host]
    services: list[Service] = Field(default_factory=list)
    zones: list[Zone] = Field(default_factory=list)

    @model_validator(mode="after")
    def _check(self) -> Self:
        problems: list[str] = []
        for field_name in ("networks", "hosts", "services"):
            seen: set[str] = set()
            for item in getattr(self, field_name):
                if item.name in seen:
                    problems.append(f"{field_name}: name {item.name!r} is used twice")
                seen.add(item.name)
        nets = {n.name: n for n in self.networks}
        cores = [n.name for n in self.networks if n.upstream is None]
        if len(cores) != 1:
            problems.append(f"networks: exactly one network must have no upstream, not {cores}")
        for i, net in enumerate(self.networks):
            if net.upstream is not None and net.upstream not in nets:
                problems.append(f"networks[{i}].upstream: unknown network {net.upstream!r}")
            for key in ("prefix4", "prefix6"):
                prefix = getattr(net, key)
                if prefix is not None and not _in_doc_ranges(prefix):
                    problems.append(f"networks[{i}].{key}: {prefix} is not a documentation range")
        for key in ("link_prefix4", "link_prefix6"):
            if not _in_doc_ranges(getattr(self, key)):
                problems.append(f"{key}: {getattr(self, key)} is not a documentation range")
        hosts = {h.name for h in self.hosts}
        for i, host in enumerate(self.hosts):
            if host.network not in nets:
                problems.append(f"hosts[{i}].network: unknown network {host.network!r}")
            if host.name in nets:
                problems.append(f"hosts[{i}].name: {host.name!r} is also a network name")
        for i, svc in enumerate(self.services):
            if svc.host not in hosts:
                problems.append(f"services[{i}].host: unknown host {svc.host!r}")
        for i, zone in enumerate(self.zones):
            if zone.server not in hosts:
                problems.append(f"zones[{i}].server: unknown host {zone.server!r}")
        if not problems and self._has_cycle(nets):
            problems.append("networks: the upstream links form a cycle")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    @staticmethod
    def _has_cycle(nets: dict[str, Network]) -> bool:
        for start in nets.values():
            seen: set[str] = set()
            cur: Network | None = start
            while cur is not None and cur.upstream is not None:
                if cur.name in seen:
                    return True
                seen.add(cur.name)
                cur = nets.get(cur.upstream)
        return False

    # --- lookups -------------------------------------------------------------

    def network(self, name: str) -> Network:
        return next(n for n in self.networks if n.name == name)

    def host(self, name: str) -> Host:
        return next(h for h in self.hosts if h.name == name)

    def service(self, name: str) -> Service:
        return next(s for s in self.services if s.name == name)

    @property
    def core(self) -> Network:
        return next(n for n in self.networks if n.upstream is None)

    def hosts_in(self, network: str) -> list[Host]:
        return [h for h in self.hosts if h.network == network]

    def hosts_with(self, role: HostRole) -> list[Host]:
        return [h for h in self.hosts if h.role == role]

    def children(self, network: str) -> list[Network]:
        return [n for n in self.networks if n.upstream == network]

    def descendants(self, network: str) -> list[Network]:
        """The networks reached through `network`'s downlinks, itself excluded."""
        out: list[Network] = []
        for child in self.children(network):
            out.append(child)
            out.extend(self.descendants(child.name))
        return out

    def country_of(self, host: Host) -> str | None:
        return host.country or self.network(host.network).country

    def zone_server(self, name: str) -> str | None:
        """The authoritative server host of a zone, or `name` when it is one (else None)."""
        for zone in self.zones:
            if name in (zone.name, zone.server):
                return zone.server
        return None

    def service_url(self, name: str) -> str:
        """A service's URL, by its host's DNS name (its address when it has none)."""
        svc = self.service(name)
        host = self.host(svc.host)
        where = host.dns_name or str(self.host4(host.name))
        default = 443 if svc.scheme == "https" else 80
        port = "" if svc.effective_port == default else f":{svc.effective_port}"
        return f"{svc.scheme}://{where}{port}/"

    # --- addressing ----------------------------------------------------------

    def router4(self, network: str) -> IPv4Address:
        return next(self.network(network).prefix4.hosts())

    def router6(self, network: str) -> IPv6Address | None:
        prefix = self.network(network).prefix6
        return None if prefix is None else prefix.network_address + 1

    def host4(self, host: str) -> IPv4Address:
        h = self.host(host)
        index = [x.name for x in self.hosts_in(h.network)].index(host)
        return self.network(h.network).prefix4.network_address + 2 + index

    def host6(self, host: str) -> IPv6Address | None:
        h = self.host(host)
        prefix = self.network(h.network).prefix6
        if prefix is None:
            return None
        index = [x.name for x in self.hosts_in(h.network)].index(host)
        return prefix.network_address + 2 + index

    def link_index(self, network: str) -> int:
        """Position of `network`'s uplink among all router-to-router links."""
        return [n.name for n in self.networks if n.upstream is not None].index(network)

    def link4(self, network: str) -> tuple[IPv4Address, IPv4Address]:
        """(upstream side, network side) addresses of `network`'s uplink, a /30."""
        subnet = list(self.link_prefix4.subnets(new_prefix=30))[self.link_index(network)]
        upper, lower = list(subnet.hosts())
        return upper, lower

    def link6(self, network: str) -> tuple[IPv6Address, IPv6Address]:
        subnet = ip_network(
            f"{self.link_prefix6.network_address + (self.link_index(network) << 64)}/64"
        )
        base = subnet.network_address
        return IPv6Address(int(base) + 1), IPv6Address(int(base) + 2)

    def network_of_address(self, address: str) -> Network | None:
        addr = ip_address(address)
        for net in self.networks:
            for prefix in (net.prefix4, net.prefix6):
                if prefix is not None and addr.version == prefix.version and addr in prefix:
                    return net
        return None


def default_topology_path() -> Path:
    """Where the default topology (Albania, July 2022) ships inside the package."""
    return Path(str(resources.files("netvigil.lab") / "topologies" / "default.toml"))


def load_topology(path: str | Path | None = None) -> Topology:
    """Read and validate a topology file (the default one when None). Raises ConfigError."""
    path = default_topology_path() if path is None else Path(path)
    return load_toml_model(path, Topology)

"""The lab topology: networks, hosts, services and DNS zones, read from a TOML file.

A topology is a tree of networks. The one network without an `upstream` is the core
(transit); every other network hangs off its upstream through a router-to-router link,
optionally shaped (`[networks.uplink]`, a tc token bucket on the traffic flowing into
the network). Each network has one router namespace (`nv-r-<network>`) with a bridge
holding the network's hosts; each host is its own namespace (`nv-<host>`).

Each network is an autonomous system (`asn`, from the documentation ranges 64496-64511
and 65536-65551; by default the next free one in the order of the file) whose router
speaks eBGP with its upstream(s). A network may have more upstreams than its primary
one (`also_upstream`: multi-homing); a link to a `scrubbing` network carries no BGP
session: the scrubbing network re-originates the network's prefix only during a
diversion. A host of role `collector` is a route collector peering with its network's
router.

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
    "DOC_ASNS",
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

DOC_ASNS: tuple[range, ...] = (range(64496, 64512), range(65536, 65552))
"""The AS numbers reserved for documentation (RFC 5398): the only ones the lab uses."""
DOC_RANGES: tuple[IPv4Network | IPv6Network, ...] = (
    IPv4Network("192.0.2.0/24"),
    IPv4Network("198.51.100.0/24"),
    IPv4Network("203.0.113.0/24"),
    IPv6Network("2001:db8::/32"),
)
NAME = r"^[a-z0-9][a-z0-9\-]{0,19}$"
"""Host and network names: short, since namespace and interface names derive from them."""

HostRole = Literal[
    "server", "dns", "resolver", "vantage", "attacker", "control", "monitor", "collector"
]


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
    also_upstream: list[str] = Field(default_factory=list)
    """More upstreams than the primary one (multi-homing), each over a link of its own."""
    asn: int | None = None
    """The network's AS number (default: the next free documentation ASN)."""
    scrubbing: bool = False
    """A scrubbing service: networks linked to it (`also_upstream`) hold no BGP session
    with it; it announces their prefix (as more-specifics) only during a diversion."""
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
        problems: list[str] = self._check_asns()
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
            for extra in net.also_upstream:
                if extra not in nets or extra in (net.name, net.upstream):
                    problems.append(
                        f"networks[{i}].also_upstream: {extra!r} is not another network"
                    )
            if net.scrubbing and net.upstream is None:
                problems.append(f"networks[{i}]: a scrubbing network needs an upstream")
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
        links = len(self.uplinks()) if not problems else 0
        if links > 2 ** (30 - self.link_prefix4.prefixlen):
            problems.append(f"link_prefix4: {self.link_prefix4} holds fewer than {links} /30 links")
        if not problems and self._has_cycle(nets):
            problems.append("networks: the upstream links form a cycle")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    def _check_asns(self) -> list[str]:
        problems: list[str] = []
        for i, net in enumerate(self.networks):
            if net.asn is not None and not any(net.asn in r for r in DOC_ASNS):
                problems.append(f"networks[{i}].asn: {net.asn} is not a documentation ASN")
        if len(self.collectors) > 1:
            problems.append("hosts: at most one host may have role = 'collector'")
        if not problems:
            try:
                self.asns()
            except ValueError as exc:
                problems.append(str(exc))
        return problems

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

    @property
    def collectors(self) -> list[Host]:
        """The route collector hosts (at most one)."""
        return self.hosts_with("collector")

    def asns(self) -> dict[str, int]:
        """AS number by network name, and by `collector` for the collector (its own AS).

        A network without `asn` gets the next documentation ASN no other network names.
        Raises ValueError when there are more networks than documentation ASNs, or two
        networks share one.
        """
        taken = [n.asn for n in self.networks if n.asn is not None]
        if len(set(taken)) != len(taken):
            raise ValueError("networks: two networks have the same asn")
        free = (a for r in DOC_ASNS for a in r if a not in taken)
        out: dict[str, int] = {}
        try:
            for net in self.networks:
                out[net.name] = net.asn if net.asn is not None else next(free)
            if self.collectors:
                out["collector"] = next(free)
        except StopIteration:
            raise ValueError("networks: more networks than documentation ASNs") from None
        return out

    def asn_of(self, network: str) -> int:
        """The AS number of `network` (`collector`: the route collector's)."""
        return self.asns()[network]

    def hosts_in(self, network: str) -> list[Host]:
        return [h for h in self.hosts if h.network == network]

    def hosts_with(self, role: HostRole) -> list[Host]:
        return [h for h in self.hosts if h.role == role]

    def children(self, network: str) -> list[Network]:
        return [n for n in self.networks if n.upstream == network]

    def uplinks(self) -> list[tuple[str, str]]:
        """Every router-to-router link as (network, upstream): the primary ones first, in the
        order of the networks, then the `also_upstream` ones."""
        primary = [(n.name, n.upstream) for n in self.networks if n.upstream is not None]
        extra = [(n.name, u) for n in self.networks for u in n.also_upstream]
        return primary + extra

    def upstreams_of(self, network: str) -> list[str]:
        """Every upstream of `network`: the primary one first."""
        net = self.network(network)
        return ([net.upstream] if net.upstream is not None else []) + list(net.also_upstream)

    def customers_of(self, network: str) -> list[str]:
        """The networks that have `network` as one of their upstreams."""
        return [n for n, up in self.uplinks() if up == network]

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

    def link_index(self, network: str, upstream: str | None = None) -> int:
        """Position of `network`'s uplink (to `upstream`, default its primary one) among all
        router-to-router links."""
        up = upstream or self.network(network).upstream
        return self.uplinks().index((network, up))  # type: ignore[arg-type]

    def link4(self, network: str, upstream: str | None = None) -> tuple[IPv4Address, IPv4Address]:
        """(upstream side, network side) addresses of `network`'s uplink, a /30."""
        index = self.link_index(network, upstream)
        subnet = list(self.link_prefix4.subnets(new_prefix=30))[index]
        upper, lower = list(subnet.hosts())
        return upper, lower

    def link6(self, network: str, upstream: str | None = None) -> tuple[IPv6Address, IPv6Address]:
        index = self.link_index(network, upstream)
        subnet = ip_network(f"{self.link_prefix6.network_address + (index << 64)}/64")
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

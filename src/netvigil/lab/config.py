"""The netvigil config for a lab topology: what netvigil watches there, and from where.

Every web service gets an HTTP(S) target by name (resolved through the lab's resolver),
a TCP and an ICMP target by address and, for HTTPS, a TLS target; every DNS zone gets a
DNS target sent to its authoritative server. Hosts with role `control` become control
targets. Every network hosting a watched service gets a `block` target over the
addresses that answer there (`<network>-blocks`: the network's `blocks_up` signal).
Each network carries its AS number, and a topology with a route collector gets a
`[[bgp]]` feed (`kind = "ris_live"`) reading the collector's websocket, sampled every
`LAB_RESAMPLE_S` while quiet (not the product's 60 s: see there). The text is
TOML that `netvigil.config.parse_config` accepts (a netvigil whose config model has no
BGP feeds yet gets neither the AS numbers nor the feed).
"""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from netvigil.lab.topology import Topology

if TYPE_CHECKING:
    from netvigil.config.model import Config

__all__ = [
    "COLLECTOR_PORT",
    "LAB_RESAMPLE_S",
    "address_space",
    "block_targets",
    "collector_url",
    "detector_config",
    "netvigil_config_text",
    "target_names",
]

COLLECTOR_PORT = 8765
"""Where the route collector serves its RIS Live-compatible feed (`/v1/ws/`)."""

LAB_RESAMPLE_S = 1.0
"""The `[[bgp]] resample_s` of the lab's feed. The network plane's signal detector learns
12 `bgp_visibility` samples before it votes, and a stable lab network is sampled only
every `resample_s`: at the product's 60 s that is 12 minutes, longer than a scenario
(150-200 s, its first fault 20 s in at the earliest). At 1 s (the least the config
takes) the baseline is learnt within 12 s of the collector's table arriving."""


def collector_url(topo: Topology) -> str | None:
    """The route collector's RIS Live-compatible websocket URL (None: it has no collector)."""
    if not topo.collectors:
        return None
    return f"ws://{topo.host4(topo.collectors[0].name)}:{COLLECTOR_PORT}/v1/ws/"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def _table(header: str, fields: dict[str, Any]) -> str:
    lines = [header]
    lines += [f"{k} = {_toml_value(v)}" for k, v in fields.items() if v is not None]
    return "\n".join(lines)


def _targets(topo: Topology, ca_file: str) -> list[dict[str, Any]]:
    targets: list[dict[str, Any]] = []
    for svc in topo.services:
        host = topo.host(svc.host)
        control = host.role == "control"
        owner: dict[str, Any] = {"control": True} if control else {"service": svc.name}
        address = str(topo.host4(host.name))
        name = host.dns_name or address
        default = 443 if svc.scheme == "https" else 80
        port = "" if svc.effective_port == default else f":{svc.effective_port}"
        http: dict[str, Any] = {
            "name": f"{svc.name}-{svc.scheme}",
            "kind": "http",
            "url": f"{svc.scheme}://{name}{port}/",
            "keyword": svc.keyword,
            **owner,
        }
        if svc.scheme == "https":
            http["ca_file"] = ca_file
        targets.append(http)
        targets.append(
            {"name": f"{svc.name}-tcp", "kind": "tcp", "host": address,
             "port": svc.effective_port, **owner}
        )  # fmt: skip
        targets.append({"name": f"{svc.name}-icmp", "kind": "icmp", "host": address, **owner})
        if svc.scheme == "https":
            targets.append(
                {"name": f"{svc.name}-tls", "kind": "tls", "host": address,
                 "port": svc.effective_port, "server_name": name, "ca_file": ca_file, **owner}
            )  # fmt: skip
    for zone in topo.zones:
        server = topo.host(zone.server)
        qname = (
            next(
                (h.dns_name for h in topo.hosts if h.dns_name and h.dns_name.endswith(zone.name)),
                None,
            )
            or zone.name
        )
        targets.append(
            {"name": f"{zone.server}-dns", "kind": "dns", "resolver": str(topo.host4(server.name)),
             "qname": qname, "qtype": "A", "service": zone.server}
        )  # fmt: skip
    for resolver in topo.hosts_with("resolver"):
        control_name = next((h.dns_name for h in topo.hosts_with("control") if h.dns_name), None)
        if control_name:
            targets.append(
                {"name": f"{resolver.name}-dns", "kind": "dns",
                 "resolver": str(topo.host4(resolver.name)), "qname": control_name, "control": True}
            )  # fmt: skip
    return targets


BLOCK_REPLY_TIMEOUT_S = 0.5
"""How long a block round waits for each echo reply (lab round trips are milliseconds)."""
BLOCK_MAX_PROBES = 6
"""Echo requests per block per round, at most."""


def block_targets(topo: Topology) -> list[dict[str, Any]]:
    """A `block` target per network hosting a watched service: the addresses that answer
    pings there (its router's and its hosts'), in one block per network prefix (/24, or
    the prefix when it is smaller), named `<network>-blocks`, for the network's
    `blocks_up` signal. Its service is the network's address space (`address_space`)."""
    watched = {
        topo.host(s.host).network for s in topo.services if topo.host(s.host).role != "control"
    }
    watched |= {topo.host(z.server).network for z in topo.zones}
    targets: list[dict[str, Any]] = []
    for net in topo.networks:
        if net.name not in watched:
            continue
        addresses = [str(topo.router4(net.name))]
        addresses += [str(topo.host4(h.name)) for h in topo.hosts_in(net.name)]
        targets.append(
            {"name": f"{net.name}-blocks", "kind": "block", "addresses": addresses,
             "network": net.name, "block_prefixlen4": max(24, net.prefix4.prefixlen),
             "max_probes": BLOCK_MAX_PROBES, "reply_timeout_s": BLOCK_REPLY_TIMEOUT_S,
             "service": address_space(net.name)}
        )  # fmt: skip
    return targets


def address_space(network: str) -> str:
    """The service a network's block target belongs to: the network's address space."""
    return f"{network}-network"


def _knows_bgp() -> tuple[bool, bool]:
    """Whether this netvigil's config model takes `[[bgp]]` feeds, and networks' `asn`."""
    from netvigil.config.model import Config, NetworkConfig

    return "bgp" in Config.model_fields, "asn" in NetworkConfig.model_fields


def target_names(topo: Topology) -> dict[str, list[str]]:
    """Target names by service (control targets under `""`), as the generated config has them."""
    out: dict[str, list[str]] = {}
    for t in _targets(topo, ""):
        out.setdefault(t.get("service", ""), []).append(t["name"])
    return out


def netvigil_config_text(
    topo: Topology,
    *,
    vantage: str | None,
    ca_file: str,
    interval_s: float = 5.0,
    timeout_s: float = 3.0,
    store_path: str = "netvigil.db",
    bgp_url: str | None = None,
    listen: str | None = None,
    blocks: bool = True,
) -> str:
    """TOML text of a netvigil config watching `topo` from `vantage` (`monitor` when None),
    and, with `bgp_url`, the route collector's RIS Live feed there; with `listen`
    (HOST:PORT) `netvigil run` serves its API there (else its web server is off). Without
    `blocks` it has no block targets (nor the address-space services they belong to)."""
    parts = ["# Generated by netvigil.lab for topology " + json.dumps(topo.name)]
    if vantage is not None:
        country, in_country = _in_country(topo, vantage)
        parts.append(
            _table("[vantage]", {"name": vantage, "country": country, "in_country": in_country})
        )
    else:
        parts.append(_table("[vantage]", {"name": "monitor"}))
    parts.append(_table("[defaults]", {"interval_s": interval_s, "timeout_s": timeout_s}))
    parts.append(_table("[store]", {"path": store_path}))
    server = {"enabled": False} if listen is None else {"listen": listen}
    parts.append(_table("[server]", server))
    parts.append(_table("[scheduler]", {"per_address_rate": 50.0, "jitter": 0.05}))
    feeds, asns = _knows_bgp()
    for net in topo.networks:
        prefixes = [str(net.prefix4)] + ([str(net.prefix6)] if net.prefix6 else [])
        parts.append(
            _table("[[networks]]", {"name": net.name, "description": net.description,
                                    "country": net.country, "prefixes": prefixes,
                                    "asn": topo.asn_of(net.name) if asns else None})
        )  # fmt: skip
    if bgp_url is not None and feeds:
        parts.append(
            _table(
                "[[bgp]]",
                {
                    "kind": "ris_live",
                    "name": "lab-collector",
                    "url": bgp_url,
                    "resample_s": LAB_RESAMPLE_S,
                },
            )
        )
    orgs = sorted(
        {s.organization for s in topo.services if s.organization}
        | {n.organization for n in topo.networks if n.organization}
    )
    for org in orgs:
        parts.append(_table("[[organizations]]", {"name": org}))
    for svc in topo.services:
        host = topo.host(svc.host)
        if host.role == "control":
            continue
        net = topo.network(host.network)
        parts.append(
            _table("[[services]]", {"name": svc.name, "description": svc.description,
                                    "organization": svc.organization, "network": net.name,
                                    "country": net.country})
        )  # fmt: skip
    for zone in topo.zones:
        host = topo.host(zone.server)
        net = topo.network(host.network)
        parts.append(
            _table("[[services]]", {"name": zone.server, "description": f"DNS for {zone.name}",
                                    "organization": net.organization, "network": net.name,
                                    "country": net.country})
        )  # fmt: skip
    watched_blocks = block_targets(topo) if blocks else []
    for block in watched_blocks:
        net = topo.network(block["network"])
        what = f"Address space of {net.description or net.name}"
        parts.append(
            _table("[[services]]", {"name": block["service"], "description": what,
                                    "organization": net.organization, "network": net.name,
                                    "country": net.country})
        )  # fmt: skip
    for target in _targets(topo, ca_file) + watched_blocks:
        parts.append(_table("[[targets]]", target))
    return "\n\n".join(parts) + "\n"


def _in_country(topo: Topology, vantage: str) -> tuple[str | None, bool]:
    country = topo.country_of(topo.host(vantage))
    service_countries = {
        topo.network(topo.host(s.host).network).country
        for s in topo.services
        if topo.host(s.host).role != "control"
    }
    return country, country in service_countries


def detector_config(
    topo: Topology,
    *,
    interval_s: float = 5.0,
    timeout_s: float = 3.0,
    ca_file: str = "",
    blocks: bool = True,
) -> Config:
    """The config a central netvigil judges the whole lab with: every target, and every
    vantage as an agent with its country and side of the border (what `Detector` needs to
    tell filtering and a vantage's own trouble from an outage). Without `blocks`, no block
    targets: the config of a run recorded before the lab had them (their address-space
    services would count, unmeasured, among a network's services)."""
    from netvigil.config import AgentConfig, parse_config

    base = parse_config(
        netvigil_config_text(
            topo,
            vantage=None,
            ca_file=ca_file,
            interval_s=interval_s,
            timeout_s=timeout_s,
            bgp_url=collector_url(topo),
            blocks=blocks,
        )
    )
    agents = []
    for host in topo.hosts_with("vantage"):
        country, in_country = _in_country(topo, host.name)
        agents.append(
            AgentConfig(
                name=host.name,
                token_sha256=hashlib.sha256(host.name.encode()).hexdigest(),
                country=country,
                in_country=in_country,
            )
        )
    vantage = base.vantage.model_copy(update={"in_country": False})
    return base.model_copy(update={"agents": agents, "vantage": vantage})

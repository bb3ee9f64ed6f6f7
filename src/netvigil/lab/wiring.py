"""The lab's wiring: namespace and interface names, links, addresses, routes and shaping.

Pure plumbing of a `Topology` into namespaces (through `netvigil.lab.netns`): each
network is a router namespace `nv-r-<network>` with a bridge `nv-br` holding its hosts'
links (`nv-h<i>`); each host is a namespace `nv-<host>` with one link `nv-eth`
(namespace names start with the lab's prefix, `nv-` by default; `nv-a-` gives
`nv-a-r-<network>` and `nv-a-<host>`, so labs of different prefixes coexist); a
network's router reaches its upstream router over `nv-up` (`nv-d<i>` on the upstream
side), where traffic into the network may be shaped.
"""

from __future__ import annotations

from netvigil.errors import LabError
from netvigil.lab import netns
from netvigil.lab.topology import Topology

__all__ = [
    "add_routes",
    "build_host",
    "build_router",
    "build_uplink",
    "downlink_of",
    "host_ns",
    "own_namespaces",
    "port_of",
    "reset_queue",
    "routed_prefixes",
    "router_ns",
    "withdraw_routes",
]


def host_ns(host: str, ns_prefix: str = netns.PREFIX) -> str:
    """The namespace of a host (in a lab whose namespaces start with `ns_prefix`)."""
    return f"{ns_prefix}{host}"


def router_ns(network: str, ns_prefix: str = netns.PREFIX) -> str:
    """The namespace of a network's router."""
    return f"{ns_prefix}r-{network}"


def own_namespaces(topology: Topology, ns_prefix: str = netns.PREFIX) -> list[str]:
    """The namespaces a lab of `topology` consists of."""
    own = [host_ns(h.name, ns_prefix) for h in topology.hosts]
    return own + [router_ns(n.name, ns_prefix) for n in topology.networks]


def port_of(topology: Topology, host: str) -> str:
    """The router-side interface of `host`'s link (in its network's router)."""
    h = topology.host(host)
    index = [x.name for x in topology.hosts_in(h.network)].index(host)
    return f"nv-h{index}"


def downlink_of(topology: Topology, network: str) -> str:
    """The upstream router's interface towards `network`."""
    return f"nv-d{topology.link_index(network)}"


def _sysctl(ns: str, *settings: str) -> None:
    netns.run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w", *settings])


def build_router(topo: Topology, network: str, ns_prefix: str = netns.PREFIX) -> None:
    """Create `network`'s router namespace: forwarding on, a bridge with its addresses."""
    net = topo.network(network)
    ns = router_ns(network, ns_prefix)
    netns.run(["ip", "netns", "add", ns])
    netns.run(["ip", "-n", ns, "link", "set", "lo", "up"])
    _sysctl(
        ns,
        "net.ipv4.ip_forward=1",
        "net.ipv4.icmp_ratelimit=0",
        "net.ipv6.conf.all.forwarding=1",
        "net.ipv6.icmp.ratelimit=0",
    )
    netns.run(["ip", "-n", ns, "link", "add", "nv-br", "type", "bridge"])
    netns.run(
        ["ip", "-n", ns, "addr", "add", f"{topo.router4(network)}/{net.prefix4.prefixlen}",
         "dev", "nv-br"]
    )  # fmt: skip
    v6 = topo.router6(network)
    if v6 is not None and net.prefix6 is not None:
        netns.run(
            ["ip", "-n", ns, "addr", "add", f"{v6}/{net.prefix6.prefixlen}", "dev", "nv-br",
             "nodad"]
        )  # fmt: skip
    netns.run(["ip", "-n", ns, "link", "set", "nv-br", "up"])


def build_host(topo: Topology, host: str, ns_prefix: str = netns.PREFIX) -> None:
    """Create `host`'s namespace, linked to its network's bridge, with addresses and routes."""
    h = topo.host(host)
    net = topo.network(h.network)
    ns, router = host_ns(host, ns_prefix), router_ns(h.network, ns_prefix)
    port = port_of(topo, host)
    netns.run(["ip", "netns", "add", ns])
    netns.run(["ip", "-n", ns, "link", "set", "lo", "up"])
    netns.run(
        ["ip", "link", "add", "nv-eth", "netns", ns, "type", "veth", "peer", "name", port,
         "netns", router]
    )  # fmt: skip
    netns.run(["ip", "-n", router, "link", "set", port, "master", "nv-br"])
    netns.run(["ip", "-n", router, "link", "set", port, "up"])
    netns.run(
        ["ip", "-n", ns, "addr", "add", f"{topo.host4(host)}/{net.prefix4.prefixlen}",
         "dev", "nv-eth"]
    )  # fmt: skip
    netns.run(["ip", "-n", ns, "link", "set", "nv-eth", "up"])
    netns.run(["ip", "-n", ns, "route", "add", "default", "via", str(topo.router4(h.network))])
    v6 = topo.host6(host)
    if v6 is not None and net.prefix6 is not None:
        netns.run(
            ["ip", "-n", ns, "addr", "add", f"{v6}/{net.prefix6.prefixlen}", "dev", "nv-eth",
             "nodad"]
        )  # fmt: skip
        netns.run(
            ["ip", "-n", ns, "-6", "route", "add", "default", "via",
             str(topo.router6(h.network))]
        )  # fmt: skip


def build_uplink(topo: Topology, network: str, ns_prefix: str = netns.PREFIX) -> None:
    """Link `network`'s router to its upstream's, announce it, and shape traffic into it."""
    net = topo.network(network)
    assert net.upstream is not None
    ns, up_ns = router_ns(network, ns_prefix), router_ns(net.upstream, ns_prefix)
    down = downlink_of(topo, network)
    upper4, lower4 = topo.link4(network)
    upper6, lower6 = topo.link6(network)
    netns.run(
        ["ip", "link", "add", "nv-up", "netns", ns, "type", "veth", "peer", "name", down,
         "netns", up_ns]
    )  # fmt: skip
    netns.run(["ip", "-n", ns, "addr", "add", f"{lower4}/30", "dev", "nv-up"])
    netns.run(["ip", "-n", ns, "addr", "add", f"{lower6}/64", "dev", "nv-up", "nodad"])
    netns.run(["ip", "-n", up_ns, "addr", "add", f"{upper4}/30", "dev", down])
    netns.run(["ip", "-n", up_ns, "addr", "add", f"{upper6}/64", "dev", down, "nodad"])
    netns.run(["ip", "-n", ns, "link", "set", "nv-up", "up"])
    netns.run(["ip", "-n", up_ns, "link", "set", down, "up"])
    netns.run(["ip", "-n", ns, "route", "add", "default", "via", str(upper4)])
    netns.run(["ip", "-n", ns, "-6", "route", "add", "default", "via", str(upper6)])
    add_routes(topo, network, ns_prefix)
    if net.uplink is not None:
        u = net.uplink
        tc = ["ip", "netns", "exec", up_ns, "tc"]
        netns.run([*tc, "qdisc", "replace", "dev", down, "root", "handle", "1:", "htb",
                   "default", "1"])  # fmt: skip
        netns.run([*tc, "class", "add", "dev", down, "parent", "1:", "classid", "1:1", "htb",
                   "rate", f"{u.rate_kbit}kbit", "ceil", f"{u.rate_kbit}kbit",
                   "burst", f"{u.burst_kbit}kbit"])  # fmt: skip
        reset_queue(topo, network, ns_prefix)


def reset_queue(topo: Topology, network: str, ns_prefix: str = netns.PREFIX) -> None:
    """Put back the plain FIFO of `network`'s shaped uplink."""
    net = topo.network(network)
    if net.upstream is None or net.uplink is None:
        return
    netns.run(
        ["ip", "netns", "exec", router_ns(net.upstream, ns_prefix), "tc", "qdisc", "replace",
         "dev", downlink_of(topo, network), "parent", "1:1", "handle", "10:", "pfifo",
         "limit", str(net.uplink.queue_packets)]
    )  # fmt: skip


def routed_prefixes(topo: Topology, network: str) -> list[str]:
    """The prefixes reached through `network`'s uplink: its own and its descendants'."""
    out: list[str] = []
    for n in [topo.network(network), *topo.descendants(network)]:
        out.append(str(n.prefix4))
        if n.prefix6 is not None:
            out.append(str(n.prefix6))
    return out


def add_routes(topo: Topology, network: str, ns_prefix: str = netns.PREFIX) -> None:
    """Announce `network` upstream: routes in every ancestor router towards it."""
    child = topo.network(network)
    while child.upstream is not None:
        parent = child.upstream
        lower4, lower6 = topo.link4(child.name)[1], topo.link6(child.name)[1]
        for cidr in routed_prefixes(topo, network):
            via = str(lower6) if ":" in cidr else str(lower4)
            netns.run(["ip", "-n", router_ns(parent, ns_prefix), "route", "replace", cidr,
                       "via", via])  # fmt: skip
        child = topo.network(parent)


def withdraw_routes(topo: Topology, network: str, ns_prefix: str = netns.PREFIX) -> None:
    """Withdraw `network` upstream: its upstream router forgets the routes towards it."""
    upstream = topo.network(network).upstream
    if upstream is None:
        raise LabError(f"network {network!r} is the core; it has no upstream to withdraw from")
    for cidr in routed_prefixes(topo, network):
        netns.run(["ip", "-n", router_ns(upstream, ns_prefix), "route", "del", cidr], check=False)

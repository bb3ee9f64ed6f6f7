"""The lab's wiring: namespace and interface names, links, addresses, routes and shaping.

Pure plumbing of a `Topology` into namespaces (through `netvigil.lab.netns`): each
network is a router namespace `nv-r-<network>` with a bridge `nv-br` holding its hosts'
links (`nv-h<i>`); each host is a namespace `nv-<host>` with one link `nv-eth`
(namespace names start with the lab's prefix, `nv-` by default; `nv-a-` gives
`nv-a-r-<network>` and `nv-a-<host>`, so labs of different prefixes coexist); a
network's router reaches its upstream router over `nv-up` (`nv-d<i>` on the upstream
side), where traffic into the network may be shaped, and its further upstreams
(`also_upstream`) over `nv-up1`, `nv-up2`...

Routes between networks are not set here: each router's BIRD learns them over eBGP and
puts them in its kernel table (`netvigil.lab.bird`); only the links' connected routes
and the hosts' default routes towards their own router are static.
"""

from __future__ import annotations

from netvigil.lab import netns
from netvigil.lab.topology import Topology

__all__ = [
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
    "uplink_of",
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


def downlink_of(topology: Topology, network: str, upstream: str | None = None) -> str:
    """The upstream router's interface towards `network` (on its link to `upstream`,
    default its primary upstream)."""
    return f"nv-d{topology.link_index(network, upstream)}"


def uplink_of(topology: Topology, network: str, upstream: str | None = None) -> str:
    """`network`'s router's interface towards `upstream` (default its primary upstream)."""
    net = topology.network(network)
    if upstream is None or upstream == net.upstream:
        return "nv-up"
    return f"nv-up{net.also_upstream.index(upstream) + 1}"


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


def build_uplink(
    topo: Topology, network: str, ns_prefix: str = netns.PREFIX, upstream: str | None = None
) -> None:
    """Link `network`'s router to its upstream's (`upstream`, default the primary one) and
    shape traffic into it (the primary link only)."""
    net = topo.network(network)
    up = upstream or net.upstream
    assert up is not None
    ns, up_ns = router_ns(network, ns_prefix), router_ns(up, ns_prefix)
    down, dev = downlink_of(topo, network, up), uplink_of(topo, network, up)
    upper4, lower4 = topo.link4(network, up)
    upper6, lower6 = topo.link6(network, up)
    netns.run(
        ["ip", "link", "add", dev, "netns", ns, "type", "veth", "peer", "name", down,
         "netns", up_ns]
    )  # fmt: skip
    netns.run(["ip", "-n", ns, "addr", "add", f"{lower4}/30", "dev", dev])
    netns.run(["ip", "-n", ns, "addr", "add", f"{lower6}/64", "dev", dev, "nodad"])
    netns.run(["ip", "-n", up_ns, "addr", "add", f"{upper4}/30", "dev", down])
    netns.run(["ip", "-n", up_ns, "addr", "add", f"{upper6}/64", "dev", down, "nodad"])
    netns.run(["ip", "-n", ns, "link", "set", dev, "up"])
    netns.run(["ip", "-n", up_ns, "link", "set", down, "up"])
    if net.uplink is not None and up == net.upstream:
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

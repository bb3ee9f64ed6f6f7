"""BGP in the lab: one BIRD 2 per router namespace, its config text, and `birdc` to steer it.

Each network is an AS (`Topology.asns`). Its router's BIRD

- originates the network's prefixes (static protocols `origin4`/`origin6`, never put in
  the kernel: the prefix is connected on the router's bridge);
- holds an eBGP session per address family with each upstream (`up4_<upstream>`,
  `up6_<upstream>`), exporting only its own prefixes and its customers' routes (so a
  multi-homed network is no transit between its upstreams), importing everything but
  its own prefixes and parts of them;
- holds an eBGP session with each customer (`down4_<network>`, `down6_<network>`),
  exporting everything it knows except blackholed routes, importing the customer's
  routes; a route tagged with the BLACKHOLE community (65535, 666, RFC 7999) becomes a
  blackhole (remotely triggered black hole, RTBH);
- holds, on the collector's network, a session with the route collector
  (`collector4`, `collector6`) that gets every route, blackholes included;
- keeps a disabled static protocol per host (`rtbh4_<host>`, `rtbh6_<host>`): the host's
  /32 (/128) tagged (65535, 666), enabled by an `rtbh` fault;
- on a scrubbing network, a disabled static protocol per protected network
  (`scrub4_<network>`, `scrub6_<network>`): its prefix's two halves routed over the link
  to it, enabled by a `scrubbing_diversion` fault;
- exports the BGP routes (and scrubbing routes) into the kernel (`kernel4`, `kernel6`).

Protocol names use `_` where network names have `-`. Config, control socket and log
live in the lab's state dir (`bird/<network>.conf`, `.ctl`; `logs/bird-<network>.log`).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from ipaddress import IPv4Network, IPv6Network

from netvigil.errors import LabError
from netvigil.lab import netns
from netvigil.lab.birdroutes import session_states
from netvigil.lab.topology import Topology

__all__ = [
    "BLACKHOLE",
    "COLLECTOR_PEER",
    "bgp_sessions",
    "birdc",
    "collector_config",
    "proto_name",
    "router_config",
    "wait_established",
]

BLACKHOLE = (65535, 666)
"""The BLACKHOLE well-known community (RFC 7999)."""
COLLECTOR_PEER = "peer"
"""The collector's session names start with this (`peer4`, `peer6`)."""

_DEBUG = "    debug { routes };\n"
_TIMERS = "    connect delay time 1;\n    connect retry time 3;\n    error wait time 1, 10;\n"


def proto_name(*parts: str) -> str:
    """A BIRD protocol name from parts (`-` becomes `_`)."""
    return "_".join(re.sub(r"[^A-Za-z0-9]", "_", p) for p in parts)


def _halves(prefix: IPv4Network | IPv6Network) -> list[str]:
    return [str(p) for p in prefix.subnets(prefixlen_diff=1)]


def _session(
    name: str,
    local: str,
    local_as: int,
    peer: str,
    peer_as: int,
    channel: str,
    filters: str,
    extra: str = "",
) -> str:
    return (
        f"protocol bgp {name} {{\n    local {local} as {local_as};\n"
        f"    neighbor {peer} as {peer_as};\n{_TIMERS}{extra}"
        f"    {channel} {{\n{filters}    }};\n}}\n"
    )


_TO_UPSTREAM = (
    "        import where !(net ~ OWN{family});\n"
    '        export where proto ~ "origin*" || proto ~ "down*"'
    ' || proto ~ "rtbh*" || proto ~ "scrub*";\n'
)
"""Never import one's own prefixes (or parts of them: a scrubber's more-specifics)."""
_TO_CUSTOMER = (
    "        import filter customer_in;\n        export where (source = RTS_BGP"
    ' || proto ~ "origin*" || proto ~ "scrub*") && !((65535, 666) ~ bgp_community);\n'
)
_TO_COLLECTOR = (
    '        import none;\n        export where source = RTS_BGP || proto ~ "origin*"'
    ' || proto ~ "scrub*";\n'
)


def _statics(name: str, channel: str, routes: Sequence[str], *, disabled: bool, tag: str) -> str:
    lines = [f"protocol static {name} {{"]
    if disabled:
        lines.append("    disabled;")
    lines.append(f"    {channel}{tag};")
    lines += [f"    route {r};" for r in routes]
    lines.append("}")
    return "\n".join(lines) + "\n"


def bgp_sessions(topo: Topology, network: str) -> list[str]:
    """The names of the BGP sessions `network`'s router holds."""
    names: list[str] = []
    for up in _bgp_upstreams(topo, network):
        names += [proto_name("up4", up), proto_name("up6", up)]
    for down in _bgp_customers(topo, network):
        names += [proto_name("down4", down), proto_name("down6", down)]
    if any(h.network == network for h in topo.collectors):
        names += ["collector4", "collector6"]
    return names


def _bgp_upstreams(topo: Topology, network: str) -> list[str]:
    return [u for u in topo.upstreams_of(network) if not topo.network(u).scrubbing]


def _bgp_customers(topo: Topology, network: str) -> list[str]:
    if topo.network(network).scrubbing:
        return [c.name for c in topo.children(network)]
    return topo.customers_of(network)


def router_config(topo: Topology, network: str) -> str:
    """The BIRD config text of `network`'s router."""
    net, asns = topo.network(network), topo.asns()
    own = asns[network]
    parts = [
        f"# BIRD config of network {network} (AS{own}), generated by netvigil.lab\n"
        f"router id {topo.router4(network)};\nlog stderr all;\n"
        "timeformat route iso long;\ntimeformat protocol iso long;\n",
        "protocol device {\n    scan time 10;\n}\n",
        "filter customer_in {\n    if (65535, 666) ~ bgp_community then {\n"
        "        dest = RTD_BLACKHOLE;\n        accept;\n    }\n    accept;\n}\n",
    ]
    own6 = f"{net.prefix6}+" if net.prefix6 is not None else "2001:db8::/128"
    parts.append(f"define OWN4 = [ {net.prefix4}+ ];\ndefine OWN6 = [ {own6} ];\n")
    kernel_export = '{ import none; export where source = RTS_BGP || proto ~ "scrub*"; }'
    parts.append(f"protocol kernel kernel4 {{\n    ipv4 {kernel_export};\n}}\n")
    parts.append(f"protocol kernel kernel6 {{\n    ipv6 {kernel_export};\n}}\n")
    parts.append(_statics("origin4", "ipv4", [f"{net.prefix4} unreachable"], disabled=False,
                          tag=""))  # fmt: skip
    if net.prefix6 is not None:
        parts.append(_statics("origin6", "ipv6", [f"{net.prefix6} unreachable"],
                              disabled=False, tag=""))  # fmt: skip
    tag = " { import filter { bgp_community.add((65535, 666)); accept; }; }"
    for host in topo.hosts_in(network):
        v4 = f"{topo.host4(host.name)}/32 blackhole"
        parts.append(_statics(proto_name("rtbh4", host.name), "ipv4", [v4], disabled=True,
                              tag=tag))  # fmt: skip
        v6 = topo.host6(host.name)
        if v6 is not None:
            parts.append(_statics(proto_name("rtbh6", host.name), "ipv6",
                                  [f"{v6}/128 blackhole"], disabled=True, tag=tag))  # fmt: skip
    if net.scrubbing:
        parts += _scrub_statics(topo, network)
    for up in _bgp_upstreams(topo, network):
        upper4, lower4 = topo.link4(network, up)
        upper6, lower6 = topo.link6(network, up)
        parts.append(_session(proto_name("up4", up), str(lower4), own, str(upper4), asns[up],
                              "ipv4", _TO_UPSTREAM.format(family=4)))  # fmt: skip
        parts.append(_session(proto_name("up6", up), str(lower6), own, str(upper6), asns[up],
                              "ipv6", _TO_UPSTREAM.format(family=6)))  # fmt: skip
    for down in _bgp_customers(topo, network):
        upper4, lower4 = topo.link4(down, network)
        upper6, lower6 = topo.link6(down, network)
        parts.append(_session(proto_name("down4", down), str(upper4), own, str(lower4),
                              asns[down], "ipv4", _TO_CUSTOMER))  # fmt: skip
        parts.append(_session(proto_name("down6", down), str(upper6), own, str(lower6),
                              asns[down], "ipv6", _TO_CUSTOMER))  # fmt: skip
    for host in topo.collectors:
        if host.network != network:
            continue
        parts.append(_session("collector4", str(topo.router4(network)), own,
                              str(topo.host4(host.name)), asns["collector"], "ipv4",
                              _TO_COLLECTOR))  # fmt: skip
        v6, r6 = topo.host6(host.name), topo.router6(network)
        if v6 is not None and r6 is not None:
            parts.append(_session("collector6", str(r6), own, str(v6), asns["collector"],
                                  "ipv6", _TO_COLLECTOR))  # fmt: skip
    return "\n".join(parts)


def _scrub_statics(topo: Topology, scrubber: str) -> list[str]:
    parts: list[str] = []
    for protected in topo.networks:
        if scrubber not in protected.also_upstream:
            continue
        _, lower4 = topo.link4(protected.name, scrubber)
        routes4 = [f"{half} via {lower4}" for half in _halves(protected.prefix4)]
        parts.append(_statics(proto_name("scrub4", protected.name), "ipv4", routes4,
                              disabled=True, tag=""))  # fmt: skip
        if protected.prefix6 is not None:
            _, lower6 = topo.link6(protected.name, scrubber)
            routes6 = [f"{half} via {lower6}" for half in _halves(protected.prefix6)]
            parts.append(_statics(proto_name("scrub6", protected.name), "ipv6", routes6,
                                  disabled=True, tag=""))  # fmt: skip
    return parts


def collector_config(topo: Topology) -> str:
    """The BIRD config text of the route collector: sessions to its network's router,
    importing everything, exporting nothing."""
    host = topo.collectors[0]
    net, asns = host.network, topo.asns()
    parts = [
        f"# BIRD config of the route collector (AS{asns['collector']}), generated by "
        f"netvigil.lab\nrouter id {topo.host4(host.name)};\nlog stderr all;\n"
        "timeformat log iso long ms;\n",
        "protocol device {\n    scan time 10;\n}\n",
    ]
    keep = "        import all;\n        export none;\n"
    # `debug { routes }` logs each route the collector takes in or drops, with the time
    # in milliseconds: what the feed's delay is measured from.
    parts.append(_session(f"{COLLECTOR_PEER}4", str(topo.host4(host.name)), asns["collector"],
                          str(topo.router4(net)), asns[net], "ipv4", keep, _DEBUG))  # fmt: skip
    v6, r6 = topo.host6(host.name), topo.router6(net)
    if v6 is not None and r6 is not None:
        parts.append(_session(f"{COLLECTOR_PEER}6", str(v6), asns["collector"], str(r6),
                              asns[net], "ipv6", keep, _DEBUG))  # fmt: skip
    return "\n".join(parts)


def birdc(socket: str, *args: str, check: bool = True) -> str:
    """Run `birdc -s SOCKET ARGS` (the control socket needs no namespace); its output.

    Raises LabError when birdc fails, or says a command failed, and `check` is set.
    """
    out = netns.run(["birdc", "-s", socket, *args], check=check, timeout=10.0)
    failed = r"^(syntax error|.*: not found|Unknown command|No protocols match)"
    if check and re.search(failed, out, re.M):
        raise LabError(f"birdc {' '.join(args)}: {out.strip()}")
    return out


def wait_established(
    sockets: dict[str, str],
    routes_ready: Callable[[], list[str]],
    *,
    timeout_s: float = 45.0,
    poll_s: float = 0.25,
) -> float:
    """Wait until every BGP session of every BIRD (control socket by name) is Established
    and `routes_ready()` names nothing missing; the seconds it took. Raises LabError."""
    start = time.monotonic()
    waiting: list[str] = []
    while time.monotonic() - start < timeout_s:
        waiting = []
        for name, sock in sockets.items():
            state = session_states(birdc(sock, "show", "protocols", check=False).splitlines())
            waiting += [f"{name}:{p}" for p, up in state.items() if not up]
            if not state:
                waiting.append(f"{name}: no answer")
        if not waiting:
            waiting = routes_ready()
            if not waiting:
                return time.monotonic() - start
        time.sleep(poll_s)
    raise LabError(
        f"BGP not ready after {timeout_s:g}s: {', '.join(waiting[:8])}"
        " (see the bird-*.log files in the lab's logs)"
    )

"""Starting a lab's routing: a BIRD per router and one for the collector, then the feed.

    took = start_bgp(lab)     # seconds until every session was up and every route in

Each BIRD runs in its namespace as a lab process (`bird:<network>`, `bird:collector`)
with its config written from `netvigil.lab.bird`; the collector's feed
(`netvigil.lab.collector`, process `collector:feed`) starts once the sessions are up and
is waited for until it listens. The feed names both of the collector's sessions (IPv4
and IPv6) by the router's IPv4 address: one peer, as one multiprotocol session is.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from netvigil.lab import bird
from netvigil.lab.config import COLLECTOR_PORT

if TYPE_CHECKING:
    from netvigil.lab.lab import Lab

__all__ = ["routes_missing", "start_bgp", "wait_converged"]


def start_bgp(lab: Lab, *, timeout_s: float) -> float:
    """Start every BIRD, wait until every session is Established and every router has a
    kernel route to every other network (at most `timeout_s`), then start the collector's
    feed; the seconds the wait took. Raises LabError."""
    topo = lab.topology
    (lab.state_dir / "bird").mkdir(parents=True, exist_ok=True)
    sockets = {
        net.name: _start_bird(lab, net.name, net.name, bird.router_config(topo, net.name))
        for net in topo.networks
    }
    if topo.collectors:
        host = topo.collectors[0].name
        sockets["collector"] = _start_bird(lab, host, "collector", bird.collector_config(topo))
    took = bird.wait_established(sockets, lambda: routes_missing(lab), timeout_s=timeout_s)
    if topo.collectors:
        _start_feed(lab)
    return took


def wait_converged(lab: Lab, *, timeout_s: float) -> float:
    """Wait until every BGP session is Established again and every router has its routes
    back (after a fault that took some away); the seconds it took. Raises LabError."""
    names = [net.name for net in lab.topology.networks]
    if lab.topology.collectors:
        names.append("collector")
    sockets = {name: lab.bird_socket(name) for name in names}
    return bird.wait_established(sockets, lambda: routes_missing(lab), timeout_s=timeout_s)


def _start_bird(lab: Lab, where: str, name: str, config: str) -> str:
    conf = lab.state_dir / "bird" / f"{name}.conf"
    conf.write_text(config)
    sock = lab.bird_socket(name)
    Path(sock).unlink(missing_ok=True)
    lab.spawn(where, f"bird:{name}", ["bird", "-f", "-c", str(conf), "-s", sock])
    return sock


def _start_feed(lab: Lab) -> None:
    topo = lab.topology
    host = topo.collectors[0]
    peer_as = str(topo.asn_of(host.network))
    peer4 = f"{bird.COLLECTOR_PEER}4={topo.router4(host.network)},{peer_as}"
    argv = ["--socket", lab.bird_socket("collector"), "--listen", str(topo.host4(host.name)),
            "--port", str(COLLECTOR_PORT), "--host", host.name, "--peer", peer4]  # fmt: skip
    r6 = topo.router6(host.network)
    if r6 is not None and topo.host6(host.name) is not None:
        # One peer, as a multiprotocol session carrying both families shows on RIS: its
        # routes of both families count for one peer's view (visibility 1, not 1/2).
        argv += ["--peer", f"{bird.COLLECTOR_PEER}6={topo.router4(host.network)},{peer_as}"]
    key = "collector:feed"
    lab.spawn(host.name, key, lab.python("netvigil.lab.collector", *argv))
    lab.wait_listening(host.name, COLLECTOR_PORT, key=key)


def routes_missing(lab: Lab) -> list[str]:
    """Routes a router still lacks in its kernel (`router: prefix`), for every other network."""
    missing: list[str] = []
    topo = lab.topology
    for net in topo.networks:
        have = lab.ip(net.name, "route", "show", "proto", "bird", check=False)
        have += lab.ip(net.name, "-6", "route", "show", "proto", "bird", check=False)
        known = {line.split()[0] for line in have.splitlines() if line.strip()}
        for other in topo.networks:
            if other.name == net.name:
                continue
            for prefix in (other.prefix4, other.prefix6):
                if prefix is not None and str(prefix) not in known:
                    missing.append(f"{net.name}: {prefix}")
    return missing

"""Ground truth from a fault's documented effect: what a detector should report for it.

Each fault kind knows its cause (`Fault.cause`, None for a benign one) and the sort of
target it takes; from the target and the topology follow the services it breaks and
where that is seen from (docs/lab.md, "Faults"):

- a network fault breaks every web service and authoritative DNS server in that network
  and the networks behind it, seen from everywhere; `in_country_filter` only from the
  vantages in the network's country (outside the network itself);
- a service fault breaks that service; a DNS fault that zone's server, and a
  `dns_servfail` also the web services whose names are in the zone: the public resolver
  passes its authority's SERVFAIL on (it serves stale answers only when the authority is
  silent, as in a `dns_outage`), so their names stop resolving;
- `vantage_down` is a vantage problem: every watched service fails from that vantage;
- a `volumetric_ddos` is an outage only when it offers at least `FLOOD_OUTAGE_RATIO` times
  the capacity of the network's shaped uplink (pulses count at their peak): below that,
  the uplink's queue drops fewer than 60 % of the packets, most probes still get an answer
  and the flood is congestion, not an outage (no incident expected). Its offered load is
  what the flood sends (datagrams of 64 bytes up to `packet_size`, so about half of it on
  average), not `rate_pps * packet_size`. The flood before a `defensive_withdrawal` is
  judged the same way: under the ratio only the withdrawal that ends it is expected.

    affected = affected_services(topology, spec)   # ["e-albania", "ns-gov", ...]
    expect = expectation_for(topology, spec)       # an Expectation, or None when benign
    every = expectations_for(topology, spec)       # one per phase (a flood, then a withdrawal)
"""

from __future__ import annotations

from netvigil.cause import Cause
from netvigil.lab.faults import FAULTS, FaultSpec
from netvigil.lab.flood import offered_kbit
from netvigil.lab.scenario import Expectation
from netvigil.lab.topology import Topology

__all__ = [
    "FLOOD_OUTAGE_RATIO",
    "NAMES_FAIL_WITH",
    "affected_services",
    "expectation_for",
    "expectations_for",
    "flood_overload",
    "in_country_vantages",
    "network_services",
    "watched_services",
    "zone_services",
]


def watched_services(topology: Topology) -> list[str]:
    """Every service a vantage watches that is not a control: web services and DNS servers."""
    controls = {h.name for h in topology.hosts_with("control")}
    web = [s.name for s in topology.services if s.host not in controls]
    return sorted({*web, *(z.server for z in topology.zones)})


def network_services(topology: Topology, network: str) -> list[str]:
    """The watched services hosted in `network` and in the networks behind it."""
    nets = {network, *(n.name for n in topology.descendants(network))}
    hosts = {h.name for h in topology.hosts if h.network in nets}
    web = {s.name for s in topology.services if s.host in hosts}
    dns = {z.server for z in topology.zones if z.server in hosts}
    return sorted((web | dns) & set(watched_services(topology)))


NAMES_FAIL_WITH = frozenset({"dns_servfail"})
"""DNS fault kinds that make the names in the zone stop resolving through the resolver."""


def zone_services(topology: Topology, server: str) -> list[str]:
    """The web services whose hosts are named in a zone that `server` serves."""
    zones = [z.name.rstrip(".").lower() for z in topology.zones if z.server == server]
    named = []
    for svc in topology.services:
        name = (topology.host(svc.host).dns_name or "").rstrip(".").lower()
        if name and any(name == z or name.endswith("." + z) for z in zones):
            named.append(svc.name)
    return sorted(set(named) & set(watched_services(topology)))


def in_country_vantages(topology: Topology, network: str) -> list[str]:
    """Vantages in `network`'s country, outside it (those an in-country filter affects)."""
    country = topology.network(network).country
    return sorted(
        h.name
        for h in topology.hosts_with("vantage")
        if country is not None and topology.country_of(h) == country and h.network != network
    )


def affected_services(topology: Topology, spec: FaultSpec) -> list[str]:
    """The services `spec` breaks, by the sort of its target."""
    sort = FAULTS[spec.kind].target
    if sort == "network":
        return network_services(topology, spec.target)
    if sort == "service":
        return [spec.target]
    if sort == "dns":
        server = topology.zone_server(spec.target)
        if server is None:
            return []
        if spec.kind in NAMES_FAIL_WITH:
            return sorted({server, *zone_services(topology, server)})
        return [server]
    return watched_services(topology)


FLOOD_OUTAGE_RATIO = 2.5
"""Offered load / uplink capacity from which a volumetric flood is an outage (loss 60 %)."""


def flood_overload(topology: Topology, spec: FaultSpec) -> float | None:
    """How many times its target's uplink capacity a volumetric flood offers (None: the
    network has no shaped uplink, so the flood is judged by its kind alone)."""
    network = next((n for n in topology.networks if n.name == spec.target), None)
    if network is None or network.uplink is None:
        return None
    return offered_kbit(spec.rate_pps, spec.packet_size) / network.uplink.rate_kbit


def expectation_for(topology: Topology, spec: FaultSpec) -> Expectation | None:
    """The incident a detector should report first for `spec` (None for a benign fault)."""
    expected = expectations_for(topology, spec)
    return expected[0] if expected else None


def expectations_for(topology: Topology, spec: FaultSpec) -> list[Expectation]:
    """The incidents a detector should report for `spec`, one per phase of its course
    (`Fault.phases`; a benign phase expects none; a flood under `FLOOD_OUTAGE_RATIO`
    times its uplink is congestion, none)."""
    congestion = False
    if FAULTS[spec.kind].floods_uplink:
        overload = flood_overload(topology, spec)
        congestion = overload is not None and overload < FLOOD_OUTAGE_RATIO
    vantages: list[str] = []
    if spec.kind == "in_country_filter":
        vantages = in_country_vantages(topology, spec.target)
    elif FAULTS[spec.kind].target == "vantage":
        vantages = [spec.target]
    return [
        Expectation(
            cause=cause,
            services=affected_services(topology, spec),
            vantages=vantages,
            start=start,
            end=end,
            note=f"from {spec.kind} on {spec.target}",
        )
        for cause, start, end in FAULTS[spec.kind].phases(spec)
        if cause is not None and not (congestion and cause is Cause.VOLUMETRIC_DDOS)
    ]

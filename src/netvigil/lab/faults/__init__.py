"""Faults: primitives that break one part of the lab for a while, and undo exactly that.

Each kind takes a target of one sort (a network, a service, a DNS host or zone, a
vantage) and is bounded: floods cap their packet rate, request concurrency and
duration and stop by themselves at `until`; rule and signal faults are undone by
`Lab.clear_fault` (and all of them by `lab_down`).

    kind               target     what it does
    shutdown           network    border router drops everything inbound, silently
    shutdown_reject    network    border router answers ICMP admin-prohibited
    route_withdrawal   network    upstream ends its BGP sessions with it (net unreachable)
    volumetric_ddos    network    attacker floods the shaped uplink with UDP
    application_ddos   service    attacker keeps the service's workers busy with requests
    service_crash      service    the service's process is killed (connection refused)
    dns_outage         dns host   the authoritative DNS server stops answering (or zone)
    dns_servfail       dns host   the authoritative DNS server answers SERVFAIL to everything
    tls_expired        service    the service presents an expired certificate
    in_country_filter  network    in-country ISPs drop (or reset) traffic to the network
    vantage_down       vantage    the vantage loses its uplink
    latency_spike      network    benign jitter and sparse loss on the link (or vantage)
    bgp_withdrawal     network    the network withdraws its prefixes (BGP), or from one upstream
    rtbh               service    the service's /32 announced with BLACKHOLE, dropped upstream
    scrubbing_diversion network   a scrubbing AS re-originates the prefix; a slower detour
    defensive_withdrawal network  a flood, then the network withdraws its prefixes
    dataplane_block    network    the upstreams drop traffic into the network; BGP stays up

One module per kind registers its `Fault` class in `FAULTS` (see `base`); importing
this package registers the built-in ones.
"""

from netvigil.lab.faults import (
    application_ddos,
    bgp_withdrawal,
    dataplane_block,
    defensive_withdrawal,
    dns_outage,
    dns_servfail,
    in_country_filter,
    latency_spike,
    route_withdrawal,
    rtbh,
    scrubbing_diversion,
    service_crash,
    shutdown,
    shutdown_reject,
    tls_expired,
    vantage_down,
    volumetric_ddos,
)
from netvigil.lab.faults.base import (
    FAULTS,
    ActiveFault,
    Fault,
    FaultSpec,
    LabHost,
    TargetSort,
    UndoRecord,
    make_fault,
    register,
    target_sort,
)

__all__ = [
    "FAULTS",
    "FAULT_KINDS",
    "ActiveFault",
    "Fault",
    "FaultSpec",
    "LabHost",
    "TargetSort",
    "UndoRecord",
    "make_fault",
    "register",
    "target_sort",
]

_BUILT_IN = (
    shutdown,
    shutdown_reject,
    route_withdrawal,
    volumetric_ddos,
    application_ddos,
    service_crash,
    dns_outage,
    dns_servfail,
    tls_expired,
    in_country_filter,
    vantage_down,
    latency_spike,
    bgp_withdrawal,
    rtbh,
    scrubbing_diversion,
    defensive_withdrawal,
    dataplane_block,
)

FAULT_KINDS: tuple[str, ...] = tuple(FAULTS)
"""The built-in fault kinds (`FAULTS` also holds any registered later)."""

"""Ground truth of the DNS faults: what the probes of a zone's names see (no lab)."""

from __future__ import annotations

from netvigil.cause import Cause
from netvigil.lab.faults import FaultSpec
from netvigil.lab.topology import load_topology
from netvigil.lab.truth import expectation_for, zone_services


def test_servfail_breaks_the_names_in_the_zone_and_silence_does_not() -> None:
    topology = load_topology(None)
    sites = ["e-albania", "kryeministria", "parlament"]
    assert zone_services(topology, "ns-gov") == sites  # tatime is named in al.lab

    def truth(kind: str) -> tuple[Cause | None, list[str]]:
        e = expectation_for(topology, FaultSpec(kind=kind, target="gov.al.lab", at=10, until=50))
        assert e is not None
        return e.cause, e.services

    # The public resolver passes the authority's SERVFAIL on: the names stop resolving.
    assert truth("dns_servfail") == (Cause.DNS_FAILURE, sorted([*sites, "ns-gov"]))
    # A silent authority is served stale by the resolver: only the server fails.
    assert truth("dns_outage") == (Cause.DNS_FAILURE, ["ns-gov"])

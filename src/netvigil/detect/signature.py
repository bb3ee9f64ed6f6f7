"""Failure signatures: which family of failure a target shows, so that failures on one
network or of one organization are grouped only when they look alike.

A shutdown or a volumetric flood makes probes go unanswered or time out; a crashed
service refuses connections; an overloaded application answers with errors; DNS and TLS
failures are their own. A web probe whose name does not resolve fails with DNS, whatever
the resolver said: the zone's server failing is what it shows, not the site's network.
Two sites on one network failing with different families at
once (an application-layer flood on one, a crash on the other) are two incidents, each
with its own cause; failures of one family (every site of a network silenced) are one.
"""

from __future__ import annotations

from collections.abc import Iterable

from netvigil.detect.features import outcome_class
from netvigil.state.paths import PathTable

__all__ = ["FAMILIES", "families_of", "family", "result_family"]

FAMILIES: dict[str, str] = {
    "silent": "unanswered",
    "net_unreach": "unanswered",
    "host_unreach": "unanswered",
    "prohibited": "unanswered",
    "http_slow": "unanswered",
    "refused": "refused",
    "http_5xx": "application",
    "http_other": "application",
    "dns": "dns",
    "tls": "tls",
}
"""Outcome class (`features.outcome_class`) -> failure family; anything else is `other`."""


def family(outcome: str) -> str:
    """The failure family of one failed outcome. A DNS query that times out is a name
    server unanswered, like the rest of a network cut off or flooded with it; a DNS answer
    that says no (SERVFAIL, NXDOMAIN, REFUSED, no answer) is a DNS failure of its own."""
    if outcome == "dns_timeout":
        return "unanswered"
    return FAMILIES.get(outcome_class(outcome), "other")


def result_family(kind: str, phase: str | None, outcome: str) -> str:
    """The failure family of one failed result of a probe of `kind` that failed in `phase`:
    a probe other than a DNS query that failed while resolving its target's name is a
    DNS failure (its name server answered no, or could not be reached to say yes), even
    when the resolver reports it as a timeout."""
    if phase == "resolve" and kind != "dns" and outcome.startswith("dns"):
        return "dns"
    return family(outcome)


def families_of(target: str, vantages: Iterable[str], paths: PathTable) -> frozenset[str]:
    """The failure families of `target`'s latest failed results from `vantages`."""
    found: set[str] = set()
    for v in vantages:
        record = paths.get(target, v)
        if record is not None and record.failing:
            found.add(result_family(record.kind, record.phase, record.outcome))
    return frozenset(found)

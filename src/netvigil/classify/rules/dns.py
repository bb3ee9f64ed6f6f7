"""dns_failure: the names stop resolving (timeouts, SERVFAIL, NXDOMAIN)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from netvigil.cause import Cause, Topic
from netvigil.classify.base import Verdict, dns_cut_off
from netvigil.outcome import Outcome
from netvigil.words import outcome_mix, share

if TYPE_CHECKING:
    from netvigil.evidence import EvidenceWindow

__all__ = ["DNSFailureRule"]

_DNS = [o.value for o in Outcome if o.value.startswith("dns_")]


class DNSFailureRule:
    """Weighs the share of failures that happened while resolving."""

    cause = Cause.DNS_FAILURE

    def judge(self, window: EvidenceWindow) -> Verdict | None:
        """DNS layer."""
        frac = window.features.frac_dns
        if frac <= 0.0:
            return None
        verdict = Verdict(self.cause)
        n = sum(window.outcomes[o] for o in _DNS)
        total = sum(window.outcomes.values())
        seen_by = window.class_vantages.get("dns", set())
        failing: set[str] = set().union(*window.class_vantages.values())
        spread = len(seen_by & failing) / len(failing) if failing else 1.0
        # A zone failing fails its names for every vantage; names failing from some of
        # the vantages while the others fail otherwise are those vantages' resolvers.
        verdict.add(
            window.weight("dns.failures") * frac * spread,
            Topic.DNS,
            f"DNS failed in {n} of {total} failed probes ({share(frac)}: "
            f"{outcome_mix(window.outcomes, _DNS)}) from {len(seen_by)} of the "
            f"{len(failing)} vantage(s) that saw failures",
        )
        if dns_cut_off(window):
            verdict.add(
                window.weight("dns.network_cut"),
                Topic.DNS,
                f"the other {share(1 - frac)} of failures were unanswered or unreachable on "
                f"{len(window.services)} services: the name server is cut off with its network",
            )
        return verdict

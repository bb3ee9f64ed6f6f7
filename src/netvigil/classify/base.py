"""The classification seam: causes, evidence statements, verdicts and the Rule protocol.

A rule looks at one EvidenceWindow (the features and facts around an incident's onset)
and either has nothing to say (None) or returns a Verdict for its cause: weighted
evidence statements, each citing figures. Positive weights support the cause, negative
weights speak against it. The classifier adds a verdict's weights to a score per cause
and turns the scores into probabilities (see `netvigil.classify.classifier`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from netvigil.evidence import EvidenceWindow


from netvigil.cause import TOPIC_ORDER, Cause, Evidence, Topic

__all__ = [
    "TOPIC_ORDER",
    "Cause",
    "Evidence",
    "Rule",
    "Topic",
    "Verdict",
    "dns_cut_off",
    "no_route_everywhere",
]

NO_ROUTE_MIN_SHARE = 0.2
"""The share of failures that must be ICMP network unreachable for `no_route_everywhere`."""


@dataclass(slots=True)
class Verdict:
    """What one rule says for its cause: weighted evidence; the score is their sum."""

    cause: Cause
    evidence: list[Evidence] = field(default_factory=list)

    @property
    def score(self) -> float:
        """The sum of the evidence weights."""
        return sum(e.weight for e in self.evidence)

    def add(self, weight: float, topic: Topic, statement: str) -> None:
        """Record one statement with its weight for this verdict's cause."""
        self.evidence.append(Evidence(statement, topic, weight, self.cause))


def dns_cut_off(window: EvidenceWindow) -> float:
    """The share of failures that are DNS timeouts of a name server cut off with its network.

    A DNS query to an unreachable or silenced server times out (UDP hears no ICMP), so
    when several services fail and the failures other than DNS are mostly below TCP
    (unanswered, unreachable, prohibited), the DNS failures are the same cut seen through
    a different probe. Returns `frac_dns` in that case, else 0.
    """
    f = window.features
    rest = 1.0 - f.frac_dns
    network = f.frac_silent + f.frac_net_unreach + f.frac_host_unreach + f.frac_prohibited
    if f.frac_dns <= 0 or len(window.services) < 2 or rest < 0.2 or network < 0.5 * rest:
        return 0.0
    return f.frac_dns


def no_route_everywhere(window: EvidenceWindow) -> float:
    """The share of the failing vantages that routers told "network unreachable", when such
    answers are at least `NO_ROUTE_MIN_SHARE` of the failures (else 0).

    Only a router without a route answers so; a network cut by dropping its traffic never
    does. Routers rate-limit the ICMP errors they send, so while the route is gone most
    probes may still time out: the share of vantages that heard "no route" says how
    widely the route is gone better than the share of probes that did.
    """
    f = window.features
    if f.frac_net_unreach < NO_ROUTE_MIN_SHARE:
        return 0.0
    failing: set[str] = set().union(*window.class_vantages.values())
    heard = window.class_vantages.get("net_unreach", set())
    return len(heard & failing) / len(failing) if failing else 0.0


class Rule(Protocol):
    """A transparent, pluggable piece of attribution for one cause.

    `judge` is pure: it reads the window (and `window.weights`) and returns a Verdict
    with evidence, or None when the window says nothing about this cause.
    """

    cause: Cause

    def judge(self, window: EvidenceWindow) -> Verdict | None: ...

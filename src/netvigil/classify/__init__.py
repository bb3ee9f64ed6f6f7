"""Cause attribution: transparent rules that weigh evidence into a calibrated probability.

Built-in rules register in `RULES`, the same list a third party extends::

    from netvigil.classify import RULES
    RULES.append(MyRule())        # any object with `cause` and `judge(window)`

or pass its own list to `Detector(config, rules=[...])`.
"""

from netvigil.cause import TOPIC_ORDER, Cause, Evidence, Topic
from netvigil.classify.base import Rule, Verdict
from netvigil.classify.classifier import Classification, classify
from netvigil.classify.rules import (
    ApplicationDDoSRule,
    DDoSMitigationRule,
    DNSFailureRule,
    InCountryFilteringRule,
    RouteWithdrawalRule,
    ServiceFailureRule,
    ShutdownRule,
    TLSFailureRule,
    VantageProblemRule,
    VolumetricDDoSRule,
)
from netvigil.classify.weights import DEFAULT_WEIGHTS

__all__ = [
    "DEFAULT_WEIGHTS",
    "RULES",
    "TOPIC_ORDER",
    "Cause",
    "Classification",
    "Evidence",
    "Rule",
    "Topic",
    "Verdict",
    "classify",
]

RULES: list[Rule] = [
    VantageProblemRule(),
    InCountryFilteringRule(),
    DNSFailureRule(),
    TLSFailureRule(),
    ServiceFailureRule(),
    ApplicationDDoSRule(),
    VolumetricDDoSRule(),
    ShutdownRule(),
    RouteWithdrawalRule(),
    DDoSMitigationRule(),
]
"""The built-in rules, in evidence order; extend it (or pass your own) to add causes' rules."""

"""Built-in attribution rules, one cause per module."""

from netvigil.classify.rules.app_ddos import ApplicationDDoSRule
from netvigil.classify.rules.ddos import VolumetricDDoSRule
from netvigil.classify.rules.dns import DNSFailureRule
from netvigil.classify.rules.filtering import InCountryFilteringRule
from netvigil.classify.rules.mitigation import DDoSMitigationRule
from netvigil.classify.rules.route import RouteWithdrawalRule
from netvigil.classify.rules.service import ServiceFailureRule
from netvigil.classify.rules.shutdown import ShutdownRule
from netvigil.classify.rules.tls import TLSFailureRule
from netvigil.classify.rules.vantage import VantageProblemRule

__all__ = [
    "ApplicationDDoSRule",
    "DDoSMitigationRule",
    "DNSFailureRule",
    "InCountryFilteringRule",
    "RouteWithdrawalRule",
    "ServiceFailureRule",
    "ShutdownRule",
    "TLSFailureRule",
    "VantageProblemRule",
    "VolumetricDDoSRule",
]

"""The weight table: how much each piece of evidence counts, in one place to tune.

A rule adds `weight * strength` for each statement it makes (strength in [0, 1] where a
fact is a matter of degree). A cause's score is the sum over its rule's statements; the
classifier turns scores into probabilities with a softmax at `softmax.temperature`, in
which `unknown` competes with the constant score `unknown.base` and a cause whose rule
said nothing scores `absent`. Calibration on lab runs adjusts these numbers only.
"""

from __future__ import annotations

from types import MappingProxyType

__all__ = ["DEFAULT_WEIGHTS"]

DEFAULT_WEIGHTS: MappingProxyType[str, float] = MappingProxyType(
    {
        # combination
        "softmax.temperature": 1.0,
        "unknown.base": 1.5,
        "absent": 0.0,
        # vantage_problem
        "vantage.controls_down": 3.0,
        "vantage.fails_everything": 2.5,
        "vantage.others_fine": 2.0,
        "vantage.controls_ok": -3.0,
        # in_country_filtering
        "filtering.inside_fails_abroad_ok": 5.0,
        "filtering.abroad_fails_too": -3.0,
        # dns_failure
        "dns.failures": 5.0,
        "dns.network_cut": -3.0,
        # tls_failure
        "tls.failures": 5.0,
        "tls.certificate": 1.0,
        # service_failure
        "service.refused": 4.0,
        "service.http_5xx_fast": 2.5,
        "service.overload_status": -1.5,
        "service.single": 1.5,
        "service.cohosted_up": 1.0,
        "service.many": -2.0,
        "service.unreachable": -2.0,
        "service.reachable_elsewhere": -4.0,
        # application_ddos
        "app_ddos.http_with_tcp": 3.0,
        "app_ddos.ttfb_inflated": 2.0,
        "app_ddos.slow": 1.5,
        "app_ddos.partial": 0.5,
        "app_ddos.overload_status": 2.0,
        "app_ddos.refused": -2.0,
        "app_ddos.unreachable": -2.0,
        # volumetric_ddos
        "ddos.latency_inflation": 2.5,
        "ddos.no_inflation": -1.5,
        "ddos.post_inflation": 2.5,
        "ddos.siblings_slow": 3.0,
        "ddos.jitter": 1.0,
        "ddos.pre_loss": 1.5,
        "ddos.partial_loss": 2.0,
        "ddos.timeouts": 0.5,
        "ddos.complete_steady": -4.5,
        "ddos.explicit_reject": -2.5,
        "ddos.abrupt": -1.5,
        "ddos.connected": -2.5,
        # shutdown
        "shutdown.complete": 2.5,
        "shutdown.silent_or_rejected": 1.5,
        "shutdown.cofate": 1.5,
        "shutdown.org_elsewhere_up": 1.0,
        "shutdown.abrupt": 1.5,
        "shutdown.cut_under_attack": 2.0,
        "shutdown.unreachable": -3.0,
        # A cut network is unreachable from everywhere: a healthy vantage reaching every
        # target outweighs the silence seen from the others (a vantage abroad dying while a
        # block inside the country goes on, before its controls say so).
        "shutdown.reachable_elsewhere": -8.0,
        "shutdown.refused": -3.0,
        "shutdown.single_service": -1.5,
        "shutdown.flapping": -2.5,
        "shutdown.siblings_slow": -4.0,
        "shutdown.application_layer": -3.0,
        # route_withdrawal
        "route.unreachable": 5.0,
        "route.cofate": 1.0,
        "route.abrupt": 0.5,
        "route.reachable_elsewhere": -3.0,
        # the network plane (signals; never weighed without them)
        "route.bgp_withdrawn": 8.0,
        "route.bgp_visible": -4.0,
        "route.after_flood": -4.0,
        "shutdown.routes_up_data_dark": 5.0,
        "shutdown.bgp_withdrawn": -3.0,
        "shutdown.blackholed": -3.0,
        "ddos.mitigated": -3.0,
        "mitigation.rtbh": 8.0,
        "mitigation.diversion": 4.0,
        "mitigation.diversion_latency": 2.5,
        "mitigation.defensive_withdrawal": 6.0,
        "mitigation.flood_before": 2.0,
    }
)

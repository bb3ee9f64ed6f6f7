"""Rules that weigh who saw a failure: DNS failures seen from some of the failing
vantages only, and filtering while a vantage abroad has no say."""

from __future__ import annotations

from collections import Counter

from netvigil.cause import Cause
from netvigil.classify import DEFAULT_WEIGHTS, RULES, classify
from netvigil.evidence import EvidenceWindow, Features, VantageFacts


def _vantage(
    name: str, *, in_country: bool, down: int = 0, ok: int = 0, total: int = 1
) -> VantageFacts:
    return VantageFacts(
        name=name,
        country="AL" if in_country else "DE",
        in_country=in_country,
        failing=down > 0,
        impaired=False,
        controls_down=0,
        controls_total=1,
        paths_down=down,
        paths_total=total,
        members_down=down,
        members_total=total,
        members_ok=ok,
    )


def _window(
    features: Features,
    vantages: list[VantageFacts],
    outcomes: dict[str, int],
    class_vantages: dict[str, set[str]],
) -> EvidenceWindow:
    return EvidenceWindow(
        now=100.0,
        onset=90.0,
        features=features,
        services=["e-albania"],
        targets=["e-albania-https"],
        networks=["gov"],
        organizations=["government"],
        vantages=vantages,
        outcomes=Counter(outcomes),
        class_vantages=class_vantages,
        service_onsets={"e-albania": 90.0},
        cohosted_up=[],
        cohosted_total=0,
        org_peers=[],
        weights=DEFAULT_WEIGHTS,
    )


def test_names_failing_from_one_vantage_while_all_see_the_certificate_fail_are_tls() -> None:
    # A vantage coming back from trouble still times out resolving; every vantage sees
    # the expired certificate. Six DNS timeouts against five certificate failures.
    features = Features(frac_dns=0.55, frac_tls=0.45, connected_frac=0.45, loss_post=1.0)
    vantages = [
        _vantage("tirana", in_country=True, down=1),
        _vantage("amsterdam", in_country=False, down=1),
        _vantage("frankfurt", in_country=False, down=1),
    ]
    window = _window(
        features,
        vantages,
        {"dns_timeout": 6, "tls_cert_expired": 5},
        {"dns": {"frankfurt"}, "tls": {"tirana", "amsterdam", "frankfurt"}},
    )
    assert classify(window, RULES).cause is Cause.TLS_FAILURE
    # The same names failing from every failing vantage are the zone's failure.
    everywhere = {"dns": {"tirana", "amsterdam", "frankfurt"}, "tls": {"amsterdam"}}
    window = _window(features, vantages, {"dns_timeout": 6, "tls_cert_expired": 5}, everywhere)
    assert classify(window, RULES).cause is Cause.DNS_FAILURE


def test_filtering_is_named_while_a_vantage_abroad_has_no_say() -> None:
    # Refused from the in-country vantage; one vantage abroad answers, the other (going
    # quiet) has paths neither in good health nor down.
    features = Features(frac_refused=1.0, loss_post=1.0, in_country_fail_frac=1.0)
    vantages = [
        _vantage("tirana", in_country=True, down=1),
        _vantage("amsterdam", in_country=False, ok=1),
        _vantage("frankfurt", in_country=False),
    ]
    window = _window(features, vantages, {"tcp_refused": 4}, {"refused": {"tirana"}})
    result = classify(window, RULES)
    assert result.cause is Cause.IN_COUNTRY_FILTERING, result.probabilities
    # The vantage abroad failing too still speaks against filtering.
    failing = [*vantages[:2], _vantage("frankfurt", in_country=False, down=1)]
    window = _window(features, failing, {"tcp_refused": 4}, {"refused": {"tirana", "frankfurt"}})
    assert classify(window, RULES).cause is not Cause.IN_COUNTRY_FILTERING

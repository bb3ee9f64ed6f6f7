"""Detectors' split of incident groups: disjoint, complete, and co-fated services together."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from netvigil.cluster import incident_groups, owned_incident_keys
from netvigil.config import Config, parse_config

CONFIG = """
[[networks]]
name = "as-one"
[[networks]]
name = "as-two"
[[organizations]]
name = "acme"

[[services]]
name = "portal"
network = "as-one"
[[services]]
name = "mail"
network = "as-one"
[[services]]
name = "shop"
network = "as-two"
organization = "acme"
[[services]]
name = "wiki"
organization = "acme"
[[services]]
name = "alone"

[[targets]]
name = "portal-https"
kind = "tcp"
host = "127.0.0.1"
port = 443
service = "portal"
[[targets]]
name = "mail-smtp"
kind = "tcp"
host = "127.0.0.1"
port = 25
service = "mail"
[[targets]]
name = "shop-https"
kind = "tcp"
host = "127.0.0.1"
port = 443
service = "shop"
[[targets]]
name = "wiki-https"
kind = "tcp"
host = "127.0.0.1"
port = 443
service = "wiki"
[[targets]]
name = "alone-https"
kind = "tcp"
host = "127.0.0.1"
port = 443
service = "alone"
[[targets]]
name = "gateway"
kind = "tcp"
host = "127.0.0.1"
port = 53
control = true
"""


def config() -> Config:
    return parse_config(CONFIG)


def test_services_that_can_fall_together_form_one_group() -> None:
    groups = {g.key: (g.services, g.networks, g.targets) for g in incident_groups(config())}
    assert groups == {
        "network:as-one": ({"portal", "mail"}, {"as-one"}, {"portal-https", "mail-smtp"}),
        "network:as-two": ({"shop", "wiki"}, {"as-two"}, {"shop-https", "wiki-https"}),
        "service:alone": ({"alone"}, set(), {"alone-https"}),
    }


@given(st.sets(st.sampled_from(["d1", "d2", "d3", "d4", "d5"]), min_size=1))
def test_detectors_own_disjoint_groups_that_cover_everything(members: set[str]) -> None:
    cfg = config()
    owned = [owned_incident_keys(cfg, members, me) for me in sorted(members)]
    all_groups = [key for o in owned for key in o.groups]
    assert sorted(all_groups) == sorted(g.key for g in incident_groups(cfg))
    services = [s for o in owned for s in o.services]
    assert len(services) == len(set(services)) == 5
    targets = [t for o in owned for t in o.targets]
    assert len(targets) == len(set(targets)) == 5
    for o in owned:
        assert o.controls == {"gateway"}
        assert o.owns_target("gateway")
        assert ("portal" in o.services) == ("mail" in o.services)


def test_a_detector_leaving_moves_only_its_groups() -> None:
    cfg = config()
    members = {f"d{i}" for i in range(4)}
    before = {me: owned_incident_keys(cfg, members, me).groups for me in members}
    gone = max(members, key=lambda m: len(before[m]))
    survivors = members - {gone}
    after = {me: owned_incident_keys(cfg, survivors, me).groups for me in survivors}
    for me in survivors:
        assert before[me] <= after[me]
    assert set().union(*after.values()) == set().union(*before.values())

"""What the generated netvigil config says about BGP: the collector's feed, the networks' ASNs."""

from __future__ import annotations

import tomllib

import pytest

from netvigil.config import parse_config
from netvigil.lab import config as lab_config
from netvigil.lab.config import collector_url, netvigil_config_text
from netvigil.lab.topology import load_topology


def test_the_feed_and_the_asns_are_written_when_the_config_model_takes_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    topo = load_topology()
    url = collector_url(topo)
    assert url == "ws://203.0.113.7:8765/v1/ws/"
    monkeypatch.setattr(lab_config, "_knows_bgp", lambda: (True, True))
    doc = tomllib.loads(netvigil_config_text(topo, vantage="tirana", ca_file="", bgp_url=url))
    assert doc["bgp"] == [
        {"kind": "ris_live", "name": "lab-collector", "url": url, "resample_s": 1.0}
    ]
    asns = {n["name"]: n["asn"] for n in doc["networks"]}
    assert asns == {"transit": 64496, "isp": 64497, "gov": 64498, "tax": 64499}


def test_a_config_model_without_bgp_feeds_gets_a_config_it_accepts() -> None:
    topo = load_topology()
    feeds, asns = lab_config._knows_bgp()
    text = netvigil_config_text(topo, vantage="tirana", ca_file="", bgp_url=collector_url(topo))
    assert ("[[bgp]]" in text) == feeds and ("asn = " in text) == asns
    parse_config(text)


def test_asns_default_to_free_documentation_numbers_and_are_checked() -> None:
    topo = load_topology()
    assert topo.asns()["collector"] == 64500
    with pytest.raises(ValueError, match="not a documentation ASN"):
        topo.model_validate({**topo.model_dump(mode="json"), "networks": [
            {**n.model_dump(mode="json"), "asn": 3320 if n.name == "gov" else None}
            for n in topo.networks
        ]})  # fmt: skip

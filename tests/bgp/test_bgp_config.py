"""`[[bgp]]` sections: defaults, kinds and what is refused."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from netvigil.config.model import BgpFeedConfig, Config


def test_defaults_and_no_bgp_by_default() -> None:
    assert Config().bgp == []
    ris = BgpFeedConfig(kind="ris_live")
    assert (ris.url, ris.client, ris.collectors, ris.label) == (
        "wss://ris-live.ripe.net/v1/ws/", "netvigil", [], "ris_live",
    )  # fmt: skip
    mrt = BgpFeedConfig(kind="mrt", path="dumps/*.gz", name="archive")
    assert (mrt.path, mrt.label, mrt.poll_s) == ("dumps/*.gz", "archive", 60.0)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "mrt"}, "needs a path"),
        ({"kind": "ris_live", "path": "x"}, "path is for"),
        ({"kind": "ris_live", "url": "https://ris-live.ripe.net/v1/ws/"}, "ws:// or wss://"),
        ({"kind": "bmp"}, "Input should be 'ris_live' or 'mrt'"),
        ({"kind": "ris_live", "collectors": ["rrc 00"]}, "String should match pattern"),
        ({"kind": "ris_live", "window_s": 0}, "greater than 0"),
    ],
)
def test_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        BgpFeedConfig.model_validate(fields)


def test_the_lab_feed_warms_the_signal_detector_up_before_a_scenario_s_first_fault() -> None:
    from netvigil.config import parse_config
    from netvigil.detect.signals import SignalDropSettings
    from netvigil.lab.config import collector_url, netvigil_config_text
    from netvigil.lab.fuzz import FuzzSettings
    from netvigil.lab.topology import load_topology

    topo = load_topology()
    config = parse_config(
        netvigil_config_text(topo, vantage="tirana", ca_file="", bgp_url=collector_url(topo))
    )
    [feed] = config.bgp
    warm_s = SignalDropSettings().warmup * feed.resample_s
    assert warm_s <= FuzzSettings().first_at_s / 1.5  # with room for the feed to connect
    assert BgpFeedConfig(kind="ris_live").resample_s == 60.0  # the product's default stays

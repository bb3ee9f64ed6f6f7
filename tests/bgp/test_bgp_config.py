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

"""BGP in the field: RIS Live, MRT files, and the visibility of the watched networks.

- `model`: `BgpElement` and `PeerState`, one shape for every source.
- `ris_messages`, `ris_live`: the RIS Live protocol and a reconnecting websocket client.
- `mrt_frames`, `mrt`: MRT files, walked and imported (bgpkit's parser).
- `visibility`: `PrefixVisibility`, which turns elements into signal samples and events;
  `views`: what it answers of a network and its prefixes.
- `feed_state`, `feed`: the `[[bgp]]` feeds run as one source (`BgpFeed`).
- `memory`: `RecentSignals`, a sink keeping the latest of each for the API.
"""

from __future__ import annotations

from netvigil.bgp.feed import BgpFeed
from netvigil.bgp.feed_state import FeedState, FeedStatus
from netvigil.bgp.memory import RecentSignals
from netvigil.bgp.model import BLACKHOLE_COMMUNITY, BgpElement, BgpItem, PeerState
from netvigil.bgp.mrt import MrtReport, import_mrt
from netvigil.bgp.ris_live import DEFAULT_RIS_LIVE_URL, Backoff, RisLiveClient
from netvigil.bgp.visibility import NetworkVisibility, PrefixView, PrefixVisibility

__all__ = [
    "BLACKHOLE_COMMUNITY",
    "DEFAULT_RIS_LIVE_URL",
    "Backoff",
    "BgpElement",
    "BgpFeed",
    "BgpItem",
    "FeedState",
    "FeedStatus",
    "MrtReport",
    "NetworkVisibility",
    "PeerState",
    "PrefixView",
    "PrefixVisibility",
    "RecentSignals",
    "RisLiveClient",
    "import_mrt",
]

"""BGP: what the route collectors see of one network (`GET /api/v1/networks/{name}/bgp`).

The route reads the running `BgpFeed` (visibility, per-prefix views, feed states) and
the sink that keeps its latest sample and recent events (`RecentSignals`). It is
mounted only when the config has `[[bgp]]` feeds.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, HTTPException

from netvigil.bgp.feed import BgpFeed
from netvigil.bgp.memory import RecentSignals
from netvigil.web.api.models import ERROR_RESPONSES

__all__ = ["bgp_router"]

EVENTS_SHOWN = 50
"""Recent events one answer lists, newest first."""


def bgp_router(feed: BgpFeed, recent: RecentSignals) -> APIRouter:
    """The route of this module, reading `feed` and `recent`."""
    router = APIRouter(tags=["bgp"], responses=ERROR_RESPONSES)

    @router.get(
        "/networks/{name}/bgp",
        summary="One network's BGP visibility, its prefixes, recent events and the feeds' state",
    )
    async def network_bgp(name: str) -> dict[str, Any]:
        if name not in feed.watched:
            raise HTTPException(
                404, f"no network {name!r} with prefixes or an asn for the BGP feeds to watch"
            )
        seen = feed.network_visibility(name)
        sample = recent.latest(name, "bgp_visibility")
        return {
            "network": name,
            "visibility": seen.value if seen is not None else None,
            "peers_seeing": seen.peers_seeing if seen is not None else 0,
            "peers_total": seen.peers_total if seen is not None else 0,
            "t": seen.t if seen is not None and seen.t else None,
            "prefixes": [p.to_json() for p in seen.prefixes] if seen is not None else [],
            "latest_sample": asdict(sample) if sample is not None else None,
            "events": [asdict(e) for e in recent.events(name)[:EVENTS_SHOWN]],
            "feeds": [s.to_json() for s in feed.statuses()],
        }

    return router

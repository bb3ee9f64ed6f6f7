"""The BGP feeds on `/metrics`: each feed's state and each network's visibility.

    metrics.track_exposition(lambda: bgp_exposition(feed))

Series (Prometheus text format):

    netvigil_bgp_feed_up{feed, kind}                    1 connected, 0 down
    netvigil_bgp_feed_state_since_seconds{feed, kind}   when it connected or went down
    netvigil_bgp_feed_last_message_seconds{feed, kind}  when it last delivered anything
    netvigil_bgp_feed_reconnects_total{feed, kind}      connections after the first
    netvigil_bgp_visibility{network}                    the network's visibility, in [0, 1]

A time not known yet (never connected, never heard from) and a visibility not known yet
are left out rather than written as 0.
"""

from __future__ import annotations

from netvigil.bgp.feed import BgpFeed

__all__ = ["bgp_exposition"]

_HELP = {
    "netvigil_bgp_feed_up": ("gauge", "Whether the BGP feed is connected (1) or down (0)."),
    "netvigil_bgp_feed_state_since_seconds": (
        "gauge",
        "When the BGP feed connected, or went down (Unix time).",
    ),
    "netvigil_bgp_feed_last_message_seconds": (
        "gauge",
        "When the BGP feed last delivered a message (Unix time).",
    ),
    "netvigil_bgp_feed_reconnects_total": (
        "counter",
        "Connections of the BGP feed after its first.",
    ),
    "netvigil_bgp_visibility": (
        "gauge",
        "Share of collector peers routing the network's prefixes (0 to 1).",
    ),
}


def bgp_exposition(feed: BgpFeed) -> bytes:
    """The series of `feed` now."""
    rows: dict[str, list[str]] = {name: [] for name in _HELP}
    for status in feed.statuses():
        labels = f'feed="{status.name}",kind="{status.kind}"'
        rows["netvigil_bgp_feed_up"].append(f"{{{labels}}} {int(status.connected)}")
        if status.since is not None:
            rows["netvigil_bgp_feed_state_since_seconds"].append(f"{{{labels}}} {status.since}")
        if status.last_message_at is not None:
            rows["netvigil_bgp_feed_last_message_seconds"].append(
                f"{{{labels}}} {status.last_message_at}"
            )
        rows["netvigil_bgp_feed_reconnects_total"].append(f"{{{labels}}} {status.reconnects}")
    for network in feed.watched:
        seen = feed.network_visibility(network, with_prefixes=False)
        if seen is not None and seen.value is not None:
            rows["netvigil_bgp_visibility"].append(f'{{network="{network}"}} {seen.value}')
    out: list[str] = []
    for name, (kind, text) in _HELP.items():
        out.append(f"# HELP {name} {text}\n# TYPE {name} {kind}\n")
        out.extend(f"{name}{row}\n" for row in rows[name])
    return "".join(out).encode()

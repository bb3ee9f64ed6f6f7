"""The network plane on a public incident page: per network of the incident with stored
signals, the sentence naming the plane that moved and a small table of the series.

    planes = await network_planes(store, incident, config, speech, labels, now=now)
    # [{"network": "Example ISP", "statement": "control plane: 192.0.2.0/24 withdrawn by
    #   5 of 5 peers at 21:03:12 UTC", "rows": [{"time": ..., "visibility": "100%", ...}]}]

The series is read from the signals the store keeps (`netvigil.network_plane`)
from `BEFORE_S` before the onset to `AFTER_S` after the end (or now), in about `ROWS`
rows. A network without stored signals gets no entry, so a page without a BGP feed or
block targets reads as it always did.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from netvigil.config.model import Config
from netvigil.incident import Incident
from netvigil.network_plane import (
    NetworkSeries,
    PlaneStatement,
    blocks_watched,
    plane_statement,
    read_network_record,
)
from netvigil.store.signals import SignalStore
from netvigil.web.i18n import Speech

__all__ = ["AFTER_S", "BEFORE_S", "ROWS", "PlaneCache", "network_planes", "plane_words"]

BEFORE_S = 1800.0
"""How long before the onset the table starts."""
AFTER_S = 900.0
"""How long after the end (or now, while open) the table runs."""
ROWS = 12
"""About how many rows the table has."""


def _clock(ts: float) -> str:
    return datetime.fromtimestamp(ts, tz=UTC).strftime("%H:%M:%S UTC")


def _share(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def _blocks(s: PlaneStatement, said: Speech) -> str:
    if s.blocks:
        return said.gettext("%(up)d of %(total)d blocks answer") % {
            "up": s.blocks_up,
            "total": s.blocks,
        }
    return said.gettext("%(share)s of blocks answer") % {"share": _share(s.blocks_share)}


def plane_words(s: PlaneStatement, said: Speech) -> str:
    """The statement in the page's language: "control plane: 192.0.2.0/24 withdrawn by
    5 of 5 peers at 21:03:12 UTC", "data plane: 0 of 4 blocks answer, routes still
    visible", ..."""
    at = _clock(s.t) if s.t is not None else ""
    parts: list[str] = []
    named = {"prefix": s.prefix, "peers": s.peers, "total": s.peers_total, "time": at}
    if s.control == "withdrawn":
        parts.append(
            said.gettext(
                "control plane: %(prefix)s withdrawn by %(peers)d of %(total)d peers at %(time)s"
            )
            % named
        )
    elif s.control == "less_visible":
        parts.append(
            said.gettext(
                "control plane: visibility fell from %(before)s to %(now)s of collector peers"
            )
            % {"before": _share(s.visibility_before), "now": _share(s.visibility_now)}
        )
    elif s.control == "blackholed":
        parts.append(
            said.gettext(
                "control plane: %(prefix)s blackholed (RFC 7999) by %(peers)d of %(total)d peers at %(time)s"  # noqa: E501
            )
            % named
        )
    if s.data:
        blocks = _blocks(s, said)
        if s.control is None and s.routes_visible:
            parts.append(
                said.gettext("data plane: %(blocks)s, routes still visible") % {"blocks": blocks}
            )
        else:
            parts.append(said.gettext("data plane: %(blocks)s") % {"blocks": blocks})
    if not parts:
        steady = [said.gettext("routes still visible")] if s.routes_known else []
        steady += [_blocks(s, said)] if s.blocks_known else []
        parts.append(said.gettext("neither plane moved: %(what)s") % {"what": ", ".join(steady)})
    return "; ".join(parts)


def _rows(series: NetworkSeries, said: Speech) -> list[dict[str, str]]:
    return [
        {
            "time": said.stamp(t),
            "visibility": _share(series.visibility[i]),
            "blocks_up": _share(series.blocks_up[i]),
            "withdrawals": str(series.withdrawals[i]),
        }
        for i, t in enumerate(series.times)
    ]


async def network_planes(
    store: SignalStore | None,
    incident: Incident,
    config: Config,
    said: Speech,
    labels: Mapping[str, str],
    *,
    now: float,
) -> list[dict[str, Any]]:
    """Per network of `incident` with stored signals: its public name, the statement
    and the table rows (none without a store keeping signals). Raises StoreError."""
    if store is None:
        return []
    since = incident.start - BEFORE_S
    until = max(since + 60.0, min(now, (incident.end or now) + AFTER_S))
    step = max(60.0, math.ceil((until - since) / ROWS / 60.0) * 60.0)
    out: list[dict[str, Any]] = []
    for network in incident.networks:
        record = await read_network_record(store, network, since, until)
        facts = record.facts(onset=incident.start, end=incident.end)
        statement = (
            plane_statement(facts, blocks=blocks_watched(config.targets, network))
            if facts is not None
            else None
        )
        if statement is None:
            continue
        out.append(
            {
                "network": labels.get(network, network),
                "statement": plane_words(statement, said),
                "rows": _rows(record.series(step), said),
            }
        )
    return out


class PlaneCache:
    """The network planes of incident pages, kept `ttl_s` per (incident, its last change,
    language), so a busy page reads the store at most that often; at most `size` kept."""

    def __init__(self, *, ttl_s: float = 30.0, size: int = 64) -> None:
        self.ttl_s = ttl_s
        self.size = size
        self._kept: dict[tuple[str, float, str], tuple[float, list[dict[str, Any]]]] = {}

    def get(self, incident: Incident, lang: str, now: float) -> list[dict[str, Any]] | None:
        """The planes kept for `incident` in `lang`, unless older than `ttl_s`."""
        kept = self._kept.get((incident.id, incident.updated, lang))
        if kept is None or now - kept[0] > self.ttl_s:
            return None
        return kept[1]

    def put(self, incident: Incident, lang: str, now: float, planes: list[dict[str, Any]]) -> None:
        """Keep `planes` (the oldest kept goes when `size` are)."""
        if len(self._kept) >= self.size:
            self._kept.pop(next(iter(self._kept)))
        self._kept[(incident.id, incident.updated, lang)] = (now, planes)

"""A lab run replayed with its network plane (no lab): the recorded collector feed and the
block rounds reach attribution through the objects `netvigil run` builds.

The measurements are made up (the small topology's targets, probed from both vantages:
healthy, then the government network silent); the feed is what the lab's collector
sends: the table on subscription, then a withdrawal or a blackhole. The same
measurements read as a shutdown without the feed.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from netvigil.lab.config import detector_config
from netvigil.lab.feedreplay import FeedLine, load_feed
from netvigil.lab.reported import Reported, detect
from netvigil.lab.scenario import feed_line_json
from netvigil.lab.topology import load_topology
from netvigil.model import Measurement, new_measurement_id
from netvigil.outcome import Outcome, Phase

SMALL = Path(__file__).parent / "small.toml"
T0 = 1_800_000_000.0
ONSET = T0 + 120.0
END = T0 + 240.0
INTERVAL = 5.0
GOV4, GOV6 = "192.0.2.0/26", "2001:db8:1::/64"
SILENT = {"http": Outcome.HTTP_TIMEOUT, "tcp": Outcome.TCP_TIMEOUT, "icmp": Outcome.ICMP_TIMEOUT,
          "tls": Outcome.TLS_TIMEOUT, "dns": Outcome.DNS_TIMEOUT}  # fmt: skip


def _measurements(down: set[str]) -> list[Measurement]:
    """Every target from both vantages each interval; those of `down` silent from ONSET
    (a block round then finds its block down)."""
    config = detector_config(load_topology(SMALL), interval_s=INTERVAL)
    out: list[Measurement] = []
    t = T0
    while t < END:
        for target in config.targets:
            for vantage in ("home", "abroad"):
                ts = t + 0.01 * len(out) % 1.0
                failing = target.service in down and ts >= ONSET
                out.append(_measurement(ts, vantage, target.name, target.kind, failing))
        t += INTERVAL
    return out


def _measurement(ts: float, vantage: str, target: str, kind: str, failing: bool) -> Measurement:
    detail: dict[str, Any] = {}
    if kind == "block":
        detail = {"blocks_up": 0 if failing else 1, "blocks_watched": 1, "probes": 3}
    outcome = SILENT.get(kind, Outcome.ICMP_TIMEOUT) if failing else Outcome.OK
    timings = {"total": 2.0 if failing else 0.002}
    return Measurement(
        id=new_measurement_id(ts), ts=ts, vantage=vantage, target=target, kind=kind,
        ok=not failing, outcome=outcome, phase=Phase.CONNECT if failing else None,
        timings=timings, detail=detail,
    )  # fmt: skip


def _update(t: float, peer: str, **fields: Any) -> FeedLine:
    data = {"timestamp": t, "peer": peer, "peer_asn": "64496", "id": f"{peer}-{t}",
            "host": "collector", "type": "UPDATE", "path": [], "community": []}  # fmt: skip
    data.update(fields)
    return FeedLine(received=t + 0.1, message={"type": "ris_message", "data": data})


PEER = "203.0.113.1"
"""The transit router: the collector's one peer (both families, as the lab's feed names it)."""


def _table(t: float) -> list[FeedLine]:
    """What a subscription gets at once: the government prefixes of both families."""
    return [FeedLine(received=t, state="connected")] + [
        _update(t, PEER, path=[64496, 64498], announcements=[{"next_hop": PEER, "prefixes": [p]}])
        for p in (GOV4, GOV6)
    ]


def _run(measurements: list[Measurement], feed: list[FeedLine] | None) -> list[Reported]:
    config = detector_config(load_topology(SMALL), interval_s=INTERVAL)
    reported = detect(measurements, config, started=T0, feed=feed)
    return [r for r in reported if r.confirmed_at is not None]


GOV = {"portal", "ns"}


def test_a_recorded_withdrawal_names_the_cause_the_probes_alone_cannot() -> None:
    measurements = _measurements(GOV)
    withdrawn = [
        _update(ONSET + 0.5, PEER, withdrawals=[GOV4]),
        _update(ONSET + 0.5, PEER, withdrawals=[GOV6]),
    ]
    [alone] = _run(measurements, None)
    [plane] = _run(measurements, _table(T0 - 2.0) + withdrawn)
    assert alone.cause == "shutdown", alone
    assert plane.cause == "route_withdrawal", plane
    assert plane.services == ["ns", "portal"], plane
    assert any("192.0.2.0/26 withdrawn by 1 of 1 collector peers" in e for e in plane.evidence)


def test_block_rounds_and_routes_still_there_read_as_a_data_plane_cut() -> None:
    measurements = _measurements(GOV | {"gov-network"})
    [plane] = _run(measurements, _table(T0 - 2.0))
    assert plane.cause == "shutdown", plane
    assert any(
        "routes still visible from 1 of 1 peers, 0 of 1 blocks answer" in e for e in plane.evidence
    ), plane.evidence


def test_a_blackholed_address_is_told_by_its_community() -> None:
    measurements = _measurements({"portal"})
    tagged = _update(ONSET + 0.5, PEER, path=[64496, 64498], community=[[65535, 666]],
                     announcements=[{"next_hop": "x", "prefixes": ["192.0.2.2/32"]}])  # fmt: skip
    [alone] = _run(measurements, None)
    [plane] = _run(measurements, [*_table(T0 - 2.0), tagged])
    assert alone.cause != "ddos_mitigation"
    assert plane.cause == "ddos_mitigation", plane
    assert any("blackhole community" in e and "192.0.2.2/32" in e for e in plane.evidence)


def test_feed_after_the_judgement_is_not_seen_by_it() -> None:
    # A withdrawal received a minute after the failure began cannot name its first alert.
    measurements = _measurements(GOV)
    late = _update(ONSET + 60.0, PEER, withdrawals=[GOV4])
    [plane] = _run(measurements, [*_table(T0 - 2.0), late])
    before = [s for s in plane.shown if s.at < ONSET + 60.0 - T0]
    assert before and all(s.cause != "route_withdrawal" for s in before), plane.shown
    assert plane.cause == "route_withdrawal", plane  # once it has come


def test_recorded_lines_read_back_as_written(tmp_path: Path) -> None:
    lines = [*_table(T0), FeedLine(received=T0 + 5, state="down", error="closed")]
    path = tmp_path / "x.feed.jsonl"
    written = [lines[-1], *lines[:-1]]  # a line out of order is put back in place
    path.write_text("".join(json.dumps(feed_line_json(x)) + "\n" for x in written))
    assert load_feed(path) == lines

"""PrefixVisibility on crafted element sequences: samples, withdrawals, origins, blackholes."""

from __future__ import annotations

from ipaddress import ip_network

import pytest

from netvigil.bgp.memory import RecentSignals
from netvigil.bgp.model import BgpElement, PeerState
from netvigil.bgp.visibility import PrefixVisibility
from netvigil.config.model import NetworkConfig
from netvigil.signal import SignalEvent, SignalSample

NET = NetworkConfig(name="acme", asn=64500, prefixes=[ip_network("192.0.2.0/23")])
OTHER = NetworkConfig(name="other", prefixes=[ip_network("2001:db8::/32")])
PATH = (64700, 64600, 64500)


class Sink:
    def __init__(self) -> None:
        self.samples: list[SignalSample] = []
        self.events: list[SignalEvent] = []

    def sample(self, sample: SignalSample) -> None:
        self.samples.append(sample)

    def event(self, event: SignalEvent) -> None:
        self.events.append(event)

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


def announce(
    t: float,
    peer: int,
    prefix: str = "192.0.2.0/24",
    path: tuple[int, ...] = PATH,
    communities: tuple[str, ...] = (),
) -> BgpElement:
    return BgpElement(
        t, "announce", "rrc00", f"198.51.100.{peer}", 64700 + peer, prefix,
        path, (path[-1],), communities,
    )  # fmt: skip


def withdraw(t: float, peer: int, prefix: str = "192.0.2.0/24") -> BgpElement:
    return BgpElement(t, "withdraw", "rrc00", f"198.51.100.{peer}", 64700 + peer, prefix)


@pytest.fixture
def sink() -> Sink:
    return Sink()


@pytest.fixture
def vis(sink: Sink) -> PrefixVisibility:
    return PrefixVisibility([NET, OTHER], sink, source="test", window_s=600.0)


def test_visible_from_every_peer(vis: PrefixVisibility, sink: Sink) -> None:
    for peer in range(4):
        vis.update(announce(100.0, peer))
    vis.flush(101.0)
    # the first change is sampled at once (1 of 1 peers), the rest a second later
    assert [(s.entity, s.signal, s.t, s.value, s.source) for s in sink.samples] == [
        ("acme", "bgp_visibility", 100.0, 1.0, "test"),
        ("acme", "bgp_visibility", 101.0, 1.0, "test"),
    ]
    seen = vis.visibility("acme")
    assert seen is not None
    assert (seen.value, seen.peers_seeing, seen.peers_total) == (1.0, 4, 4)
    [view] = seen.prefixes
    assert (view.prefix, view.peers, view.origins, view.path) == (
        "192.0.2.0/24",
        4,
        {64500: 4},
        PATH,
    )
    [event] = sink.events
    assert (event.kind, event.prefix, event.peers, event.peers_total) == (
        "announcement", "192.0.2.0/24", 4, 4,
    )  # fmt: skip


def test_withdrawal_by_n_of_m_peers_is_one_event(vis: PrefixVisibility, sink: Sink) -> None:
    for peer in range(4):
        vis.update(announce(100.0, peer))
    vis.flush(101.0)
    for peer in range(3):
        vis.update(withdraw(200.0 + peer * 0.1, peer))
    vis.flush(202.0)
    withdrawals = [e for e in sink.events if e.kind == "withdrawal"]
    assert len(withdrawals) == 1
    w = withdrawals[0]
    assert (w.entity, w.prefix, w.peers, w.peers_total, w.t) == (
        "acme",
        "192.0.2.0/24",
        3,
        4,
        200.0,
    )
    assert w.detail == "withdrawn by 3 of 4 peers; 1 still route it"
    assert sink.samples[-1].value == 0.25
    assert sink.samples[-1].t >= 200.0


def test_at_most_one_sample_per_network_per_second(vis: PrefixVisibility, sink: Sink) -> None:
    for i in range(50):  # 50 changes within half a second
        vis.update(announce(100.0 + i * 0.01, i))
    vis.update(announce(100.9, 60))
    vis.flush(103.0)
    times = [s.t for s in sink.samples if s.entity == "acme"]
    assert len(times) == 2  # the first change, then the rest once a second had passed
    assert times[1] - times[0] >= 1.0
    assert sink.samples[-1].value == 1.0


def test_origin_change_and_blackhole(vis: PrefixVisibility, sink: Sink) -> None:
    for peer in range(3):
        vis.update(announce(100.0, peer))
    vis.update(announce(150.0, 0, path=(64700, 64666)))  # a hijack seen by peer 0
    vis.update(announce(150.2, 1, communities=("64500:1", "65535:666")))  # blackholed
    vis.flush(152.0)
    origin = next(e for e in sink.events if e.kind == "origin_change")
    assert (origin.prefix, origin.peers, origin.peers_total) == ("192.0.2.0/24", 1, 3)
    assert origin.detail == "origin AS64666 where AS64500 was expected, seen by 1 of 3 peers"
    blackhole = next(e for e in sink.events if e.kind == "blackhole")
    assert (blackhole.prefix, blackhole.peers) == ("192.0.2.0/24", 1)
    assert "path_change" in sink.kinds()
    # the hijacked route does not count as the network being seen
    assert sink.samples[-1].value == pytest.approx(2 / 3)
    seen = vis.visibility("acme")
    assert seen is not None
    assert seen.prefixes[0].origins == {64500: 2, 64666: 1}
    assert seen.prefixes[0].blackholed == 1


def test_origin_change_without_an_asn_compares_with_the_other_peers(sink: Sink) -> None:
    vis = PrefixVisibility([OTHER], sink)
    for peer in range(2):
        vis.update(announce(10.0, peer, prefix="2001:db8:1::/48", path=(64700, 64510)))
    vis.update(announce(20.0, 2, prefix="2001:db8:1::/48", path=(64700, 64999)))
    vis.flush(30.0)
    [origin] = [e for e in sink.events if e.kind == "origin_change"]
    assert origin.detail == "origin AS64999 where AS64510 was expected, seen by 1 of 3 peers"


def test_more_specifics_count_and_others_are_ignored(vis: PrefixVisibility, sink: Sink) -> None:
    vis.update(announce(1.0, 0, prefix="192.0.3.128/25"))  # inside 192.0.2.0/23
    vis.update(announce(1.0, 1, prefix="192.0.4.0/24", path=(64700, 64999)))  # outside
    vis.update(announce(1.0, 2, prefix="192.0.0.0/16", path=(64700, 64999)))  # less specific
    vis.flush(2.0)
    seen = vis.visibility("acme")
    assert seen is not None
    assert [p.prefix for p in seen.prefixes] == ["192.0.3.128/25"]
    assert (seen.peers_seeing, seen.peers_total) == (1, 3)  # every peer heard counts
    assert sink.samples[-1].value == pytest.approx(1 / 3)


def test_prefixes_announced_by_the_networks_asn_are_claimed(sink: Sink) -> None:
    only_asn = NetworkConfig(name="asn-only", asn=64500)
    vis = PrefixVisibility([only_asn], sink)
    vis.update(announce(1.0, 0, prefix="203.0.113.0/24"))
    vis.update(announce(1.0, 1, prefix="198.18.0.0/15", path=(64700, 64999)))
    vis.update(withdraw(5.0, 0, prefix="203.0.113.0/24"))
    vis.flush(10.0)
    assert [(e.kind, e.prefix) for e in sink.events] == [
        ("announcement", "203.0.113.0/24"),
        ("withdrawal", "203.0.113.0/24"),
    ]
    # sampled at its first announcement (1 of the 1 peer heard), then after the withdrawal
    assert [(s.t, s.value) for s in sink.samples] == [(1.0, 1.0), (5.0, 0.0)]


def test_a_network_with_prefixes_does_not_claim_what_its_as_originates_for_a_while(
    sink: Sink,
) -> None:
    """A scrubbing service's AS takes a customer's prefix in and lets it go: its own
    visibility is that of its configured prefixes throughout."""
    scrub = NetworkConfig(name="scrub", asn=64500, prefixes=[ip_network("198.51.100.0/24")])
    vis = PrefixVisibility([scrub], sink)
    for peer in range(2):
        vis.update(announce(1.0, peer, prefix="198.51.100.0/24"))
        vis.update(announce(2.0, peer, prefix="203.0.113.0/24"))  # a customer's, diverted
    for peer in range(2):
        vis.update(withdraw(5.0, peer, prefix="203.0.113.0/24"))  # the diversion ends
    vis.flush(10.0)
    assert [s.value for s in sink.samples] == [1.0] * len(sink.samples)
    assert all(e.prefix == "198.51.100.0/24" for e in sink.events)


def test_peer_down_withdraws_its_routes_and_leaves_the_total(
    vis: PrefixVisibility, sink: Sink
) -> None:
    for peer in range(2):
        vis.update(announce(1.0, peer))
    vis.update(PeerState(50.0, "rrc00", "198.51.100.1", 64701, "down"))
    vis.flush(52.0)
    w = next(e for e in sink.events if e.kind == "withdrawal")
    assert (w.peers, w.peers_total) == (1, 1)
    assert sink.samples[-1].value == 1.0  # the one peer left still routes it


def test_peers_heard_only_within_the_window(vis: PrefixVisibility, sink: Sink) -> None:
    vis.update(announce(0.0, 0))
    vis.update(PeerState(0.0, "rrc00", "198.51.100.9", 64709, "connected"))
    assert vis.peers_total(1.0) == 2
    assert vis.peers_total(700.0) == 1  # the silent peer left the window; the holder stays


def test_nothing_known_gives_no_sample(vis: PrefixVisibility, sink: Sink) -> None:
    vis.update(announce(1.0, 0, prefix="10.0.0.0/8", path=(64700, 64999)))
    vis.flush(5.0)
    assert sink.samples == []
    seen = vis.visibility("acme")
    assert seen is not None
    assert seen.value is None
    assert vis.visibility("nope") is None


def test_recent_signals_keeps_the_newest(sink: Sink) -> None:
    recent = RecentSignals(max_events=2)
    vis = PrefixVisibility([NET], recent)
    for peer in range(2):
        vis.update(announce(1.0, peer))
    vis.update(withdraw(5.0, 0))
    vis.update(announce(9.0, 0, communities=("65535:666",)))
    vis.flush(20.0)
    assert [e.kind for e in recent.events("acme")] == ["blackhole", "announcement"]
    latest = recent.latest("acme", "bgp_visibility")
    assert latest is not None
    assert (latest.value, latest.t) == (1.0, 9.0)


def test_prefix_index_finds_every_covering_prefix() -> None:
    from netvigil.bgp.prefixes import PrefixIndex

    index = PrefixIndex(
        [
            (ip_network("10.0.0.0/8"), "a"),
            (ip_network("10.1.0.0/16"), "b"),
            (ip_network("10.1.0.0/16"), "c"),
            (ip_network("0.0.0.0/0"), "all4"),
            (ip_network("2001:db8::/32"), "v6"),
        ]
    )
    assert index.covering("10.1.2.0/24") == ["all4", "a", "b", "c"]
    assert index.covering("10.2.0.0/16") == ["all4", "a"]
    assert index.covering("10.0.0.0/7") == ["all4"]  # less specific than 10/8
    assert index.covering("10.1.0.0") == ["all4", "a", "b", "c"]  # a host
    assert index.covering("2001:db8:ffff::/48") == ["v6"]
    assert index.covering("2001:db9::/32") == []
    assert index.covering("not a prefix/24") == []
    assert PrefixIndex([]).covering("10.0.0.0/8") == []


def announce6(t: float, peer: int, prefix: str, path: tuple[int, ...] = PATH) -> BgpElement:
    """An IPv6 route from a collector's IPv6 session with peer `peer`."""
    return BgpElement(
        t, "announce", "rrc00", f"2001:db8:ffff::{peer}", 64700 + peer, prefix, path, (path[-1],)
    )


def test_each_prefix_counts_the_peers_of_its_address_family(sink: Sink) -> None:
    # dual stack: a collector's peers have IPv4 and IPv6 sessions, each carrying its family
    dual = NetworkConfig(
        name="dual", asn=64500, prefixes=[ip_network("192.0.2.0/24"), ip_network("2001:db8::/32")]
    )
    vis = PrefixVisibility([dual], sink, window_s=600.0)
    for peer in range(4):
        vis.update(announce(100.0, peer))
        vis.update(announce6(100.0, peer, "2001:db8::/32"))
    vis.update(announce6(100.0, 9, "2001:db8:5::/48", path=(64709, 64999)))  # v6 only, hijack
    vis.flush(102.0)
    seen = vis.visibility("dual")
    assert seen is not None
    # IPv4: 4 of 4 IPv4 peers; IPv6: 4 of 5 IPv6 peers (one total of 9 read 4/9 and 4/9)
    assert seen.value == pytest.approx((1.0 + 4 / 5) / 2)
    assert (seen.peers_seeing, seen.peers_total) == (8, 9)
    assert (vis.peers_total(102.0, 4), vis.peers_total(102.0, 6), vis.peers_total(102.0)) == (
        4, 5, 9,
    )  # fmt: skip
    for peer in range(2):
        vis.update(withdraw(200.0, peer))
    vis.flush(202.0)
    [w] = [e for e in sink.events if e.kind == "withdrawal"]
    assert (w.prefix, w.peers, w.peers_total) == ("192.0.2.0/24", 2, 4)
    assert sink.samples[-1].value == pytest.approx((2 / 4 + 4 / 5) / 2)
    # a peer that goes down leaves the totals of the families it carried
    vis.update(PeerState(300.0, "rrc00", "2001:db8:ffff::9", 64709, "down"))
    vis.flush(302.0)
    assert sink.samples[-1].value == pytest.approx((2 / 4 + 1.0) / 2)


def test_a_quiet_network_is_resampled_every_resample_s(sink: Sink) -> None:
    vis = PrefixVisibility([NET, OTHER], sink, window_s=86_400.0, resample_s=60.0)
    for peer in range(3):
        vis.update(announce(0.0, peer))
    for second in range(1, 301):  # five quiet minutes, flushed once a second
        vis.flush(float(second))
    times = [s.t for s in sink.samples]
    assert times == [0.0, 1.0, 61.0, 121.0, 181.0, 241.0]
    assert {s.entity for s in sink.samples} == {"acme"}  # "other": nothing known, no sample
    assert all(s.value == 1.0 for s in sink.samples)
    # a jump of an hour is one sample, not sixty
    vis.flush(3900.0)
    assert [s.t for s in sink.samples][-2:] == [241.0, 3900.0]
    # the elements' own times drive it too (an MRT replay): the same routes again, no change
    vis.update(announce(3920.0, 0))
    vis.update(announce(3950.0, 1))
    assert [s.t for s in sink.samples][-1] == 3900.0
    vis.update(announce(3965.0, 2))
    assert [s.t for s in sink.samples][-2:] == [3900.0, 3965.0]
    with pytest.raises(ValueError, match="resample_s"):
        PrefixVisibility([NET], sink, sample_every_s=5.0, resample_s=1.0)


def test_a_reload_changes_the_networks_and_keeps_what_is_known_of_those_still_watched(
    sink: Sink,
) -> None:
    vis = PrefixVisibility([NET], sink, source="test")
    for peer in range(2):
        vis.update(announce(1.0, peer))
    vis.update(withdraw(2.0, 1))  # one of the two peers withdraws: 1 of 2
    vis.flush(3.0)
    assert vis.visibility("acme") is not None
    assert vis.visibility("acme").value == pytest.approx(0.5)  # type: ignore[union-attr]

    added = NetworkConfig(name="added", prefixes=[ip_network("198.51.100.0/24")])
    vis.reconfigure([NET, added])
    assert vis.networks == ["acme", "added"]
    vis.flush(4.0)  # every network known is sampled again: acme as it was
    assert [(s.entity, s.t, s.value) for s in sink.samples[-1:]] == [("acme", 4.0, 0.5)]
    assert vis.visibility("added").value is None  # type: ignore[union-attr]
    vis.update(announce(5.0, 1, prefix="198.51.100.0/25", path=(64700, 64510)))
    vis.flush(6.0)
    assert vis.visibility("added").value == 1 / 2  # type: ignore[union-attr]

    vis.reconfigure([added])  # acme removed: its routes go, the peers holding them too
    assert vis.networks == ["added"]
    assert vis.visibility("acme") is None
    vis.update(announce(7.0, 0, prefix="192.0.2.0/24"))  # no longer anybody's
    vis.flush(8.0)
    assert {s.entity for s in sink.samples if s.t >= 7.0} == {"added"}
    assert vis.visibility("added").prefixes[0].peers == 1  # type: ignore[union-attr]

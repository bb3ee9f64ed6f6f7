"""The live signal sink: samples open, confirm and resolve a "network unreachable"
incident through live detection (stored and alerted), an open service incident takes
the network-plane facts as evidence instead of a second incident, and what it keeps is
bounded."""

from __future__ import annotations

import random
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import pytest

from detect.streams import ONSET, SILENT, Probe, World, gov, healthy
from netvigil.bgp.feed import feed_visibility
from netvigil.bgp.model import BgpElement
from netvigil.bgp.visibility import PrefixVisibility
from netvigil.cause import Cause, Topic
from netvigil.config.model import BgpFeedConfig, Config, NetworkConfig
from netvigil.incident import EventKind, Incident, IncidentEvent, IncidentState
from netvigil.lab.feedreplay import FeedLine, PlaneReplay
from netvigil.pipeline.detection import LiveDetection
from netvigil.pipeline.signals import NetworkSignals, build_signal_sink
from netvigil.signal import SignalEvent, SignalSample
from netvigil.store import IncidentQuery, SQLiteStore

T0 = 1_700_000_000.0
CUT = T0 + 3600.0
BACK = CUT + 1800.0


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Recorder:
    def __init__(self) -> None:
        self.events: list[IncidentEvent] = []

    def submit(self, event: IncidentEvent) -> None:
        self.events.append(event)


def _feed_network(sink: NetworkSignals, entity: str, *, cut: float, back: float) -> None:
    """bgp_visibility and blocks_up every minute; withdrawn by every peer at `cut`, back
    at `back`."""
    rng = random.Random(5)
    t = T0
    while t < back + 900.0:
        down = cut <= t < back
        if t == cut:
            sink.event(
                SignalEvent(entity, "withdrawal", t - 2.0, "192.0.2.0/26", 5, 5, source="test")
            )
        for signal in ("bgp_visibility", "blocks_up"):
            value = 0.0 if down else 1.0 - rng.uniform(0.0, 0.02)
            sink.sample(SignalSample(entity, signal, t, value, source="test"))
        t += 60.0


async def test_samples_open_confirm_and_resolve_a_network_unreachable_incident(
    tmp_path: Path,
) -> None:
    world = World()
    recorder = Recorder()
    async with await SQLiteStore.open(tmp_path / "nv.db") as store:
        live = LiveDetection(world.config(), store, sinks=[recorder], clock=Clock(T0))
        async with live:
            sink = build_signal_sink(world.config(), live, blocks={"gov": 4})
            _feed_network(sink, "gov", cut=CUT, back=BACK)
            assert live.open_incidents() == []
        await store.flush()
        [incident] = await store.incidents(IncidentQuery())
        log = await store.incident_events(incident.id)

    kinds = [e.kind for e in recorder.events]
    assert kinds == [EventKind.OPENED, EventKind.CONFIRMED, EventKind.RESOLVED]
    assert [e.kind for e in log] == kinds
    opened = recorder.events[0]
    assert opened.ts == CUT and opened.incident.state is IncidentState.SUSPECTED
    assert recorder.events[1].ts == CUT + 60.0  # held for confirm_s
    assert incident.state is IncidentState.RESOLVED
    assert incident.networks == ["gov"] and incident.services == []
    assert incident.start == CUT and incident.end == BACK
    assert incident.cause is Cause.ROUTE_WITHDRAWAL
    assert (
        "192.0.2.0/26 withdrawn by 5 of 5 collector peers at 23:13:18 UTC; 0 of 4 blocks "
        "answer: the network is gone from the routing table"
    ) in [e.statement for e in incident.evidence]


def _cut_gov(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
    if gov(target) and ts >= ONSET:
        return SILENT
    return healthy(ts, vantage, target, rng)


async def test_an_open_service_incident_takes_the_facts_as_evidence(tmp_path: Path) -> None:
    world = World()
    stream = world.stream(_cut_gov, end=ONSET + 600.0)
    dark = ONSET + 60.0  # the blocks probe sees it a minute after the services fail
    recorder = Recorder()
    async with await SQLiteStore.open(tmp_path / "nv.db") as store:
        live = LiveDetection(world.config(), store, sinks=[recorder], clock=Clock(stream[0].ts))
        async with live:
            sink = build_signal_sink(world.config(), live, blocks={"gov": 4})
            sink.event(SignalEvent("gov", "announcement", stream[0].ts, "192.0.2.0/26", 5, 5))
            next_sample = stream[0].ts
            for m in stream:
                while next_sample <= m.ts:
                    blocks = 0.0 if next_sample >= dark else 1.0
                    sink.sample(SignalSample("gov", "bgp_visibility", next_sample, 1.0))
                    sink.sample(SignalSample("gov", "blocks_up", next_sample, blocks))
                    next_sample += 10.0
                store.submit(m)
                live.submit(m)
        await store.flush()
        incidents = await store.incidents(IncidentQuery())

    assert len(incidents) == 1, [(i.id, i.networks, i.services) for i in incidents]
    [incident] = incidents
    assert incident.services == ["e-albania", "parliament", "pm-office"]
    assert incident.cause is Cause.SHUTDOWN
    routing = [e.statement for e in incident.evidence if e.topic is Topic.ROUTING]
    assert (
        "routes still visible from 5 of 5 peers, 0 of 4 blocks answer: traffic is dropped, "
        "not unrouted (a data-plane cut)"
    ) in routing
    updates = [e for e in recorder.events if e.kind is EventKind.UPDATED and e.ts == dark]
    assert len(updates) == 1  # told at once, as an update of the same incident


async def test_an_entity_that_is_no_network_alarms_without_an_incident(tmp_path: Path) -> None:
    world = World()
    recorder = Recorder()
    async with await SQLiteStore.open(tmp_path / "nv.db") as store:
        live = LiveDetection(world.config(), store, sinks=[recorder], clock=Clock(T0))
        async with live:
            sink = build_signal_sink(world.config(), live)
            _feed_network(sink, "IQ", cut=CUT, back=BACK)
    assert recorder.events == []
    [alarm] = sink.alarms()
    assert alarm.entity == "IQ" and alarm.start == CUT and alarm.end == BACK
    assert {m.signal for m in alarm.moved} == {"bgp_visibility", "blocks_up"}


def test_a_network_is_known_by_its_as_and_what_is_kept_is_bounded() -> None:
    config = World().config()
    config = config.model_copy(
        update={"networks": [NetworkConfig(name="gov", asn=64500), *config.networks[1:]]}
    )
    sink = build_signal_sink(config, None)
    assert sink.networks["AS64500"] == "gov"
    for i in range(500):
        sink.event(SignalEvent("AS64500", "path_change", T0 + i, "192.0.2.0/24", 3, 5))
    kept = sink.recent_events("gov")
    assert len(kept) == 200 and kept[0].t == T0 + 300
    for i in range(20):
        sink.sample(SignalSample("AS64500", "bgp_visibility", T0 + 60.0 * i, 0.6))
    assert sink.latest("gov") == {"bgp_visibility": (T0 + 60.0 * 19, 0.6)}
    facts = sink.facts(["gov"], onset=T0 + 450.0, now=T0 + 499.0)
    assert facts is not None
    assert facts.visibility_now == 0.6 and facts.peers == 5
    assert [e.t for e in facts.origin_changes] == [T0 + t for t in range(300, 500)]
    assert sink.facts(["media"], onset=T0, now=T0 + 10.0) is None


def test_a_reload_changes_the_networks_an_alarm_opens_an_incident_for() -> None:
    config = World().config()
    sink = build_signal_sink(config, None)
    assert "AS64511" not in sink.networks
    added = NetworkConfig(name="newcomer", asn=64511)
    sink.reconfigure(config.model_copy(update={"networks": [*config.networks[1:], added]}))
    assert sink.networks["newcomer"] == "newcomer" and sink.networks["AS64511"] == "newcomer"
    assert config.networks[0].name not in sink.networks
    assert sink.blocks == {}  # the world's config watches no blocks


async def test_a_network_incident_left_open_resolves_once_the_signals_show_it_up(
    tmp_path: Path,
) -> None:
    world = World()
    leftover = Incident(
        id="inc-gov-unreachable-1",
        state=IncidentState.CONFIRMED,
        start=T0 - 7200.0,
        confirmed_at=T0 - 7100.0,
        cause=Cause.ROUTE_WITHDRAWAL,
        networks=["gov"],
    )
    recorder = Recorder()
    async with await SQLiteStore.open(tmp_path / "nv.db") as store:
        await store.add_incident_event(IncidentEvent(EventKind.OPENED, T0 - 7200.0, leftover))
        await store.save_incident(leftover)
        live = LiveDetection(world.config(), store, sinks=[recorder], clock=Clock(T0))
        async with live:
            assert [i.id for i in live.open_incidents()] == [leftover.id]  # taken over
            sink = build_signal_sink(world.config(), live)
            _feed_network(sink, "gov", cut=T0 + 7200.0, back=T0 + 7200.0)
            assert live.open_incidents() == []
        await store.flush()
        [stored] = await store.incidents(IncidentQuery())

    [resolved] = recorder.events
    assert resolved.kind is EventKind.RESOLVED
    assert resolved.ts == T0 + 11 * 60.0  # the first sample with a warmed-up baseline
    assert stored.state is IncidentState.RESOLVED and stored.end == resolved.ts


GOV_NET = NetworkConfig(name="gov", asn=64500, prefixes=[ip_network("192.0.2.0/24")])
RIS = BgpFeedConfig(kind="ris_live", url="ws://127.0.0.1:9/v1/ws/")


def _quiet_then_withdrawn(visibility: PrefixVisibility, *, quiet_s: int) -> None:
    """Four peers route gov's prefix, nothing is said for `quiet_s` seconds (flushed once a
    second, as `netvigil run` does), then every peer withdraws it."""
    for peer in range(4):
        visibility.update(
            BgpElement(T0, "announce", "rrc00", f"198.51.100.{peer}", 64700 + peer,
                       "192.0.2.0/24", (64700 + peer, 64500), (64500,))
        )  # fmt: skip
    for second in range(1, quiet_s + 1):
        visibility.flush(T0 + second)
    for peer in range(4):
        visibility.update(
            BgpElement(T0 + quiet_s, "withdraw", "rrc00", f"198.51.100.{peer}", 64700 + peer,
                       "192.0.2.0/24")
        )  # fmt: skip
    for second in range(quiet_s + 1, quiet_s + 6):
        visibility.flush(T0 + second)


def test_a_withdrawal_after_a_quiet_hour_alarms() -> None:
    config = Config(networks=[GOV_NET], bgp=[RIS])
    plane = build_signal_sink(config, None)
    _quiet_then_withdrawn(feed_visibility(config.bgp, config.networks, plane), quiet_s=3600)
    [alarm] = plane.alarms()
    assert (alarm.entity, alarm.open, alarm.alone) == ("gov", True, True)
    assert alarm.start == T0 + 3601  # the withdrawal's sample, one hold after it
    [moved] = alarm.moved
    assert (moved.signal, moved.value) == ("bgp_visibility", 0.0)
    assert moved.baseline == pytest.approx(1.0)
    # sampled only on a change, the same feed never warms the detector up: no alarm
    unwarmed = build_signal_sink(config, None)
    _quiet_then_withdrawn(PrefixVisibility(config.networks, unwarmed), quiet_s=3600)
    assert unwarmed.alarms() == []
    assert unwarmed.watch.detector("gov").baseline("bgp_visibility") is None


def _ris_update(t: float, peer: int, *, withdrawn: bool) -> FeedLine:
    data: dict[str, Any] = {
        "timestamp": t, "peer": f"198.51.100.{peer}", "peer_asn": str(64700 + peer),
        "id": f"{peer}-{t}", "host": "rrc00", "type": "UPDATE",
    }  # fmt: skip
    if withdrawn:
        data["withdrawals"] = ["192.0.2.0/24"]
    else:
        routes = [{"next_hop": data["peer"], "prefixes": ["192.0.2.0/24"]}]
        data |= {"path": [64700 + peer, 64500], "community": [], "origin": "igp",
                 "announcements": routes}  # fmt: skip
    return FeedLine(received=t + 0.1, message={"type": "ris_message", "data": data})


def test_the_lab_replay_warms_up_on_a_quiet_feed_as_netvigil_run_does() -> None:
    config = Config(networks=[GOV_NET], bgp=[RIS.model_copy(update={"resample_s": 30.0})])
    events: list[IncidentEvent] = []
    replay = PlaneReplay(config, events.append)
    cut = T0 + 600.0  # ten quiet minutes: twenty samples at the configured 30 s
    feed = [_ris_update(T0, peer, withdrawn=False) for peer in range(3)]
    feed += [_ris_update(cut, peer, withdrawn=True) for peer in range(3)]
    feed.append(FeedLine(received=cut + 5.0, state="connected"))  # the clock runs on past it
    replay.play([], feed)
    assert replay.plane.watch.detector("gov").baseline("bgp_visibility") == pytest.approx(1.0)
    [alarm] = replay.plane.alarms()
    assert alarm.entity == "gov" and alarm.start >= cut
    [opened] = [e for e in events if e.kind is EventKind.OPENED]
    assert opened.incident.networks == ["gov"] and opened.incident.targets == []

"""The live signal sink: network-plane samples and events in, "network unreachable"
incidents out, through the same incident book, store and alert path as live detection.

`NetworkSignals` is a `SignalSink` (`sample`, `event`; neither blocks for long). Each
sample goes to the signal detector of its entity (`netvigil.detect.signals.SignalWatch`:
one detector state per network, AS or country). It keeps the latest value of every
signal and the recent control-plane events of every network (bounded), and it is the
evidence builder's network-plane source, so attribution quotes them
(`NetworkPlaneFacts`: visibility now and before, withdrawals, blackholes, origin changes,
blocks answering).

When the detector raises a "network down" alarm for a configured network (named as in
the config, or as its AS, "AS64500"):

- if an incident on that network is already open (its services failing), that incident
  is classified again at once with the network-plane facts as evidence: no second
  incident;
- otherwise a new incident is opened in the live detector's book for the network (no
  services yet; services on the network that fail later join it), classified from the
  network-plane facts, confirmed once the alarm has held for `confirm_s`, and resolved
  when the alarm closes (withdrawn, like any unconfirmed incident, if it never was
  confirmed). Its events are stored and alerted as live detection's own
  (`LiveDetection.publish`).

Alarms of entities that are no configured network (a country) are kept (`alarms()`)
but open no incident. A network's own incident that an earlier run left open (taken over
from the store) is resolved once the network's signals have warmed up and show it up.
Time is the samples' own; `tick(now)` confirms on wall time when samples are sparse.

    sink = build_signal_sink(config, detection)
    feed = SomeBGPFeed(..., sink=sink)      # anything that calls sink.sample / sink.event
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from netvigil.config.model import Config
from netvigil.detect.book import Tracked
from netvigil.detect.signals import AlarmChange, NetworkDownAlarm, SignalDropSettings, SignalWatch
from netvigil.evidence import NetworkPlaneFacts
from netvigil.incident import EventKind, Incident, IncidentEvent, IncidentState
from netvigil.pipeline.block_signals import BlocksHeard, block_freshness, watched_blocks
from netvigil.pipeline.detection import LiveDetection
from netvigil.signal import SignalEvent, SignalSample

__all__ = ["NetworkSignals", "build_signal_sink", "network_entities"]

log = logging.getLogger("netvigil.signals")

VISIBILITY = "bgp_visibility"
BLOCKS_UP = "blocks_up"


@dataclass(slots=True)
class _Watched:
    """The alarm of one network and the incident it is told through."""

    alarm: NetworkDownAlarm
    incident_id: str
    own: bool
    """Whether the incident was opened for the alarm (else it was already open)."""


class NetworkSignals:
    """The live signal sink; see the module docstring.

    `networks` maps entity names to configured network names (a network by its own name
    and "AS<asn>"); `blocks` gives per network how many address blocks are watched (for
    "0 of 4 blocks answer") and `block_fresh_s` how long a vantage's latest block round
    speaks for it (`BlocksHeard`: the vantages' rounds are one series, the best share
    heard). `events_kept` bounds the events kept per network and
    `events_before_s` how long before an onset an event still counts for it.
    """

    def __init__(
        self,
        detection: LiveDetection | None,
        *,
        networks: Mapping[str, str] | None = None,
        blocks: Mapping[str, int] | None = None,
        block_fresh_s: Mapping[str, float] | None = None,
        settings: SignalDropSettings | None = None,
        confirm_s: float = 60.0,
        events_kept: int = 200,
        events_before_s: float = 900.0,
    ) -> None:
        self.detection = detection
        self.networks = dict(networks or {})
        self.blocks = dict(blocks or {})
        self.heard = BlocksHeard(block_fresh_s)
        """The vantages' block rounds of a network as one `blocks_up` series."""
        self.watch = SignalWatch(settings or SignalDropSettings(clear_s=120.0, stale_s=900.0))
        self.confirm_s = confirm_s
        self.events_before_s = events_before_s
        self._events_kept = events_kept
        self._events: dict[str, deque[SignalEvent]] = {}
        self._peers: dict[str, int] = {}
        self._watched: dict[str, _Watched] = {}
        self._closed: list[NetworkDownAlarm] = []
        self._settled: set[str] = set()
        """Networks whose incidents left open by an earlier run were looked at."""
        self._lock = threading.Lock()
        """Guards the detector and the events (the detection thread reads facts)."""
        if detection is not None:
            detection.detector.evidence.network_plane = self

    def reconfigure(self, config: Config) -> None:
        """Take a reloaded config: its networks (by name and AS) are those an alarm opens
        an incident for from now on, and its block targets give the blocks watched."""
        with self._lock:
            self.networks = network_entities(config)
            self.blocks = watched_blocks(config.targets)
            self.heard.fresh = block_freshness(config.targets)

    # -- SignalSink ----------------------------------------------------------------

    def sample(self, sample: SignalSample) -> None:
        """Feed one sample to its entity's detector; open or resolve what its alarm says."""
        with self._lock:
            if sample.signal == BLOCKS_UP:
                sample = self.heard.combine(sample)
            changes = self.watch.observe(sample)
            det = self.watch.detector(sample.entity)
            up = det.baseline(sample.signal) is not None and det.score < det.settings.alarm
        for change in changes:
            self._on_alarm(change)
        network = self.networks.get(sample.entity)
        if up and network is not None and network not in self._settled:
            self._settle(network, sample.t)
        self.tick(sample.t)

    def event(self, event: SignalEvent) -> None:
        """Keep one control-plane event (the most recent `events_kept` per network)."""
        network = self.networks.get(event.entity, event.entity)
        with self._lock:
            kept = self._events.get(network)
            if kept is None:
                kept = self._events[network] = deque(maxlen=self._events_kept)
            kept.append(event)
            if event.peers_total > 0:
                self._peers[network] = event.peers_total

    # -- reading -------------------------------------------------------------------

    def latest(self, network: str) -> dict[str, tuple[float, float]]:
        """Per signal of `network`: (when, value) of its latest sample."""
        with self._lock:
            return self.watch.detector(self._entity(network)).latest()

    def recent_events(self, network: str) -> list[SignalEvent]:
        """The events kept for `network`, oldest first."""
        with self._lock:
            return list(self._events.get(network, ()))

    def alarms(self) -> list[NetworkDownAlarm]:
        """Open alarms, then the closed ones (oldest first within each)."""
        with self._lock:
            return self.watch.open_alarms() + [a.copy() for a in self._closed]

    def facts(
        self, networks: Sequence[str], *, onset: float, now: float
    ) -> NetworkPlaneFacts | None:
        """The network plane's facts about `networks` (a `NetworkPlaneSource`)."""
        with self._lock:
            return self._facts(networks, onset=onset, now=now)

    def _entity(self, network: str) -> str:
        """The entity name samples of `network` arrive under (the network's own first)."""
        if network in self.watch.entities:
            return network
        for entity, name in self.networks.items():
            if name == network and entity in self.watch.entities:
                return entity
        return network

    def _facts(
        self, networks: Sequence[str], *, onset: float, now: float
    ) -> NetworkPlaneFacts | None:
        vis_now: list[float] = []
        vis_before: list[float] = []
        up_now: list[float] = []
        up_before: list[float] = []
        events: list[SignalEvent] = []
        down = False
        known = False
        for network in networks:
            entity = self._entity(network)
            if entity in self.watch.entities:
                known = True
                det = self.watch.detector(entity)
                latest = det.latest()
                for name, now_list, before_list in (
                    (VISIBILITY, vis_now, vis_before),
                    (BLOCKS_UP, up_now, up_before),
                ):
                    if name in latest:
                        now_list.append(latest[name][1])
                        base = det.baseline(name)
                        if base is not None:
                            before_list.append(base)
                down = down or self.watch.alarm(entity) is not None
            kept = self._events.get(network, ())
            known = known or bool(kept)
            events += [e for e in kept if onset - self.events_before_s <= e.t <= now]
        if not known:
            return None
        events.sort(key=lambda e: e.t)
        return NetworkPlaneFacts(
            networks=tuple(networks),
            visibility_now=min(vis_now) if vis_now else None,
            visibility_before=min(vis_before) if vis_before else None,
            peers=max((self._peers.get(n, 0) for n in networks), default=0),
            blocks_up_now=min(up_now) if up_now else None,
            blocks_up_before=min(up_before) if up_before else None,
            blocks=sum(self.blocks.get(n, 0) for n in networks),
            withdrawals=tuple(e for e in events if e.kind == "withdrawal"),
            blackholes=tuple(e for e in events if e.kind == "blackhole"),
            origin_changes=tuple(e for e in events if e.kind in ("origin_change", "path_change")),
            down=down,
        )

    # -- incidents -----------------------------------------------------------------

    def tick(self, now: float) -> None:
        """Confirm the incidents whose alarm has held for `confirm_s` by `now`."""
        detection = self.detection
        if detection is None:
            return
        due = [
            w
            for w in self._watched.values()
            if w.own and w.alarm.open and now - w.alarm.start >= self.confirm_s
        ]
        if not due:
            return
        events: list[IncidentEvent] = []
        with detection.state.lock:
            for watched in due:
                tracked = detection.detector.book.get(watched.incident_id)
                if tracked is None or tracked.incident.confirmed_at is not None:
                    continue
                inc = tracked.incident
                if not inc.open:
                    continue
                inc.state = IncidentState.CONFIRMED
                inc.confirmed_at = now
                inc.updated = now
                self._classify(tracked, now, events)
                events.append(self._event(EventKind.CONFIRMED, tracked, now))
        detection.publish(events)

    def _settle(self, network: str, now: float) -> None:
        """The network is up by its signals: resolve its own incidents (no targets) that an
        earlier run left open, which no alarm of this run will close."""
        self._settled.add(network)
        detection = self.detection
        if detection is None:
            return
        events: list[IncidentEvent] = []
        with detection.state.lock:
            book = detection.detector.book
            stale = [
                t
                for t in book.open_tracked()
                if t.incident.networks == [network]
                and not t.incident.targets
                and t.incident.vantage is None
                and all(w.incident_id != t.incident.id for w in self._watched.values())
            ]
            for tracked in stale:
                self._resolve(tracked, now, now, events)
        detection.publish(events)

    def _on_alarm(self, change: AlarmChange) -> None:
        alarm = change.alarm
        if change.kind == "closed":
            with self._lock:
                self._closed.append(alarm)
                del self._closed[: max(0, len(self._closed) - self._events_kept)]
        network = self.networks.get(alarm.entity)
        detection = self.detection
        moved = ", ".join(f"{m.signal} -{m.drop * 100:.0f}%" for m in alarm.moved)
        log.warning("network-down alarm %s for %s (%s)", change.kind, alarm.entity, moved)
        if network is None or detection is None:
            return
        events: list[IncidentEvent] = []
        with detection.state.lock:
            if change.kind == "opened":
                self._open(network, alarm, change.t, events)
            else:
                self._close(network, alarm, change.t, events)
        detection.publish(events)

    def _open(
        self, network: str, alarm: NetworkDownAlarm, now: float, events: list[IncidentEvent]
    ) -> None:
        assert self.detection is not None
        book = self.detection.detector.book
        existing = next(
            (
                t
                for t in book.open_tracked()
                if t.incident.vantage is None and network in t.incident.networks
            ),
            None,
        )
        if existing is not None:
            # An incident of the network's services: the facts become its evidence. One
            # without targets is the network's own (from before a restart): adopted.
            own = not existing.incident.targets
            self._watched[network] = _Watched(alarm, existing.incident.id, own=own)
            existing.incident.updated = now
            self._classify(existing, now, events)
            events.append(self._event(EventKind.UPDATED, existing, now))
            return
        inc = Incident(
            id=book.unique_id(f"inc-{network}-unreachable-{int(alarm.start)}"),
            state=IncidentState.SUSPECTED,
            start=alarm.start,
            networks=[network],
            updated=now,
        )
        tracked = book.add(Tracked(inc))
        self._watched[network] = _Watched(alarm, inc.id, own=True)
        self._classify(tracked, now, events)
        events.append(self._event(EventKind.OPENED, tracked, now))

    def _close(
        self, network: str, alarm: NetworkDownAlarm, now: float, events: list[IncidentEvent]
    ) -> None:
        assert self.detection is not None
        watched = self._watched.pop(network, None)
        if watched is None:
            return
        detector = self.detection.detector
        tracked = detector.book.get(watched.incident_id)
        if tracked is None or not tracked.incident.open:
            return
        inc = tracked.incident
        if not watched.own or inc.targets:
            # Its services speak for it: live detection resolves it when they answer.
            inc.updated = now
            self._classify(tracked, now, events)
            events.append(self._event(EventKind.UPDATED, tracked, now))
            return
        self._resolve(tracked, alarm.end if alarm.end is not None else now, now, events)

    def _resolve(
        self, tracked: Tracked, end: float, now: float, events: list[IncidentEvent]
    ) -> None:
        assert self.detection is not None
        detector = self.detection.detector
        inc = tracked.incident
        detector.book.close(inc)
        detector.attribution.forget(inc.id)
        inc.state = IncidentState.RESOLVED
        inc.end = end
        inc.updated = now
        events.append(self._event(EventKind.RESOLVED, tracked, now))
        if inc.confirmed_at is None:
            detector.book.withdraw(inc)  # never confirmed: it leaves no trace

    def _classify(self, tracked: Tracked, now: float, events: list[IncidentEvent]) -> None:
        """Judge the incident's cause again with the facts of both planes."""
        assert self.detection is not None
        detector = self.detection.detector
        inc = tracked.incident
        views = {t: detector.state.judge(t, now) for t in inc.targets}
        window = detector.evidence.window(
            tracked, now=now, views=views, maintenance=detector.labels.note(inc, now)
        )
        tracked.last_classified = now
        if detector.attribution.judge(inc, window, now):
            events.append(self._event(EventKind.CAUSE_CHANGED, tracked, now))

    def _event(self, kind: EventKind, tracked: Tracked, now: float) -> IncidentEvent:
        assert self.detection is not None
        inc = tracked.incident
        inc.maintenance = self.detection.detector.labels.note(inc, now)
        tracked.announced_maintenance = inc.maintenance
        return IncidentEvent(kind, now, inc.copy(), quiet=inc.maintenance is not None)


def network_entities(config: Config) -> dict[str, str]:
    """The entities naming `config`'s networks, each with the network's name: a network
    by its own name and by its AS ("AS64500")."""
    networks: dict[str, str] = {}
    for net in config.networks:
        networks[net.name] = net.name
        if net.asn is not None:
            networks.setdefault(f"AS{net.asn}", net.name)
    return networks


def build_signal_sink(
    config: Config,
    detection: LiveDetection | None,
    *,
    settings: SignalDropSettings | None = None,
    blocks: Mapping[str, int] | None = None,
) -> NetworkSignals:
    """The signal sink `netvigil run` hands to its signal sources: the config's networks
    by name and by AS, incidents through `detection` (None: alarms only)."""
    return NetworkSignals(
        detection,
        networks=network_entities(config),
        blocks=blocks,
        block_fresh_s=block_freshness(config.targets),
        settings=settings,
    )

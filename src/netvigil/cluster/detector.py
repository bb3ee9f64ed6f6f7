"""The detector role: live detection as a process of its own, fed by the measurements stream.

    settings = DetectSettings(member="detector-a")
    await run_detector(config, nc, store, stop, settings)

A detector reads the measurements stream through a durable consumer of its own
(`netvigil-detect-<member>`): it sees the measurements of its share from every vantage,
in stream order, whatever the collectors do with theirs. Each batch is fed to
`LiveDetection` exactly as `netvigil run` feeds its probes' results (the same Detector,
`[detect]` settings and current state); the events it emits are written to the store and
published to the incidents stream (`netvigil.incidents.<id>`, see
`netvigil.bus.incidents`). A batch is acked only once the detector has taken it and the
events it caused are durable in the store, so the durable consumer's position is where a
restarted detector resumes. What a kill loses is the detector's reorder buffer (the last
`[detect] lateness_s` of measurements, already acked): the restarted detector takes its
open incidents over from the store (same ids) and judges them on the measurements that
follow.

Several detectors share one config through the membership role `detector`: each reads
only the measurements of the shards in its `IncidentShare` (plus the control targets,
which every detector needs), so one incident group is judged by one detector, and its
detection covers only those targets (`DetectionScope`: the Detector and the current
state are given that part of the config, and follow the share as it changes). Its
consumer filters on the subjects of those shards (`OwnedIncidents.subject_filters`), so
the server delivers it only its share. When the share changes, between two batches, the
detector takes the new share over as `netvigil.cluster.handover` describes: the
shards it gains are read again from where their previous owner left off (each detector
puts a checkpoint of its position, at most every `checkpoint_every_s`), and the open
incidents of the groups it gains are continued. After a batch smaller than `batch_size`
it lingers (`linger_s`) before fetching again, so a trickle is read in batches.
Incidents that are about a vantage rather than a service (`Incident.vantage`) can be
seen by every detector; each is kept by one only, the owner of the key
`vantage:<name>`. Events of incidents a detector does not keep are neither stored nor
published. Maintenance mutes set through any web's admin API reach the detection's
current state as they are set (`netvigil.cluster.mute_sync`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

import nats.errors
from nats.aio.client import Client
from nats.js import JetStreamContext

from netvigil.bus import (
    BusUnavailable,
    Delivery,
    MeasurementConsumer,
    StreamNames,
    ensure_consumer,
    ensure_streams,
)
from netvigil.bus.checkpoints import CHECKPOINTS_BUCKET, CheckpointBucket
from netvigil.cluster.assignment import owner
from netvigil.cluster.handover import (
    ConsumerFilter,
    DetectionScope,
    PositionKeeper,
    ReplaySource,
    ShareFollower,
)
from netvigil.cluster.incident_publisher import IncidentEventPublisher
from netvigil.cluster.incidents import DETECTOR_ROLE, IncidentShare
from netvigil.cluster.membership import (
    DEFAULT_HEARTBEAT_S,
    MEMBERS_BUCKET,
    ClusterError,
    Membership,
    open_members_bucket,
)
from netvigil.cluster.mute_sync import MuteFeed
from netvigil.config.model import Config
from netvigil.errors import StoreError
from netvigil.incident import Incident
from netvigil.maintenance import Mute
from netvigil.model import Measurement
from netvigil.pipeline.detection import EventSink, LiveDetection, MeasurementSink
from netvigil.state.current import CurrentState, StatePolicy
from netvigil.store.base import Store

__all__ = [
    "DetectSettings",
    "DetectionScope",
    "DetectorStats",
    "EventOwnership",
    "detector_durable",
    "run_detector",
]

log = logging.getLogger(__name__)

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")


def detector_durable(member: str) -> str:
    """The durable consumer name of detector `member` (stable across its restarts)."""
    return "netvigil-detect-" + _UNSAFE.sub("_", member)[:64]


@dataclass(frozen=True, slots=True)
class DetectSettings:
    """Who this detector is, how it keeps its membership and how it reads the stream."""

    member: str = "detector"
    heartbeat_s: float = DEFAULT_HEARTBEAT_S
    ttl_s: float | None = None
    """The members' TTL if this process makes the bucket (default: three heartbeats)."""
    bucket: str = MEMBERS_BUCKET
    batch_size: int = 500
    fetch_wait_s: float = 0.5
    linger_s: float = 0.1
    """After a batch smaller than `batch_size`, wait this long before fetching again, so
    that the next batch holds what arrived meanwhile instead of a few messages: each
    fetch and ack has a cost of its own, which a trickle of small batches multiplies."""
    backoff_max_s: float = 5.0
    checkpoint_every_s: float = 1.0
    """How often (at most) this detector puts its checkpoint, after an acked batch."""
    checkpoint_bucket: str = CHECKPOINTS_BUCKET

    @property
    def durable(self) -> str:
        return detector_durable(self.member)


@dataclass(slots=True)
class DetectorStats:
    """What a detector process has done: measurements read, fed and acked."""

    read: int = 0
    fed: int = 0
    """Measurements of this detector's share handed to detection."""
    acked: int = 0
    batches: int = 0
    bus_failures: int = 0
    filters: list[str] = field(default_factory=list)
    """The subject filters of the consumer, as last set."""
    targets: list[str] = field(default_factory=list)
    """The configured targets detection covers (its share and the controls), as last set."""
    rescoped: int = 0
    """Times detection was narrowed or widened to a new share."""
    members: list[str] = field(default_factory=list)
    """The live detectors as of the latest membership change, this one included."""
    handovers: int = 0
    """Share changes that gained shards."""
    replayed: int = 0
    """Measurements of gained shards read again from where their previous owner was."""
    skipped: int = 0
    """Measurements the durable consumer delivered that the replay had fed already."""
    taken_over: int = 0
    """Open incidents of gained groups continued (taken from the store)."""
    checkpoints: int = 0
    """Checkpoints put."""
    muted: list[str] = field(default_factory=list)
    """The targets muted for maintenance in the detection's state, as last changed."""


class EventOwnership:
    """Which incidents this detector keeps, among the live detectors; `assign` is the
    membership's `on_change`."""

    def __init__(self, share: IncidentShare) -> None:
        self.share = share
        self.members: frozenset[str] = frozenset({share.member})

    def assign(self, members: frozenset[str]) -> None:
        self.members = members | {self.share.member}
        self.share.assign(self.members)
        log.info(
            "detector %s keeps %d of the incident group(s) among %d detector(s)",
            self.share.member,
            len(self.share.owned.groups),
            len(self.members),
        )

    def owns_target(self, target: str) -> bool:
        """Whether measurements of `target` are this detector's to read."""
        return self.share.owned.owns_target(target)

    def keeps(self, incident: Incident) -> bool:
        """Whether `incident` is this detector's to store and publish (see module docs)."""
        me = self.share.member
        if incident.vantage is not None:
            return owner(f"vantage:{incident.vantage}", self.members) == me
        owned = self.share.owned
        if incident.services or incident.targets:
            return any(s in owned.services for s in incident.services) or any(
                t in owned.targets for t in incident.targets
            )
        return owner(f"incident:{incident.id}", self.members) == me


async def run_detector(
    config: Config,
    nc: Client,
    store: Store,
    stop: asyncio.Event,
    settings: DetectSettings,
    *,
    sinks: Sequence[EventSink] = (),
    taps: Sequence[MeasurementSink] = (),
    clock: Callable[[], float] = time.time,
    stats: DetectorStats | None = None,
) -> LiveDetection:
    """Detect on the measurements stream until `stop` is set; returns the (stopped)
    detection. Every measurement handed to detection is also handed to each of `taps`.
    Raises ClusterError when the streams, the buckets or the membership cannot be set up."""
    stats = stats if stats is not None else DetectorStats()
    bus = config.bus
    js = nc.jetstream()
    ownership = EventOwnership(IncidentShare(config, settings.member))
    stats.filters = ownership.share.owned.subject_filters()
    consumer = await _bind(config, nc, settings, stats.filters)
    checkpoints, mutes = await _open_buckets(config, js, settings)
    ttl_s = settings.ttl_s if settings.ttl_s is not None else 3 * settings.heartbeat_s
    kv, bucket_ttl_s = await open_members_bucket(js, ttl_s=ttl_s, bucket=settings.bucket)
    membership = Membership(
        kv,
        DETECTOR_ROLE,
        settings.member,
        ttl_s=bucket_ttl_s,
        heartbeat_s=settings.heartbeat_s,
        on_change=lambda members: _changed(members, ownership, stats),
    )
    publisher = IncidentEventPublisher(js, timeout_s=bus.publish_timeout_s)
    scope = DetectionScope(config, ownership.share.owned)
    stats.targets = scope.target_names()
    state = CurrentState(
        scope.config,
        StatePolicy(
            silent_intervals=config.detect.silent_intervals,
            silent_min_s=config.detect.silent_min_s,
        ),
    )
    detection = LiveDetection(
        scope.config,
        store,
        sinks=[publisher, *sinks],
        lateness_s=config.detection_lateness_s,
        clock=clock,
        state=state,
        keeps=ownership.keeps,
    )
    loop = _Loop(consumer, detection, ownership, settings, stats, list(taps))
    source = ReplaySource(
        js,
        bus.measurements_stream,
        checkpoints,
        horizon_s=config.detection_lateness_s + config.server.max_clock_skew_s,
        max_payload_bytes=bus.max_payload_bytes,
        batch_size=settings.batch_size,
        fetch_wait_s=settings.fetch_wait_s,
    )
    refilter = ConsumerFilter(js, bus.measurements_stream, settings.durable, bus.ack_wait_s)
    follower = ShareFollower(scope, detection, store, refilter, source, loop.submit)
    keeper = PositionKeeper(checkpoints, settings.member, every_s=settings.checkpoint_every_s)
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(mutes.close)
        await membership.start()
        stack.push_async_callback(membership.stop)
        publishing = asyncio.create_task(publisher.run(stop), name="detector publisher")
        stack.push_async_callback(_finish, publishing)
        state.set_mutes(await _mutes(store))
        stats.muted = sorted(state.mute_map())
        mutes.follow(_StateMutes(state, stats))  # the changes since the feed opened, and on
        await detection.start()
        stack.push_async_callback(detection.stop)
        log.info(
            "detector %s reading %s/%s (%d open incident(s) taken over)",
            settings.member,
            bus.measurements_stream,
            settings.durable,
            detection.stats.seeded,
        )
        await loop.run(follower, keeper, stop)
        await keeper.close(follower.current.shards)  # the last one, before leaving the role
        stats.checkpoints = keeper.saved
    await store.flush()
    return detection


async def _open_buckets(
    config: Config, js: JetStreamContext, settings: DetectSettings
) -> tuple[CheckpointBucket, MuteFeed]:
    """The checkpoints bucket and the mutes feed (its watch started). Raises ClusterError."""
    try:
        checkpoints = await CheckpointBucket.open(js, bucket=settings.checkpoint_bucket)
    except BusUnavailable as exc:
        raise ClusterError(f"{config.bus.url}: {exc}") from exc
    return checkpoints, await MuteFeed.open(js)


@dataclass(frozen=True, slots=True)
class _StateMutes:
    """Applies announced mute changes to the detection's current state (its incidents
    are relabelled on their next judgement) and notes them in `stats`."""

    state: CurrentState
    stats: DetectorStats

    def mute(self, mute: Mute) -> None:
        self.state.mute(mute)
        self.stats.muted = sorted(self.state.mute_map())

    def unmute(self, target: str) -> None:
        self.state.unmute(target)
        self.stats.muted = sorted(self.state.mute_map())


def _changed(members: frozenset[str], ownership: EventOwnership, stats: DetectorStats) -> None:
    ownership.assign(members)
    stats.members = sorted(ownership.members)


async def _bind(
    config: Config, nc: Client, settings: DetectSettings, filters: Sequence[str]
) -> MeasurementConsumer:
    """Set up the streams and this detector's durable consumer (reading `filters`), and
    bind to it."""
    bus = config.bus
    js = nc.jetstream()
    names = StreamNames(bus.measurements_stream, bus.incidents_stream, bus.dead_letter_stream)
    try:
        await ensure_streams(
            js,
            names,
            duplicate_window_s=bus.duplicate_window_s,
            max_age_s=bus.max_age_days * 86_400.0,
        )
        await ensure_consumer(
            js,
            bus.measurements_stream,
            settings.durable,
            ack_wait_s=bus.ack_wait_s,
            filter_subjects=filters,
        )
        return await MeasurementConsumer.bind(
            nc,
            bus,
            durable=settings.durable,
            batch_size=settings.batch_size,
            fetch_wait_s=settings.fetch_wait_s,
        )
    except (TimeoutError, OSError, nats.errors.Error) as exc:
        raise ClusterError(f"{bus.url}: cannot set up the streams: {exc!r}") from exc


@dataclass(slots=True)
class _Loop:
    """The fetch, feed and ack loop of one detector."""

    consumer: MeasurementConsumer
    detection: LiveDetection
    ownership: EventOwnership
    settings: DetectSettings
    stats: DetectorStats
    taps: list[MeasurementSink]

    def submit(self, m: Measurement) -> None:
        """Hand `m` to detection (and the taps)."""
        self.detection.submit(m)
        self.stats.fed += 1
        for tap in self.taps:
            tap.submit(m)

    async def run(
        self, follower: ShareFollower, keeper: PositionKeeper, stop: asyncio.Event
    ) -> None:
        """Feed batches to detection and ack each once taken (and its events stored);
        the share is followed between batches (`ShareFollower`) and the position kept
        (`PositionKeeper`)."""
        stats, settings = self.stats, self.settings
        stored_events = self.detection.stats.events
        failures = 0
        while not stop.is_set():
            try:
                await self._follow(follower)
                batch = await self.consumer.fetch()
                if batch:
                    self._feed(batch, follower)
                    if self.detection.stats.events != stored_events:
                        stored_events = self.detection.stats.events
                        # The events first: a restart seeds from them.
                        store = self.detection.store
                        if not await _flush_holding(store, self.consumer, batch, stop, settings):
                            return  # stopped while the store was away: the batch stays unacked
                    await self.consumer.ack(batch)
                    stats.acked += len(batch)
                    stats.batches += 1
                    keeper.processed(batch, self.detection.watermark)
                    keeper.save(follower.current.shards)
                    stats.checkpoints = keeper.saved
                    if len(batch) < settings.batch_size and settings.linger_s > 0:
                        with contextlib.suppress(TimeoutError):
                            await asyncio.wait_for(stop.wait(), settings.linger_s)
                failures = 0
            except (BusUnavailable, StoreError) as exc:
                failures += 1
                stats.bus_failures += 1
                delay = min(settings.backoff_max_s, 0.2 * 2.0 ** min(failures - 1, 10))
                log.warning(
                    "detector: NATS or the store unavailable (%s); again in %.1f s", exc, delay
                )
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)

    async def _follow(self, follower: ShareFollower) -> None:
        """Take the current share if it changed (see `netvigil.cluster.handover`)."""
        stats = self.stats
        handover = await follower.follow(self.ownership.share.owned)
        if handover is None:
            return
        stats.targets = follower.scope.target_names()
        stats.rescoped += 1
        stats.filters = follower.filters
        stats.taken_over += handover.taken_over
        stats.replayed += handover.replayed
        if handover.gained:
            stats.handovers += 1
            log.info(
                "detector %s gained %d shard(s): %d open incident(s) continued, %d "
                "measurement(s) read again (stream %s to %d); reads %d subject filter(s)",
                self.settings.member,
                len(handover.gained),
                handover.taken_over,
                handover.replayed,
                handover.first_seq,
                handover.last_seq,
                len(follower.filters),
            )

    def _feed(self, batch: Sequence[Delivery], follower: ShareFollower) -> None:
        self.stats.read += len(batch)
        for delivery in batch:
            m = delivery.measurement
            if not follower.current.owns_target(m.target):
                continue
            if follower.fresh(delivery):
                self.submit(m)
            else:
                self.stats.skipped += 1


async def _flush_holding(
    store: Store,
    consumer: MeasurementConsumer,
    batch: Sequence[Delivery],
    stop: asyncio.Event,
    settings: DetectSettings,
) -> bool:
    """Wait until the store has the events (retrying while it fails), keeping `batch` in
    progress meanwhile so that it is not delivered again. False if `stop` came first."""
    attempt = 0
    while True:
        try:
            await store.flush()
            return True
        except StoreError as exc:
            attempt += 1
            delay = min(settings.backoff_max_s, 0.2 * 2.0 ** min(attempt - 1, 10))
            log.error("detector: the store failed (%s); batch held, again in %.1f s", exc, delay)
            if stop.is_set():
                return False
            await consumer.keep_alive(batch)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)


async def _mutes(store: Store) -> list[Mute]:
    """The maintenance mutes the store holds (none when it keeps no admin tables)."""
    read: Callable[[], Awaitable[list[Mute]]] | None = getattr(store, "mutes", None)
    return [] if read is None else await read()


async def _finish(task: asyncio.Task[None]) -> None:
    """Wait for the publisher to drain (it stops when its `stop` is set)."""
    with contextlib.suppress(asyncio.CancelledError):
        await task

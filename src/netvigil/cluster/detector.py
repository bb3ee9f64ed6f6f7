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
the server delivers it only its share; when the share changes, the filter is updated
between two batches, and the consumer keeps its position (a shard gained is read from
there on). After a batch smaller than `batch_size` it lingers (`linger_s`) before
fetching again, so a trickle is read in batches. Incidents that are about a vantage
rather than a service (`Incident.vantage`) can be seen by every detector; each is kept
by one only, the owner of the key `vantage:<name>`. Events of incidents a detector does
not keep are neither stored nor published.
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
from netvigil.cluster.assignment import owner
from netvigil.cluster.incident_publisher import IncidentEventPublisher
from netvigil.cluster.incidents import DETECTOR_ROLE, IncidentShare, OwnedIncidents
from netvigil.cluster.membership import (
    DEFAULT_HEARTBEAT_S,
    MEMBERS_BUCKET,
    ClusterError,
    Membership,
    open_members_bucket,
)
from netvigil.config.model import Config
from netvigil.errors import StoreError
from netvigil.incident import Incident
from netvigil.maintenance import Mute
from netvigil.pipeline.detection import EventSink, LiveDetection
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
    clock: Callable[[], float] = time.time,
    stats: DetectorStats | None = None,
) -> LiveDetection:
    """Detect on the measurements stream until `stop` is set; returns the (stopped)
    detection. Raises ClusterError when the streams or the membership cannot be set up."""
    stats = stats if stats is not None else DetectorStats()
    bus = config.bus
    js = nc.jetstream()
    ownership = EventOwnership(IncidentShare(config, settings.member))
    stats.filters = ownership.share.owned.subject_filters()
    consumer = await _bind(config, nc, settings, stats.filters)
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
        lateness_s=config.detect.lateness_s,
        clock=clock,
        state=state,
        keeps=ownership.keeps,
    )
    async with contextlib.AsyncExitStack() as stack:
        await membership.start()
        stack.push_async_callback(membership.stop)
        publishing = asyncio.create_task(publisher.run(stop), name="detector publisher")
        stack.push_async_callback(_finish, publishing)
        state.set_mutes(await _mutes(store))
        await detection.start()
        stack.push_async_callback(detection.stop)
        log.info(
            "detector %s reading %s/%s (%d open incident(s) taken over)",
            settings.member,
            bus.measurements_stream,
            settings.durable,
            detection.stats.seeded,
        )
        refilter = _Refilter(js, bus.measurements_stream, settings.durable, bus.ack_wait_s)
        await _consume(consumer, detection, scope, ownership, stop, settings, stats, refilter)
    await store.flush()
    return detection


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


class DetectionScope:
    """The part of the config detection covers: this detector's share (`OwnedIncidents`)
    and the controls, narrowed or widened as the share changes."""

    def __init__(self, config: Config, owned: OwnedIncidents) -> None:
        self.whole = config
        self.owned = owned
        self.config = owned.scope(config)

    def target_names(self) -> list[str]:
        return sorted(t.name for t in self.config.targets)

    def follow(self, detection: LiveDetection, owned: OwnedIncidents) -> bool:
        """Rescope `detection` to `owned` if the share changed: the targets lost are
        forgotten (their open incidents go to their new owner: this detector no longer
        keeps them), the targets gained start empty. Whether it changed."""
        if owned == self.owned:
            return False
        self.owned, self.config = owned, owned.scope(self.whole)
        lost = [t for t in detection.state.paths.targets() if not owned.owns_target(t)]
        detection.rescope(self.config, lost)
        log.info(
            "detector covers %d target(s) of %d (%d forgotten)",
            len(self.config.targets),
            len(self.whole.targets),
            len(lost),
        )
        return True


@dataclass(frozen=True, slots=True)
class _Refilter:
    """Updates the subject filters of this detector's consumer."""

    js: JetStreamContext
    stream: str
    durable: str
    ack_wait_s: float

    async def __call__(self, filters: Sequence[str]) -> None:
        """Raises BusUnavailable when NATS does not take the change."""
        try:
            await ensure_consumer(
                self.js,
                self.stream,
                self.durable,
                ack_wait_s=self.ack_wait_s,
                filter_subjects=filters,
            )
        except (TimeoutError, OSError, nats.errors.Error) as exc:
            raise BusUnavailable(f"updating the consumer's filter: {exc!r}") from exc


async def _consume(
    consumer: MeasurementConsumer,
    detection: LiveDetection,
    scope: DetectionScope,
    ownership: EventOwnership,
    stop: asyncio.Event,
    settings: DetectSettings,
    stats: DetectorStats,
    refilter: Callable[[Sequence[str]], Awaitable[None]],
) -> None:
    """Feed batches to detection and ack each once taken (and its events stored); the
    targets detection covers and the consumer's filter follow the share between batches."""
    stored_events = detection.stats.events
    failures = 0
    while not stop.is_set():
        try:
            if scope.follow(detection, ownership.share.owned):
                stats.targets = scope.target_names()
                stats.rescoped += 1
            wanted = ownership.share.owned.subject_filters()
            if wanted != stats.filters:
                await refilter(wanted)
                stats.filters = wanted
                log.info("detector reads %d subject filter(s)", len(wanted))
            batch = await consumer.fetch()
            if batch:
                _feed(batch, detection, ownership, stats)
                if detection.stats.events != stored_events:
                    stored_events = detection.stats.events
                    # The events first: a restart seeds from them.
                    if not await _flush_holding(detection.store, consumer, batch, stop, settings):
                        return  # stopped while the store was away: the batch stays unacked
                await consumer.ack(batch)
                stats.acked += len(batch)
                stats.batches += 1
                if len(batch) < settings.batch_size and settings.linger_s > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), settings.linger_s)
            failures = 0
        except BusUnavailable as exc:
            failures += 1
            stats.bus_failures += 1
            delay = min(settings.backoff_max_s, 0.2 * 2.0 ** min(failures - 1, 10))
            log.warning("detector: NATS unavailable (%s); again in %.1f s", exc, delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)


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


def _feed(
    batch: Sequence[Delivery],
    detection: LiveDetection,
    ownership: EventOwnership,
    stats: DetectorStats,
) -> None:
    stats.read += len(batch)
    for delivery in batch:
        m = delivery.measurement
        if ownership.owns_target(m.target):
            detection.submit(m)
            stats.fed += 1


async def _mutes(store: Store) -> list[Mute]:
    """The maintenance mutes the store holds (none when it keeps no admin tables)."""
    read: Callable[[], Awaitable[list[Mute]]] | None = getattr(store, "mutes", None)
    return [] if read is None else await read()


async def _finish(task: asyncio.Task[None]) -> None:
    """Wait for the publisher to drain (it stops when its `stop` is set)."""
    with contextlib.suppress(asyncio.CancelledError):
        await task

"""A detector's share as detectors come and go: a shard it gains is read from where its
previous owner left off, and the open incidents of the groups it gains are continued.

    follower = ShareFollower(scope, detection, store, consumer_filter, replay_source, feed)
    await follower.follow(ownership.share.owned)    # between two batches
    batch = [d for d in batch if follower.fresh(d)]  # what the replay read is not fed twice

    keeper = PositionKeeper(checkpoints, member, every_s=1.0)
    keeper.processed(batch, detection.watermark)     # after the batch is acked
    keeper.save(follower.current.shards)             # at most once every `every_s`
    await keeper.close(follower.current.shards)      # the last one, when stopping

When the live detectors change, `follow` moves a detector to its new share between two
batches, in this order:

1. detection is rescoped (`DetectionScope.follow`): what it knew of the targets it gave
   up is dropped, the targets it gains start empty;
2. the open incidents of the groups it gains are read from the store and taken over
   (`LiveDetection.take_over`: same ids, so nobody opens them a second time);
3. its durable consumer's filter is updated; the consumer keeps its position, so it
   delivers the gained shards only from there on;
4. the gained shards are read again (`netvigil.bus.replay`, a consumer of its own that
   moves no position) from where their previous owner left off up to the end of the
   stream as of step 3, and fed to detection. Where to start is the `resume_seq` of the
   previous owner's last checkpoint (`netvigil.bus.checkpoints`): the first message it
   had read but not processed (held in its reorder buffer), so what it held when it died
   is read again too, however far behind the detectors were. When no checkpoint names a
   gained shard, from `horizon_s` before now (the lateness and the clock skew allowed:
   anything published earlier could only be late). The durable consumer then skips the
   gained shards' messages up to that end (`fresh`), which the replay fed already.

Each step is safe to do again: a step that fails (NATS or the store away) leaves the
share as it was (`current`) and the next batch tries again, the replay resuming after
the last message it fed. Reading a measurement again is harmless in any case: the
gaining detector had never seen the gained targets.

`PositionKeeper` writes this detector's checkpoint: the stream sequence of the last
message of an acked batch, the first sequence of the oldest batch still holding a
measurement that detection's watermark has not passed (`resume_seq`), and the shards it
was reading (`current.shards`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass

import nats.errors
from nats.js import JetStreamContext

from netvigil.bus import BusUnavailable, Delivery, ensure_consumer, measurement_filter, shard_of
from netvigil.bus.checkpoints import Checkpoint, CheckpointBucket
from netvigil.bus.incident_reader import stream_position
from netvigil.bus.replay import StreamReplay, sequence_at
from netvigil.cluster.incidents import OwnedIncidents
from netvigil.config.model import Config
from netvigil.model import Measurement
from netvigil.pipeline.detection import SEED_LIMIT, LiveDetection
from netvigil.store.base import IncidentQuery, Store

__all__ = [
    "ConsumerFilter",
    "DetectionScope",
    "Handover",
    "PositionKeeper",
    "ReplaySource",
    "ShareFollower",
]

log = logging.getLogger(__name__)


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
class ConsumerFilter:
    """Updates the subject filters of a detector's durable consumer."""

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


@dataclass(frozen=True, slots=True)
class ReplaySource:
    """Where gained shards are read again from, and how far back (see the module docs)."""

    js: JetStreamContext
    stream: str
    checkpoints: CheckpointBucket
    horizon_s: float
    """With no checkpoint, read from this long before now (lateness plus clock skew)."""
    max_payload_bytes: int
    batch_size: int = 500
    fetch_wait_s: float = 0.5
    now: Callable[[], float] = time.time
    """The stream's clock (wall time, epoch s)."""

    async def start_seq(self, shards: Collection[str]) -> int | None:
        """The stream sequence to read `shards` again from: the oldest `resume_seq` of
        their newest checkpoints, or the first message within the horizon when a shard
        has none (None: nothing there). Raises BusUnavailable."""
        points = await self.checkpoints.resume_points(shards)
        if len(points) == len(shards):
            return min(p.resume_seq for p in points.values())
        return await sequence_at(self.js, self.stream, self.now() - self.horizon_s)


@dataclass(frozen=True, slots=True)
class Handover:
    """What one share change took: shards gained and lost, incidents continued, and
    measurements read again (stream sequences `first_seq` to `last_seq`; None and 0 when
    nothing was gained)."""

    gained: tuple[str, ...]
    lost: tuple[str, ...]
    taken_over: int
    replayed: int
    first_seq: int | None
    last_seq: int


class ShareFollower:
    """Moves a detector to its new share between two batches (see the module docs);
    `current` is the share it has fully taken, `feed` hands a measurement to detection."""

    def __init__(
        self,
        scope: DetectionScope,
        detection: LiveDetection,
        store: Store,
        refilter: Callable[[Sequence[str]], Awaitable[None]],
        source: ReplaySource,
        feed: Callable[[Measurement], None],
    ) -> None:
        self.scope = scope
        self.detection = detection
        self.store = store
        self.refilter = refilter
        self.source = source
        self.feed = feed
        self.current = scope.owned
        self.filters = scope.owned.subject_filters()
        """The consumer's subject filters, as last set."""
        self._skip_to: dict[str, int] = {}
        self._skip_max = 0
        self._partial: tuple[tuple[str, ...], int] | None = None
        """Gained shards whose replay failed part way, and the last sequence it fed."""

    async def follow(self, owned: OwnedIncidents) -> Handover | None:
        """Take the share `owned` if it differs from `current`; None if it does not.
        Raises BusUnavailable or StoreError (nothing is lost: call again)."""
        if owned is self.current or owned == self.current:
            return None
        gained = tuple(sorted(owned.shards - self.current.shards))
        lost = tuple(sorted(self.current.shards - owned.shards))
        self.scope.follow(self.detection, owned)
        taken = await self._take_over(owned)
        wanted = owned.subject_filters()
        if wanted != self.filters:
            await self.refilter(wanted)
            self.filters = wanted
        first_seq, replayed, last_seq = None, 0, 0
        if gained:
            last_seq = await stream_position(self.source.js, self.source.stream)
            first_seq, replayed = await self._replay(owned, gained, last_seq)
        for shard in lost:
            self._skip_to.pop(shard, None)
        for shard in gained:
            self._skip_to[shard] = last_seq
        self._skip_max = max(self._skip_to.values(), default=0)
        self.current = owned
        return Handover(gained, lost, taken, replayed, first_seq, last_seq)

    def fresh(self, delivery: Delivery) -> bool:
        """Whether the durable consumer's `delivery` is news: False for a message of a
        gained shard that the replay has fed already."""
        if not self._skip_to:
            return True
        seq = delivery.msg.metadata.sequence.stream
        if seq > self._skip_max:  # deliveries come in stream order: nothing left to skip
            self._skip_to.clear()
            return True
        shard = shard_of(delivery.msg.subject)
        limit = self._skip_to.get(shard) if shard is not None else None
        return limit is None or seq > limit

    async def _take_over(self, owned: OwnedIncidents) -> int:
        """Continue the open incidents (in the store) of the groups gained."""
        targets = owned.targets - self.current.targets
        services = owned.services - self.current.services
        if not targets and not services:
            return 0
        found = await self.store.incidents(IncidentQuery(open_only=True, limit=SEED_LIMIT))
        gained = [
            inc
            for inc in reversed(found)  # oldest first, as the detector keeps them
            if inc.vantage is None
            and (targets.intersection(inc.targets) or services.intersection(inc.services))
        ]
        return self.detection.take_over(gained)

    async def _replay(
        self, owned: OwnedIncidents, gained: tuple[str, ...], last_seq: int
    ) -> tuple[int | None, int]:
        """Feed the gained shards' measurements up to `last_seq` (see the module docs);
        the first sequence read and how many were fed."""
        source = self.source
        first_seq = await source.start_seq(gained)
        if first_seq is None or first_seq > last_seq:
            return None, 0
        after = self._partial[1] if self._partial and self._partial[0] == gained else 0
        replay = StreamReplay(
            source.js,
            source.stream,
            [measurement_filter(s) for s in gained],
            max_payload_bytes=source.max_payload_bytes,
            batch_size=source.batch_size,
            fetch_wait_s=source.fetch_wait_s,
        )
        fed = 0
        async for batch in replay.read(max(first_seq, after + 1), last_seq):
            for seq, m in batch:
                if owned.owns_target(m.target):
                    self.feed(m)
                    fed += 1
                self._partial = (gained, seq)
        self._partial = None
        return first_seq, fed


class PositionKeeper:
    """Puts this detector's checkpoint after acked batches, at most once every `every_s`
    (`now` is a monotonic clock). The put runs beside the loop, one at a time, so a slow
    or refused put never holds detection up; a failed one is logged and the next one
    due goes ahead."""

    def __init__(
        self,
        bucket: CheckpointBucket,
        member: str,
        *,
        every_s: float = 1.0,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.bucket = bucket
        self.member = member
        self.every_s = every_s
        self.now = now
        self.saved = 0
        """Checkpoints put so far."""
        self.last: Checkpoint | None = None
        """The checkpoint last put."""
        self._seq = 0
        self._held: deque[tuple[int, float]] = deque()
        """The acked batches that may hold a measurement detection has not processed:
        (first stream sequence, newest measurement time), in stream order."""
        self._due_at = float("-inf")
        self._putting: asyncio.Task[None] | None = None

    def processed(self, batch: Sequence[Delivery], watermark: float) -> None:
        """Note that `batch` (acked, in stream order) was handed to detection, whose
        watermark is now `watermark`: a measurement older than it is processed (or
        dropped as late), a newer one is still held."""
        if batch:
            self._seq = batch[-1].msg.metadata.sequence.stream
            newest = max(d.measurement.ts for d in batch)
            self._held.append((batch[0].msg.metadata.sequence.stream, newest))
        held = self._held
        while held and held[0][1] < watermark:
            held.popleft()

    @property
    def resume_seq(self) -> int:
        """The first stream sequence a successor must read again."""
        return self._held[0][0] if self._held else self._seq + 1

    def save(self, shards: Collection[str]) -> bool:
        """Start putting the checkpoint if one is due, none is being put and it says
        something new; whether it started."""
        if self._putting is not None and not self._putting.done():
            return False
        point = self._point(shards)
        if point is None or self.now() < self._due_at:
            return False
        self._due_at = self.now() + self.every_s
        self._putting = asyncio.create_task(self._put(point), name="detector checkpoint")
        return True

    async def close(self, shards: Collection[str]) -> None:
        """Wait for the put under way, then put the last checkpoint (when stopping)."""
        if self._putting is not None:
            await self._putting
            self._putting = None
        point = self._point(shards)
        if point is not None:
            await self._put(point)

    def _point(self, shards: Collection[str]) -> Checkpoint | None:
        if not self._seq:
            return None
        point = Checkpoint(self.member, self._seq, self.resume_seq, tuple(sorted(shards)))
        return None if point == self.last else point

    async def _put(self, point: Checkpoint) -> None:
        try:
            await self.bucket.put(point)
        except BusUnavailable as exc:
            log.warning("detector %s: checkpoint not saved (%s)", self.member, exc)
            return
        self.last = point
        self.saved += 1

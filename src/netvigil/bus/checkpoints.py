"""How far each detector has read the measurements stream: one checkpoint per detector.

    bucket = await CheckpointBucket.open(js)
    await bucket.put(Checkpoint("detector-a", seq=41_207, resume_seq=40_950, shards=("_s0417",)))
    points = await bucket.resume_points({"_s0417", "_s0002"})  # shard -> newest checkpoint

A checkpoint says: detector `member` has read every message of `shards` up to stream
sequence `seq`, and processed every one before `resume_seq`. Between the two are the
messages it read but still held (measurements wait in the detector's reorder buffer
until its watermark passes them): a successor must read them again. A detector puts
its checkpoint now and then (once a second, after a batch: one key per detector, never
one write per message), in the JetStream key-value bucket `netvigil_detect_positions`.
When a detector gains a shard, it reads where the shard's previous owner had got to
(`resume_points`: of the checkpoints naming the shard, the one furthest along) and
reads the shard again from its `resume_seq`.

Keys are the member names in URL-safe base64 (a key allows only `[-/_=.a-zA-Z0-9]`).
The bucket keeps one value per key and forgets a key not written for `ttl_s` (a day):
a detector gone that long has nothing left that a successor could still use.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import nats.errors
from nats.js.api import KeyValueConfig
from nats.js.kv import KV_DEL, KV_PURGE

from netvigil.bus.buckets import key_value_bucket, watched_snapshot
from netvigil.bus.connection import BusUnavailable

if TYPE_CHECKING:
    from nats.js.client import JetStreamContext
    from nats.js.kv import KeyValue

__all__ = ["CHECKPOINTS_BUCKET", "Checkpoint", "CheckpointBucket", "newest_by_shard"]

log = logging.getLogger(__name__)

CHECKPOINTS_BUCKET = "netvigil_detect_positions"
"""The key-value bucket of the detectors' checkpoints."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """`member` has read every message of `shards` up to stream sequence `seq` and
    processed every one before `resume_seq` (at most `seq + 1`)."""

    member: str
    seq: int
    resume_seq: int
    shards: tuple[str, ...]

    def to_json(self) -> bytes:
        body = {
            "member": self.member,
            "seq": self.seq,
            "resume_seq": self.resume_seq,
            "shards": self.shards,
        }
        return json.dumps(body, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Checkpoint:
        """Raises ValueError when `data` is not a checkpoint."""
        try:
            obj = json.loads(data)
            return cls(
                member=str(obj["member"]),
                seq=int(obj["seq"]),
                resume_seq=int(obj["resume_seq"]),
                shards=tuple(str(s) for s in obj["shards"]),
            )
        except (KeyError, TypeError, UnicodeDecodeError) as exc:
            raise ValueError(f"not a checkpoint: {type(exc).__name__}: {exc}") from exc


def checkpoint_key(member: str) -> str:
    """The bucket key of `member`'s checkpoint."""
    return base64.urlsafe_b64encode(member.encode()).decode()


def newest_by_shard(
    checkpoints: Iterable[Checkpoint], shards: Collection[str]
) -> dict[str, Checkpoint]:
    """Of `checkpoints`, the one furthest along (highest `seq`) naming each of `shards`;
    a shard no checkpoint names is left out."""
    wanted = set(shards)
    out: dict[str, Checkpoint] = {}
    for point in checkpoints:
        for shard in wanted.intersection(point.shards):
            known = out.get(shard)
            if known is None or point.seq > known.seq:
                out[shard] = point
    return out


class CheckpointBucket:
    """The detectors' checkpoints in their key-value bucket (see the module docs)."""

    def __init__(self, kv: KeyValue, js: JetStreamContext, bucket: str) -> None:
        self.kv = kv
        self.js = js
        self.bucket = bucket

    @classmethod
    async def open(
        cls, js: JetStreamContext, *, bucket: str = CHECKPOINTS_BUCKET, ttl_s: float = 86_400.0
    ) -> CheckpointBucket:
        """The bucket, made if it does not exist. Raises BusUnavailable."""
        try:
            kv = await key_value_bucket(js, KeyValueConfig(bucket=bucket, history=1, ttl=ttl_s))
        except (nats.errors.Error, OSError, TimeoutError) as exc:
            raise BusUnavailable(f"checkpoint bucket {bucket}: {exc!r}") from exc
        return cls(kv, js, bucket)

    async def put(self, point: Checkpoint) -> None:
        """Write `point` over its member's previous checkpoint. Raises BusUnavailable."""
        try:
            await self.kv.put(checkpoint_key(point.member), point.to_json())
        except (nats.errors.Error, OSError, TimeoutError) as exc:
            raise BusUnavailable(f"putting the checkpoint of {point.member}: {exc!r}") from exc

    async def read(self) -> list[Checkpoint]:
        """Every checkpoint in the bucket. Raises BusUnavailable."""
        try:
            watcher: Any = await self.kv.watchall()
            try:
                entries = await watched_snapshot(self.js, self.bucket, watcher, timeout_s=5.0)
            finally:
                await watcher.stop()
        except (nats.errors.Error, OSError, TimeoutError) as exc:
            raise BusUnavailable(f"reading the checkpoints: {exc!r}") from exc
        out: list[Checkpoint] = []
        for entry in entries:
            if entry.operation in (KV_DEL, KV_PURGE) or not entry.value:
                continue
            try:
                out.append(Checkpoint.from_json(entry.value))
            except ValueError as exc:
                log.warning("skipped checkpoint %s: %s", entry.key, exc)
        return out

    async def resume_points(self, shards: Collection[str]) -> dict[str, Checkpoint]:
        """For each of `shards`, the checkpoint furthest along that names it (see
        `newest_by_shard`). Raises BusUnavailable."""
        return newest_by_shard(await self.read(), shards)

"""The detectors' checkpoints: what a detector's checkpoint says it still holds, which one a
gained shard resumes from, and the bucket on a real nats-server (a checkpoint put
replaces its member's last one)."""

from __future__ import annotations

import time
from typing import cast

import nats
from cluster_nats import NATSServerProcess
from nats.aio.msg import Msg

from detect.streams import SILENT, measurement
from netvigil.bus import Delivery
from netvigil.bus.checkpoints import (
    Checkpoint,
    CheckpointBucket,
    checkpoint_key,
    newest_by_shard,
)
from netvigil.cluster.handover import PositionKeeper, ReplaySource


def test_a_shard_resumes_from_the_checkpoint_furthest_along_that_names_it() -> None:
    stale = Checkpoint("gone-long-ago", seq=100, resume_seq=90, shards=("_s0001", "_s0002"))
    recent = Checkpoint("died-now", seq=900, resume_seq=871, shards=("_s0002",))
    other = Checkpoint("alive", seq=950, resume_seq=951, shards=("_s0003",))
    found = newest_by_shard([stale, recent, other], {"_s0001", "_s0002", "_s0004"})
    assert found == {"_s0001": stale, "_s0002": recent}, "_s0004: no checkpoint names it"


async def test_the_bucket_keeps_each_members_latest_checkpoint(
    nats_server: NATSServerProcess,
) -> None:
    nc = await nats.connect(nats_server.url)
    try:
        bucket = await CheckpointBucket.open(nc.jetstream())
        assert await bucket.read() == []
        await bucket.put(Checkpoint("détecteur/1", seq=10, resume_seq=4, shards=("_s0001",)))
        await bucket.put(
            Checkpoint("détecteur/1", seq=20, resume_seq=11, shards=("_s0001", "_s0002"))
        )
        await bucket.put(Checkpoint("other", seq=15, resume_seq=16, shards=("_s0002",)))
        again = await CheckpointBucket.open(nc.jetstream())
        assert sorted(p.member for p in await again.read()) == ["détecteur/1", "other"]
        points = await again.resume_points({"_s0001", "_s0002"})
        assert {s: (p.member, p.seq) for s, p in points.items()} == {
            "_s0001": ("détecteur/1", 20),
            "_s0002": ("détecteur/1", 20),
        }
    finally:
        await nc.close()


async def test_a_deleted_checkpoint_is_not_read_and_an_empty_bucket_reads_at_once(
    nats_server: NATSServerProcess,
) -> None:
    nc = await nats.connect(nats_server.url)
    try:
        js = nc.jetstream()
        empty = await CheckpointBucket.open(js, bucket="empty")
        started = time.monotonic()
        assert await empty.read() == []
        assert time.monotonic() - started < 1.0, "an empty bucket is not a timeout"
        bucket = await CheckpointBucket.open(js)
        await bucket.put(Checkpoint("gone", seq=5, resume_seq=6, shards=("_s0001",)))
        await bucket.put(Checkpoint("kept", seq=7, resume_seq=8, shards=("_s0002",)))
        await bucket.kv.delete(checkpoint_key("gone"))
        assert [p.member for p in await bucket.read()] == ["kept"]
        await bucket.kv.delete(checkpoint_key("kept"))
        assert await bucket.read() == [], "a bucket of delete markers only is empty"
    finally:
        await nc.close()


def test_a_checkpoint_resumes_from_the_oldest_batch_detection_still_holds() -> None:
    keeper = PositionKeeper(cast(CheckpointBucket, None), "detector-a")

    def batch(first_seq: int, times: list[float]) -> list[Delivery]:
        return [
            Delivery(
                measurement(ts, "de", "portal", SILENT),
                Msg(None, subject="s", reply=f"$JS.ACK.S.c.1.{first_seq + i}.1.0.0"),  # type: ignore[arg-type]
            )
            for i, ts in enumerate(times)
        ]

    keeper.processed(batch(1, [10.0, 12.0, 11.0]), watermark=9.0)
    keeper.processed(batch(4, [13.0, 15.0]), watermark=11.5)
    assert (keeper.resume_seq, keeper.last) == (1, None), "12 s is still held"
    keeper.processed(batch(6, [5.0, 16.0]), watermark=12.5)  # 5 s came late: dropped
    assert keeper.resume_seq == 4
    keeper.processed([], watermark=16.5)
    assert keeper.resume_seq == 8, "all processed: the next message"


async def test_gained_shards_are_read_again_from_their_checkpoint_however_far_behind(
    nats_server: NATSServerProcess,
) -> None:
    nc = await nats.connect(nats_server.url)
    try:
        bucket = await CheckpointBucket.open(nc.jetstream(), bucket="far_behind")
        await bucket.put(Checkpoint("died", seq=900, resume_seq=640, shards=("_s0001", "_s0002")))
        await bucket.put(Checkpoint("older", seq=500, resume_seq=480, shards=("_s0002",)))
        # detectors minutes behind: the checkpoint is older than any horizon
        source = ReplaySource(
            nc.jetstream(),
            "NETVIGIL_MEASUREMENTS",
            bucket,
            horizon_s=0.0,
            max_payload_bytes=1 << 20,
        )
        assert await source.start_seq({"_s0001", "_s0002"}) == 640
    finally:
        await nc.close()

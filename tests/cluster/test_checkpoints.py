"""The detectors' checkpoints: which one a gained shard resumes from, and the bucket on a
real nats-server (a checkpoint put replaces its member's last one)."""

from __future__ import annotations

import nats
from cluster_nats import NATSServerProcess

from netvigil.bus.checkpoints import Checkpoint, CheckpointBucket, newest_by_shard


def test_a_shard_resumes_from_the_checkpoint_furthest_along_that_names_it() -> None:
    stale = Checkpoint("gone-long-ago", seq=100, at=1.0, shards=("_s0001", "_s0002"))
    recent = Checkpoint("died-now", seq=900, at=9.0, shards=("_s0002",))
    other = Checkpoint("alive", seq=950, at=9.5, shards=("_s0003",))
    found = newest_by_shard([stale, recent, other], {"_s0001", "_s0002", "_s0004"})
    assert found == {"_s0001": stale, "_s0002": recent}, "_s0004: no checkpoint names it"


async def test_the_bucket_keeps_each_members_latest_checkpoint(
    nats_server: NATSServerProcess,
) -> None:
    nc = await nats.connect(nats_server.url)
    try:
        bucket = await CheckpointBucket.open(nc.jetstream())
        assert await bucket.read() == []
        await bucket.put(Checkpoint("détecteur/1", seq=10, at=1.5, shards=("_s0001",)))
        await bucket.put(Checkpoint("détecteur/1", seq=20, at=2.5, shards=("_s0001", "_s0002")))
        await bucket.put(Checkpoint("other", seq=15, at=2.0, shards=("_s0002",)))
        again = await CheckpointBucket.open(nc.jetstream())
        assert sorted(p.member for p in await again.read()) == ["détecteur/1", "other"]
        points = await again.resume_points({"_s0001", "_s0002"})
        assert {s: (p.member, p.seq) for s, p in points.items()} == {
            "_s0001": ("détecteur/1", 20),
            "_s0002": ("détecteur/1", 20),
        }
    finally:
        await nc.close()

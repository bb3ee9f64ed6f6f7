"""A detector killed while the measurements of its shards keep coming: the detector that
gains its shards reads them from where the dead one left off (its last checkpoint), and
continues the incident it had open (same id, never opened twice).

Real NATS and PostgreSQL. The doomed detector is a process of its own, killed with
SIGKILL; the survivor runs in the test. Both judge a stream of past measurements with a
clock standing at its start (the timer never outruns the feed), so the test takes
seconds, not the minutes of a live outage. The dead detector's checkpoint names the
oldest measurement it still held: the survivor reads again from there, not from the
start.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import nats
from cluster_nats import NATSServerProcess
from nats.aio.client import Client
from nats.js.errors import NotFoundError

from cluster.web_processes import eventually
from detect.streams import SILENT, Probe, World, gov, healthy
from netvigil.bus import TargetShards, encode_measurement, measurement_filter, measurement_subject
from netvigil.bus.checkpoints import Checkpoint, CheckpointBucket
from netvigil.bus.subjects import MSG_ID_HEADER, StreamNames
from netvigil.cluster import DetectorStats, DetectSettings, owned_incident_keys, run_detector
from netvigil.cluster.detector import detector_durable
from netvigil.config.model import BusConfig, Config, DetectConfig, StoreConfig
from netvigil.incident import EventKind
from netvigil.model import Measurement
from netvigil.store.base import IncidentQuery
from netvigil.store.postgres import PostgresStore
from servers.postgres import PostgresServer

SURVIVOR = "survivor"
GOV_SERVICES = ["e-albania", "parliament", "pm-office"]
MEASUREMENTS = StreamNames().measurements
LATENESS_S = 30.0


def world_config(nats_url: str, dsn: str) -> Config:
    base = World(interval=1.0).config()
    return base.model_copy(
        update={
            "bus": BusConfig(kind="nats", url=nats_url, ack_wait_s=5.0),
            "store": StoreConfig.model_validate({"kind": "postgres", "dsn": dsn}),
            # The stream comes some 15 times faster than it was measured: a lateness of
            # 30 s of measurement time covers the seconds a handover takes, so what the
            # survivor reads again is judged, not dropped as late.
            "detect": DetectConfig(lateness_s=LATENESS_S),
        }
    )


def doomed_name(config: Config) -> str:
    """A detector name that, beside SURVIVOR, owns the government group (and only it)."""
    for i in range(200):
        name = f"doomed-{i}"
        mine = owned_incident_keys(config, (name, SURVIVOR), name)
        theirs = owned_incident_keys(config, (name, SURVIVOR), SURVIVOR)
        if set(GOV_SERVICES) <= mine.services and theirs.groups:
            return name
    raise AssertionError("no name found")


def outage(start: float, onset: float, recovery: float, end: float) -> list[Measurement]:
    """Every target from every vantage each second; gov fails from onset to recovery."""

    def behaviour(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
        return (
            SILENT if gov(target) and onset <= ts < recovery else healthy(ts, vantage, target, rng)
        )

    return World(interval=1.0).stream(behaviour, start=start, end=end)


class Tap:
    """A measurement sink keeping the ids handed to detection, in order."""

    def __init__(self) -> None:
        self.ids: list[str] = []

    def submit(self, m: Measurement) -> None:
        self.ids.append(m.id)


async def publish(
    nc: Client, shards: TargetShards, ms: Sequence[Measurement], pace_s: float = 0.0
) -> list[tuple[int, Measurement]]:
    """Publish `ms` (every `pace_s` seconds each); their stream sequences."""
    js = nc.jetstream()
    out = []
    for m in ms:
        ack = await js.publish(
            measurement_subject(m.vantage, shards.token(m.target)),
            encode_measurement(m),
            headers={MSG_ID_HEADER: m.id},
        )
        out.append((ack.seq, m))
        if pace_s:
            await asyncio.sleep(pace_s)
    return out


def start_doomed(
    config: Config, dsn: str, member: str, clock_ts: float, tmp_path: Path
) -> subprocess.Popen[bytes]:
    data = config.model_dump(mode="json")
    data["store"]["dsn"] = dsn
    config_path = tmp_path / "detector.json"
    config_path.write_text(json.dumps(data))
    script = Path(__file__).with_name("detector_process.py")
    log = (tmp_path / "doomed.log").open("ab")
    command = [sys.executable, str(script), str(config_path), member, f"{clock_ts!r}"]
    return subprocess.Popen(
        command,
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )


async def consumer_filters(nc: Client, member: str) -> list[str] | None:
    try:
        info = await nc.jetstream().consumer_info(MEASUREMENTS, detector_durable(member))
    except NotFoundError:
        return None
    return list(info.config.filter_subjects or [info.config.filter_subject or ""])


async def test_a_killed_detectors_shards_and_open_incident_go_to_the_survivor_whole(
    nats_server: NATSServerProcess, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    dsn = await postgres_server.database_for(tmp_path)
    config = world_config(nats_server.url, dsn)
    shards = TargetShards(config)
    doomed = doomed_name(config)
    doomed_shards = owned_incident_keys(config, (doomed, SURVIVOR), doomed).shards
    start = time.time() - 200
    stream = outage(start, onset=start + 30, recovery=start + 100, end=start + 150)
    before = [m for m in stream if m.ts < start + 80]  # confirmed by then
    after = [m for m in stream if m.ts >= start + 80]
    everything = [measurement_filter()]
    nc = await nats.connect(nats_server.url)
    survivor_nc = await nats.connect(nats_server.url)
    stop = asyncio.Event()
    stats, tap = DetectorStats(), Tap()
    proc: subprocess.Popen[bytes] | None = None
    try:
        async with await PostgresStore.open(dsn) as store:
            settings = DetectSettings(member=SURVIVOR, heartbeat_s=0.2, ttl_s=1.0)
            survivor = asyncio.create_task(
                run_detector(
                    config,
                    survivor_nc,
                    store,
                    stop,
                    settings,
                    taps=[tap],
                    clock=lambda: start,
                    stats=stats,
                )
            )
            await eventually(lambda: stats.members == [SURVIVOR], 20, "the survivor")
            proc = start_doomed(config, dsn, doomed, start, tmp_path)
            both = sorted([doomed, SURVIVOR])
            await eventually(lambda: stats.members == both, 30, "both detectors")

            async def narrowed() -> bool:
                theirs = await consumer_filters(nc, doomed)
                return stats.filters != everything and theirs not in (None, everything)

            await eventually(narrowed, 20, "both consumers narrowed")

            published = await publish(nc, shards, before)

            async def confirmed() -> bool:
                found = await store.incidents(IncidentQuery())
                return any(i.confirmed_at is not None for i in found)

            await eventually(confirmed, 30, "the doomed detector's confirmed incident")
            # measurements keep coming; the doomed detector dies just after a checkpoint
            publishing = asyncio.create_task(publish(nc, shards, after, pace_s=0.004))
            bucket = await CheckpointBucket.open(nc.jetstream())
            before_end = published[-1][0]

            async def checkpointed_after_before() -> bool:
                points = await bucket.read()
                return any(p.member == doomed and p.seq > before_end for p in points)

            await eventually(checkpointed_after_before, 20, "a checkpoint in the trickle")
            assert not publishing.done(), "the kill comes while measurements keep coming"
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            killed_at = time.monotonic()
            await eventually(lambda: stats.handovers == 1, 20, "the survivor to gain")
            handover_s = time.monotonic() - killed_at
            assert not publishing.done(), "measurements still come after the handover"
            published += await publishing

            async def caught_up() -> bool:
                info = await nc.jetstream().consumer_info(MEASUREMENTS, detector_durable(SURVIVOR))
                return info.num_pending == 0 and info.num_ack_pending == 0

            await eventually(caught_up, 30, "the survivor to catch up")
            stop.set()
            detection = await survivor
            points = await bucket.read()
            incidents = await store.incidents(IncidentQuery())
            log = await store.incident_events(incidents[0].id)
    finally:
        stop.set()
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        await survivor_nc.close()
        await nc.close()

    [last] = [p for p in points if p.member == doomed]
    assert set(last.shards) == doomed_shards
    wanted = _published_after(published, last, shards, doomed_shards)
    fed = [i for i in tap.ids if i in wanted]
    logging.getLogger(__name__).info(
        f"checkpoint at {last.seq}; {len(wanted)} measurement(s) of the doomed shards after it,"
        f" {stats.replayed} read again, {stats.skipped} skipped; gained {handover_s:.2f} s"
        f" after the kill; {detection.late} dropped as late"
    )
    assert wanted, "measurements of the doomed shards came after its last checkpoint"
    assert set(fed) == wanted, "every one reached the survivor's detection"
    assert len(fed) == len(wanted), "none of them twice"
    assert stats.taken_over == 1
    doomed_total = sum(1 for _, m in published if shards.token(m.target) in doomed_shards)
    assert 0 < stats.replayed < doomed_total, "read again from the checkpoint, not the start"

    [incident] = incidents
    assert sorted(incident.services) == GOV_SERVICES
    kinds = [e.kind for e in log]
    assert kinds.count(EventKind.OPENED) == 1 and kinds.count(EventKind.CONFIRMED) == 1
    assert incident.end is not None and kinds[-1] is EventKind.RESOLVED, kinds
    assert detection.stats.seeded == 1 and not detection.open_incidents()


def _published_after(
    published: Sequence[tuple[int, Measurement]],
    point: Checkpoint,
    shards: TargetShards,
    owned: frozenset[str],
) -> set[str]:
    return {m.id for seq, m in published if seq > point.seq and shards.token(m.target) in owned}

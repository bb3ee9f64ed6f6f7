"""The detector role on real servers: measurements on NATS JetStream, incidents in PostgreSQL.

A world of six services (three on the government network) probed from three vantages;
the government services stop answering. The detector reads the stream, stores a
confirmed incident in PostgreSQL and publishes its events on the incidents stream. Two
detectors split the incident groups and each incident is kept by one; a detector killed
and restarted under the same name resumes from its durable position without doubling
the incident.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import nats
import pytest
from cluster_nats import NATSServerProcess
from nats.aio.client import Client

from detect.streams import SILENT, Probe, World, gov, healthy
from netvigil.bus import TargetShards, encode_measurement, measurement_filter, measurement_subject
from netvigil.bus.subjects import MSG_ID_HEADER, StreamNames
from netvigil.cluster import (
    DetectorStats,
    DetectSettings,
    EventOwnership,
    IncidentShare,
    detector_durable,
    owned_incident_keys,
    run_detector,
)
from netvigil.config.model import BusConfig, Config, DetectConfig, StoreConfig
from netvigil.incident import EventKind, Incident, IncidentState
from netvigil.model import Measurement
from netvigil.store.base import IncidentQuery
from netvigil.store.postgres import PostgresStore
from servers.postgres import PostgresServer

GOV_SERVICES = ["e-albania", "parliament", "pm-office"]
SHARDS = TargetShards(World(interval=1.0).config())


def world_config(nats_url: str, dsn: str, *, lateness_s: float = 1.0) -> Config:
    base = World(interval=1.0).config()
    return base.model_copy(
        update={
            "bus": BusConfig(kind="nats", url=nats_url, ack_wait_s=5.0),
            "store": StoreConfig.model_validate({"kind": "postgres", "dsn": dsn}),
            "detect": DetectConfig(lateness_s=lateness_s),
        }
    )


def outage_stream(
    start: float, healthy_s: float, failing_s: float, *, failing: Sequence[str] = ("gov",)
) -> list[Measurement]:
    """Every target from every vantage each second; the chosen ones fail after `healthy_s`."""
    onset = start + healthy_s

    def behaviour(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
        fails = ("gov" in failing and gov(target)) or target.split("-https")[0] in failing
        return SILENT if fails and ts >= onset else healthy(ts, vantage, target, rng)

    return World(interval=1.0).stream(behaviour, start=start, end=onset + failing_s)


async def publish(nc: Client, measurements: Sequence[Measurement]) -> None:
    js = nc.jetstream()
    for m in measurements:
        await js.publish(
            measurement_subject(m.vantage, SHARDS.token(m.target)),
            encode_measurement(m),
            headers={MSG_ID_HEADER: m.id},
        )


async def incident_messages(nc: Client) -> list[dict[str, object]]:
    """Every incident event on the incidents stream, in order."""
    js = nc.jetstream()
    info = await js.stream_info(StreamNames().incidents)
    out = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(StreamNames().incidents, seq)
        assert msg.data is not None
        out.append(json.loads(msg.data))
    return out


async def wait_until(check: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await check():
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def fixed(ts: float) -> Callable[[], float]:
    """A clock standing at `ts` (the stream's start: the timer never outruns the feed)."""
    return lambda: ts


async def test_a_failing_service_makes_a_confirmed_incident_in_postgres_and_on_the_bus(
    nats_server: NATSServerProcess, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    dsn = await postgres_server.database_for(tmp_path)
    config = world_config(nats_server.url, dsn)
    stream = outage_stream(time.time() - 100, 30, 20)
    nc = await nats.connect(nats_server.url)
    stats = DetectorStats()
    stop = asyncio.Event()
    try:
        async with await PostgresStore.open(dsn) as store:
            settings = DetectSettings(member="solo", heartbeat_s=0.2, ttl_s=1.0)
            task = asyncio.create_task(
                run_detector(
                    config, nc, store, stop, settings, clock=fixed(stream[0].ts), stats=stats
                )  # type: ignore[arg-type]
            )
            await wait_until(lambda: _true(stats.members == ["solo"]), 20, "membership")
            await publish(nc, stream)
            await wait_until(lambda: _true(stats.acked == len(stream)), 30, "every measurement")
            stop.set()
            detection = await task
            incidents = await store.incidents(IncidentQuery())
            [incident] = incidents
            log = await store.incident_events(incident.id)
        messages = await incident_messages(nc)
        consumer = await nc.jetstream().consumer_info(
            StreamNames().measurements, detector_durable("solo")
        )
    finally:
        await nc.close()
    assert stats.read == stats.fed == len(stream)
    assert incident.confirmed_at is not None
    assert sorted(incident.services) == GOV_SERVICES
    assert [e.kind for e in log][:2] == [EventKind.OPENED, EventKind.CONFIRMED]
    assert [m["kind"] for m in messages] == [e.kind.value for e in log]
    assert {_incident_id(m) for m in messages} == {incident.id}
    assert detection.stats.events == len(log) and detection.stats.not_kept == 0
    assert consumer.num_ack_pending == 0 and consumer.num_pending == 0


async def test_two_detectors_split_the_groups_and_each_incident_is_kept_once(
    nats_server: NATSServerProcess, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    dsn = await postgres_server.database_for(tmp_path)
    config = world_config(nats_server.url, dsn)
    names = ("east", "west")
    shares = [owned_incident_keys(config, names, me) for me in names]
    assert all(s.groups for s in shares), "the names are chosen so each owns a group"
    stream = outage_stream(time.time() - 100, 30, 20, failing=("gov", "news"))
    controls = sum(1 for m in stream if m.target == "control")
    nc = await nats.connect(nats_server.url)
    stop = asyncio.Event()
    stats = [DetectorStats(), DetectorStats()]
    try:
        async with await PostgresStore.open(dsn) as store:
            tasks = [
                asyncio.create_task(
                    run_detector(
                        config,
                        nc,
                        store,
                        stop,
                        DetectSettings(member=name, heartbeat_s=0.2, ttl_s=1.0),
                        clock=fixed(stream[0].ts),
                        stats=stat,
                    )
                )
                for name, stat in zip(names, stats, strict=True)
            ]
            both = sorted(names)
            await wait_until(
                lambda: _true(all(s.members == both for s in stats)), 20, "both detectors"
            )
            everything = [measurement_filter()]
            await wait_until(
                lambda: _true(all(s.filters != everything for s in stats)), 20, "their filters"
            )
            await publish(nc, stream)
            await wait_until(
                lambda: _true(sum(s.acked for s in stats) == len(stream) + controls),
                40,
                "both caught up",
            )
            stop.set()
            detections = await asyncio.gather(*tasks)
            incidents = await store.incidents(IncidentQuery())
        messages = await incident_messages(nc)
    finally:
        await nc.close()
    # Each detector fed its own groups' targets, and both fed the controls; the server
    # delivered each only those: neither decoded the other's share.
    assert sum(s.fed for s in stats) == len(stream) + controls
    assert all(s.read == s.fed < len(stream) for s in stats)
    by_service = {tuple(sorted(i.services)): i for i in incidents}
    assert sorted(by_service) == [tuple(GOV_SERVICES), ("news",)]
    assert len(incidents) == 2
    assert all(i.confirmed_at is not None for i in incidents)
    kept = [d.stats.events for d in detections]
    assert all(k > 0 for k in kept), "each detector kept the incident of its own group"
    assert {_incident_id(m) for m in messages} == {i.id for i in incidents}
    for share, detection in zip(shares, detections, strict=True):
        for inc in detection.open_incidents():
            assert set(inc.services) <= share.services
    # Each detection covered only its share of the targets and the controls: it started
    # alone (everything) and narrowed when the other joined.
    controls = {"control"}
    for share, detection, stat in zip(shares, detections, stats, strict=True):
        covered = {t.name for t in detection.detector.config.targets}
        assert covered == share.targets | controls and stat.targets == sorted(covered)
        assert set(detection.state.paths.targets()) <= covered
        assert stat.rescoped >= 1


async def test_a_batch_is_held_unacked_while_postgres_is_away_then_stored(
    nats_server: NATSServerProcess, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    dsn = await postgres_server.database_for(tmp_path)
    config = world_config(nats_server.url, dsn)
    # Failing long enough that batches lie behind the first one with events, however
    # long detection's lateness (with agents in the config: the longest timeout + 3 s).
    stream = outage_stream(time.time() - 100, 30, 30)
    nc = await nats.connect(nats_server.url)
    stats = DetectorStats()
    stop = asyncio.Event()
    try:
        async with await PostgresStore.open(dsn) as store:
            settings = DetectSettings(
                member="held", heartbeat_s=0.2, ttl_s=1.0, backoff_max_s=0.5, batch_size=100
            )  # batches smaller than the stream, so that some lie behind the held one
            task = asyncio.create_task(
                run_detector(
                    config, nc, store, stop, settings, clock=fixed(stream[0].ts), stats=stats
                )
            )
            await wait_until(lambda: _true(stats.members == ["held"]), 20, "membership")
            await asyncio.to_thread(postgres_server.stop)
            try:
                await publish(nc, stream)
                await wait_until(lambda: _true(stats.read > stats.acked), 30, "a batch read")
                await asyncio.sleep(1.5)  # several tries of the store
                held = stats.read - stats.acked
                read_while_away = stats.read
            finally:
                await asyncio.to_thread(postgres_server.restart)
            await wait_until(lambda: _true(stats.acked == len(stream)), 60, "the held batches")
            stop.set()
            await task
            [incident] = await store.incidents(IncidentQuery())
    finally:
        await nc.close()
    assert held > 0, "a batch whose events the store could not take stayed unacked"
    assert read_while_away < len(stream), "nothing behind the held batch was read"
    assert stats.read == len(stream), "the held batch was not fed twice"
    assert incident.confirmed_at is not None and sorted(incident.services) == GOV_SERVICES


def _detect_process(config_path: Path, log_path: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable, "-m", "netvigil", "detect", "-c", str(config_path),
        "--member", "restartable", "--heartbeat", "0.5", "--duration", "90",
    ]  # fmt: skip
    with log_path.open("ab") as log:
        return subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )


def _write_config(nats_url: str, dsn: str, path: Path) -> None:
    """The world of `world_config` as a netvigil.toml for `netvigil detect`."""
    services = [(s, "gov", "government") for s in GOV_SERVICES]
    services += [("tax-portal", "tax", "government"), ("news", "media", "press")]
    lines = [
        '[vantage]\nname = "local"\ncountry = "AL"\nin_country = true',
        f'[bus]\nkind = "nats"\nurl = "{nats_url}"\nack_wait_s = 5.0',
        f'[store]\nkind = "postgres"\ndsn = "{dsn}"',
        "[detect]\nlateness_s = 1.0",
        *(f'[[networks]]\nname = "{n}"' for n in ("gov", "tax", "media")),
        *(f'[[organizations]]\nname = "{o}"' for o in ("government", "press")),
        *(
            f'[[services]]\nname = "{s}"\nnetwork = "{n}"\norganization = "{o}"'
            for s, n, o in services
        ),
        *(
            f'[[targets]]\nkind = "http"\nname = "{s}-https"\nservice = "{s}"\n'
            f'url = "https://{s}.example/"\ninterval_s = 1.0'
            for s, _, _ in services
        ),
        '[[targets]]\nkind = "tcp"\nname = "control"\ncontrol = true\n'
        'host = "192.0.2.53"\nport = 443\ninterval_s = 1.0',
        *(
            f'[[agents]]\nname = "{v}"\ntoken_sha256 = "{"0" * 64}"\ncountry = "{c}"\n'
            "in_country = false"
            for v, c in (("de", "DE"), ("us", "US"))
        ),
    ]
    path.write_text("\n\n".join(lines) + "\n")


@pytest.mark.slow
async def test_a_detector_killed_and_restarted_resumes_without_doubling_the_incident(
    nats_server: NATSServerProcess, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    dsn = await postgres_server.database_for(tmp_path)
    config_path = tmp_path / "netvigil.toml"
    _write_config(nats_server.url, dsn, config_path)
    log_path = tmp_path / "detect.log"
    nc = await nats.connect(nats_server.url)
    first = _detect_process(config_path, log_path)
    second: subprocess.Popen[bytes] | None = None
    try:
        await wait_until(lambda: _bound(nc, first, log_path), 60, "the detector's consumer")
        start = time.time() + 1.0  # live from here: the detector reads as it comes
        stream = outage_stream(start, 8, 18)
        cut = start + 13  # about four seconds after the onset: confirmed by then
        async with await PostgresStore.open(dsn) as store:

            async def confirmed() -> bool:
                assert first.poll() is None, log_path.read_text()
                rows = await store.incidents(IncidentQuery())
                return any(i.confirmed_at is not None for i in rows)

            async def consuming() -> bool:
                assert first.poll() is None, log_path.read_text()
                try:
                    await nc.jetstream().consumer_info(
                        StreamNames().measurements, detector_durable("restartable")
                    )
                except (nats.js.errors.NotFoundError, nats.errors.NoRespondersError):
                    return False
                return True

            # the detector makes the streams and its consumer as it starts (slow on a busy
            # machine); the measurements begin once it consumes
            await wait_until(consuming, 60, "the first detector's consumer")
            start = time.time() + 1.0
            stream = outage_stream(start, 8, 18)
            cut = start + 13  # about four seconds after the onset: confirmed by then
            await _publish_live(nc, [m for m in stream if m.ts < cut])
            await wait_until(confirmed, 30, "a confirmed incident from the first detector")
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
            await _publish_live(nc, [m for m in stream if m.ts >= cut])
            second = _detect_process(config_path, log_path)
            info = nc.jetstream()

            async def caught_up() -> bool:
                c = await info.consumer_info(
                    StreamNames().measurements, detector_durable("restartable")
                )
                return (
                    c.num_pending == 0
                    and c.num_ack_pending == 0
                    and c.delivered.stream_seq >= len(stream)
                )

            await wait_until(caught_up, 40, "the restarted detector to catch up")
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=30) == 0
            incidents = await store.incidents(IncidentQuery())
        messages = await incident_messages(nc)
    finally:
        await nc.close()
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)
    text = log_path.read_text()
    [incident] = incidents
    assert sorted(incident.services) == GOV_SERVICES and incident.confirmed_at is not None
    assert "1 open incident(s) taken over" in text
    read_after = int(text.rsplit("stopped: ", 1)[1].split(" read")[0])
    after_cut = sum(1 for m in stream if m.ts >= cut)
    assert after_cut <= read_after < len(stream), "the restart resumed, not started over"
    assert {_incident_id(m) for m in messages} == {incident.id}
    kinds = [m["kind"] for m in messages]
    assert kinds.count(EventKind.OPENED.value) == 1 and kinds.count(EventKind.CONFIRMED.value) == 1


async def _bound(nc: Client, proc: subprocess.Popen[bytes], log_path: Path) -> bool:
    """Whether the `netvigil detect` process has bound its durable consumer."""
    assert proc.poll() is None, log_path.read_text()
    try:
        await nc.jetstream().consumer_info(
            StreamNames().measurements, detector_durable("restartable")
        )
    except (nats.errors.Error, TimeoutError):
        return False
    return True


async def _publish_live(nc: Client, measurements: Sequence[Measurement]) -> None:
    """Publish each measurement when wall time reaches its timestamp."""
    for m in measurements:
        delay = m.ts - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
        await publish(nc, [m])


def _incident_id(message: dict[str, object]) -> str:
    incident = message["incident"]
    assert isinstance(incident, dict)
    return str(incident["id"])


async def _true(value: bool) -> bool:
    return value


def test_each_incident_is_kept_by_exactly_one_of_the_live_detectors() -> None:
    config = World(interval=1.0).config()
    members = frozenset({"east", "west", "north"})
    ownerships = []
    for me in sorted(members):
        ownership = EventOwnership(IncidentShare(config, me))
        ownership.assign(members)
        ownerships.append(ownership)
    incidents = [
        Incident("gov", IncidentState.CONFIRMED, 0.0, services=GOV_SERVICES),
        Incident("news", IncidentState.CONFIRMED, 0.0, services=["news"]),
        Incident("tax", IncidentState.SUSPECTED, 0.0, targets=["tax-portal-https"]),
        *(
            Incident(f"vantage-{v}", IncidentState.CONFIRMED, 0.0, vantage=v)
            for v in ("local", "de", "us")
        ),
        Incident("no-labels", IncidentState.SUSPECTED, 0.0),
    ]
    for incident in incidents:
        keepers = [o.share.member for o in ownerships if o.keeps(incident)]
        assert len(keepers) == 1, (incident.id, keepers)
    gov_keeper = next(o for o in ownerships if o.keeps(incidents[0]))
    assert "e-albania-https" in gov_keeper.share.owned.targets
    assert gov_keeper.owns_target("control") and all(o.owns_target("control") for o in ownerships)

"""`netvigil detect -c netvigil.toml`: live detection as a process of its own, on the NATS bus.

Reads `[bus]` (NATS url and credentials), `[store]` (PostgreSQL in a scale-out) and
`[detect]` of the config. The detector reads the measurements stream with a durable
consumer of its own (`netvigil-detect-<member>`), feeds the detector as `netvigil run`
does, stores the incidents and their events, and publishes each event on
`netvigil.incidents.<id>`. Several `netvigil detect` with different `--member` names
share the incident groups (membership role `detector`); a restarted one (same
`--member`) resumes where its consumer was. SIGINT/SIGTERM: the buffered measurements
are processed and the events written before it exits.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Annotated

import typer

from netvigil.bus import connect
from netvigil.cli._bus import DurationOption
from netvigil.cli._common import (
    DBOption,
    DetectionLogLevelOption,
    LogLevel,
    required_config,
    store_path,
)
from netvigil.cli._loop import run_async
from netvigil.cluster import DEFAULT_HEARTBEAT_S, DetectorStats, DetectSettings, run_detector
from netvigil.config import Config, load_config
from netvigil.shutdown import stop_event
from netvigil.store.open import open_store

__all__ = ["detect"]

log = logging.getLogger("netvigil.detect")


def detect(
    config_path: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="netvigil.toml with [bus] and [store]."),
    ] = None,
    db: DBOption = None,
    member: Annotated[
        str,
        typer.Option(help="This detector's name among the detectors (keep it across restarts)."),
    ] = "detector",
    heartbeat: Annotated[
        float, typer.Option(min=0.05, max=60, help="Seconds between membership heartbeats.")
    ] = DEFAULT_HEARTBEAT_S,
    member_ttl: Annotated[
        float | None,
        typer.Option(
            min=0.1,
            max=600,
            help="Seconds of silence after which a detector counts as gone, if this one "
            "makes the members bucket (default: three heartbeats).",
            show_default=False,
        ),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, max=10_000, help="Measurements fetched at once.")
    ] = 500,
    duration: DurationOption = None,
    log_level: DetectionLogLevelOption = LogLevel.INFO,
) -> None:
    """Detect incidents in the measurements on the NATS bus; store and publish their events."""
    found = required_config(config_path)
    config = load_config(found)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", member):
        raise typer.BadParameter(f"{member!r} is not a member name", param_hint="--member")
    ttl_s = member_ttl if member_ttl is not None else 3 * heartbeat
    if heartbeat * 2 > ttl_s:
        raise typer.BadParameter(
            f"must be at least twice --heartbeat ({heartbeat:g} s)", param_hint="--member-ttl"
        )
    settings = DetectSettings(
        member=member, heartbeat_s=heartbeat, ttl_s=ttl_s, batch_size=batch_size
    )
    log_level.configure()
    _warn_if_handover_comes_late(config, heartbeat, ttl_s)
    run_async(_detect(config, store_path(found, config, db), settings, duration))


def _warn_if_handover_comes_late(config: Config, heartbeat_s: float, ttl_s: float) -> None:
    """A killed detector's shards go to the others up to `ttl_s + heartbeat_s` after its
    death; what they read again of those seconds counts only within the detection
    lateness (docs/scale-out.md, "Limits")."""
    gap_s, lateness_s = ttl_s + heartbeat_s, config.detection_lateness_s
    if gap_s > lateness_s:
        log.warning(
            "--member-ttl %g s and --heartbeat %g s exceed detection's lateness (%g s): when "
            "a detector is killed, up to %g s of its shards' measurements reach the others "
            "too late to count; lower --member-ttl or raise [detect] lateness_s",
            ttl_s,
            heartbeat_s,
            lateness_s,
            gap_s - lateness_s,
        )


async def _detect(
    config: Config, path: Path, settings: DetectSettings, duration: float | None
) -> None:
    stop = stop_event(duration)
    stats = DetectorStats()
    nc = await connect(config.bus, name=f"netvigil detect {settings.member}")
    try:
        async with await open_store(config.store, path=path) as store:
            detection = await run_detector(config, nc, store, stop, settings, stats=stats)
        log.info(
            "detector %s stopped: %d read, %d fed, %d event(s) (%d kept by others), "
            "%d open incident(s)",
            settings.member,
            stats.read,
            stats.fed,
            detection.stats.events,
            detection.stats.not_kept,
            len(detection.open_incidents()),
        )
    finally:
        await nc.close()

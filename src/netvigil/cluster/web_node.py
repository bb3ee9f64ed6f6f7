"""The web role: the API, dashboard and status page served from a shared store, fed live
by the incidents stream.

    stats = WebStats()
    await run_web(config, nc, store, stop, WebSettings(host="0.0.0.0", port=8080), stats=stats)

A web process neither probes, detects nor takes measurements in (its ingest route
answers 503). What it shows comes from two places:

- the store (`[store]`, PostgreSQL in a scale-out): on start the newest results and the
  open incidents, and then every `poll_s` the measurements stored since (the
  collectors write them), which drive the targets' up/down state;
- the incidents stream: an ordered consumer of its own (`IncidentFollower`) delivers
  every incident event from the stream position read *before* the store was, so no
  event falls between the two; an event the store already reflected is applied again,
  which changes nothing once the later events have followed in order. Each event
  updates the open incidents and goes out on the SSE stream (`/api/v1/stream`).

Each web process has its own consumer, so any number of them each show every event.

Maintenance mutes set or lifted through any web's admin API are announced on the mutes
bucket (`netvigil.cluster.mute_sync`) and applied by every web as they come: the mute
listing, the status page and the live state show them at once. The feed is opened
before the app reads the store's mutes, so no change falls between the two.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

import nats.errors
from fastapi import FastAPI
from nats.aio.client import Client
from nats.js.errors import NotFoundError

from netvigil.bus import StreamNames, ensure_streams
from netvigil.bus.incident_reader import IncidentFollower, stream_position
from netvigil.cluster.membership import ClusterError
from netvigil.cluster.mute_sync import MuteFeed
from netvigil.config.model import Config
from netvigil.errors import NetvigilError
from netvigil.metrics import Metrics
from netvigil.notify.webhook import redact_url
from netvigil.store.open import OpenedStore, store_name
from netvigil.web.app import create_app
from netvigil.web.connections import ConnectionLimits
from netvigil.web.server import WebServer
from netvigil.web.state import LiveState

__all__ = ["WebSettings", "WebStats", "run_web"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class WebSettings:
    """Where a web process listens and how often it reads the store."""

    host: str = "127.0.0.1"
    port: int = 8080
    poll_s: float = 2.0
    """How often the measurements stored since the last read are pulled."""
    idle_heartbeat_s: float = 2.0
    """How often the server tells the incidents follower it is there while idle."""


@dataclass(slots=True)
class WebStats:
    """What a web process has done; `url` is set once it serves."""

    url: str | None = None
    start_seq: int = 0
    """The first incidents-stream sequence it follows."""
    events: int = 0
    """Incident events taken from the stream."""
    open_at_start: int = 0
    """Open incidents loaded from the store on start."""
    mute_changes: int = 0
    """Mutes set or lifted elsewhere (or here) applied from the mutes bucket."""


async def run_web(
    config: Config,
    nc: Client,
    store: OpenedStore,
    stop: asyncio.Event,
    settings: WebSettings,
    *,
    stats: WebStats | None = None,
    on_app: Callable[[FastAPI], object] | None = None,
) -> WebStats:
    """Serve until `stop` is set; `on_app(app)` is called with the app before it serves
    (to wire a config reload). Raises ClusterError when the incidents stream or the mutes
    bucket cannot be followed, NetvigilError when the address cannot be listened on,
    StoreError when the store cannot be read."""
    stats = stats if stats is not None else WebStats()
    stream, url = config.bus.incidents_stream, redact_url(config.bus.url)
    js = nc.jetstream()
    try:
        await _ensure_incidents_stream(config, nc)
        start_seq = await stream_position(js, stream) + 1
    except (nats.errors.Error, OSError, TimeoutError, NetvigilError) as exc:
        raise ClusterError(f"{url}: cannot read the stream {stream}: {exc}") from exc
    state = LiveState(config)
    await state.sync(store)  # the newest results and the open incidents, as of now
    stats.open_at_start = len(state.open_incidents())
    follower = IncidentFollower(
        js, stream, state.events, start_seq=start_seq, idle_heartbeat_s=settings.idle_heartbeat_s
    )
    state.follow_events()
    try:
        await follower.start()
    except NetvigilError as exc:
        raise ClusterError(f"{url}: {exc}") from exc
    stats.start_seq = start_seq
    metrics = Metrics()
    metrics.track_store(store.figures)
    mutes: MuteFeed | None = None
    try:
        mutes = await MuteFeed.open(js)  # before the app reads the store's mutes
        app = create_app(store, config, metrics, state=state, poll_s=settings.poll_s, ingest=False)
        mutes.follow(state)
        app.state.mute_feed = mutes
        if on_app is not None:
            on_app(app)
        server = await _listen(app, settings, ConnectionLimits.from_config(config))
        stats.url = server.url
        log.info(
            "serving %s from %s; following %s from sequence %d (%d open incident(s))",
            server.url,
            store_name(store),
            stream,
            start_seq,
            stats.open_at_start,
        )
        try:
            while not stop.is_set():
                stats.events = follower.received
                stats.mute_changes = mutes.applied
                await _wait(stop, 1.0)
        finally:
            await server.stop()
    finally:
        if mutes is not None:
            await mutes.close()
            stats.mute_changes = mutes.applied
        await follower.stop()
        stats.events = follower.received
    return stats


async def _ensure_incidents_stream(config: Config, nc: Client) -> None:
    """Make the streams when the incidents stream is not there yet (a web started before
    any detector); an existing stream is left as it is."""
    bus = config.bus
    js = nc.jetstream()
    try:
        await js.stream_info(bus.incidents_stream)
    except NotFoundError:
        names = StreamNames(bus.measurements_stream, bus.incidents_stream, bus.dead_letter_stream)
        await ensure_streams(
            js,
            names,
            duplicate_window_s=bus.duplicate_window_s,
            max_age_s=bus.max_age_days * 86_400.0,
        )


async def _listen(app: FastAPI, settings: WebSettings, limits: ConnectionLimits) -> WebServer:
    try:
        return await WebServer.start(app, host=settings.host, port=settings.port, limits=limits)
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise NetvigilError(
            f"cannot listen on {settings.host}:{settings.port}: {reason} (choose another with "
            "--listen)"
        ) from exc


async def _wait(stop: asyncio.Event, timeout_s: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout_s)

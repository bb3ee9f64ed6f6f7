"""`netvigil run -c netvigil.toml`: monitor continuously, store, detect, alert, and serve the API.

Every measurement (this vantage's, and remote agents' through the ingest API) goes to
the store, the terminal view, live detection and the web's live state; incident events
are stored, logged, shown on the web and handed to the alert dispatcher built from the
config's `[[notify]]` sections. Targets muted for maintenance (kept in the store's admin
tables, set through the admin API) are passed to detection, which keeps their incidents
quiet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from netvigil.bgp.exposition import bgp_exposition
from netvigil.bgp.feed import BgpFeed
from netvigil.bgp.memory import RecentSignals
from netvigil.cli._common import (
    DBOption,
    DetectionLogLevelOption,
    LogLevel,
    host_port,
    required_config,
    store_path,
)
from netvigil.cli._live import IncidentLog, LatestState, log_progress, show_live
from netvigil.cli._loop import run_async
from netvigil.cli._reload import ConfigReloader
from netvigil.config import Config, load_config
from netvigil.errors import NetvigilError
from netvigil.metrics import Metrics
from netvigil.monitor import MeasurementSink, Monitor
from netvigil.pipeline.block_signals import BlockSignals, watched_blocks
from netvigil.pipeline.certificates import CertificateWatch
from netvigil.pipeline.detection import EventSink, LiveDetection
from netvigil.pipeline.signal_record import SignalRecorder
from netvigil.pipeline.signals import NetworkSignals, build_signal_sink
from netvigil.pipeline.tee import TeeStore
from netvigil.pipeline.worker import settle_collector
from netvigil.probe_metrics import ProbeMetrics
from netvigil.probes import ProbeSet
from netvigil.shutdown import stop_event
from netvigil.signal import SignalFanout, SignalSink
from netvigil.state.current import CurrentState, StatePolicy
from netvigil.store.open import OpenedStore, open_store, store_name
from netvigil.web.api.bgp import bgp_router
from netvigil.web.app import create_app, reconfigure
from netvigil.web.connections import ConnectionLimits
from netvigil.web.server import WebServer
from netvigil.web.state import LiveState

if TYPE_CHECKING:
    from fastapi import FastAPI

    from netvigil.notify import AlertDispatcher

log = logging.getLogger("netvigil.run")

Reconfigurable = LiveDetection | CertificateWatch | BgpFeed | NetworkSignals
"""What a config reload hands the new config to (`reconfigure(config)`)."""


def run(
    config_path: Annotated[
        Path | None,
        typer.Option(
            "--config",
            "-c",
            help="netvigil.toml to run (default: ./netvigil.toml).",
            show_default=False,
        ),
    ] = None,
    db: DBOption = None,
    listen: Annotated[
        str | None,
        typer.Option(help="Serve the API on HOST:PORT (default: the config's [server] listen)."),
    ] = None,
    no_web: Annotated[bool, typer.Option("--no-web", help="Do not start the web server.")] = False,
    duration: Annotated[
        float | None,
        typer.Option(min=1, help="Stop after this many seconds (default: until Ctrl-C)."),
    ] = None,
    live: Annotated[
        bool | None,
        typer.Option(
            "--live/--plain", help="Live table (default on a terminal) or plain log lines."
        ),
    ] = None,
    log_level: DetectionLogLevelOption = LogLevel.INFO,
) -> None:
    """Probe the config's targets continuously: store, detect incidents, alert, serve the API."""
    config_path = required_config(config_path)
    config = load_config(config_path)
    path = store_path(config_path, config, db)
    if live is None:
        live = sys.stdout.isatty()
    log_level.configure()
    host, port = config.server.host, config.server.port
    if listen is not None:
        host, port = host_port(listen)
    web = config.server.enabled and not no_web
    alerts: AlertDispatcher | None = None
    if config.notify:
        from netvigil.notify import AlertDispatcher  # only when alerts are configured

        alerts = AlertDispatcher.from_config(config)  # a missing secret fails here, early
    run_async(
        _serve(config, path, host if web else None, port, duration, live, alerts, config_path)
    )


async def _serve(
    config: Config,
    path: Path,
    host: str | None,
    port: int,
    duration: float | None,
    live: bool,
    alerts: AlertDispatcher | None,
    config_file: Path | None = None,
) -> None:
    stop = stop_event(duration)
    metrics = Metrics()
    current = CurrentState(
        config,
        StatePolicy(
            silent_intervals=config.detect.silent_intervals,
            silent_min_s=config.detect.silent_min_s,
        ),
    )
    state = LatestState(current)
    web_state = (
        LiveState(config, current=current, lag_s=config.detection_lateness_s)
        if host is not None
        else None
    )
    sinks: list[EventSink] = [IncidentLog()]
    if alerts is not None:
        sinks.append(alerts)
    if web_state is not None:
        sinks.append(web_state.events)
    async with await open_store(config.store, path=path) as store:
        metrics.track_store(store.figures)
        detection = LiveDetection(
            config,
            store,
            sinks=sinks,
            lateness_s=config.detection_lateness_s,
            state=current,
            threaded=True,
        )
        metrics.track_detection(detection.figures)
        if web_state is None:
            current.set_mutes(await store.mutes())
        # else: create_app loads the stored mutes into the web state, whose current state
        # detection shares, and the admin API sets and lifts them there.
        await detection.start()
        certificates = CertificateWatch(config, [alerts] if alerts is not None else [])
        probe_metrics = ProbeMetrics.from_config(config)
        metrics.track_exposition(probe_metrics.render)
        feeds: list[MeasurementSink] = [state, detection, certificates, probe_metrics]
        if web_state is not None:
            await web_state.sync(store)  # the newest results and open incidents so far
            feeds.append(web_state)
        if alerts is not None:
            await alerts.start()
            log.info("alerts go to %s", ", ".join(n.name for n in alerts.notifiers))
        parts = _Parts(config, metrics, store, feeds, detection, certificates, current, web_state)
        try:
            await _probe_and_serve(parts, host, port, stop, live, state, config_file)
        finally:
            await detection.stop()
            state.log_changes()  # the paths the last of the measurements turned down or up
            if alerts is not None:
                await alerts.stop(drain_timeout_s=5.0)
        log.info(
            "stopped after %d checks (%d open incident(s)); flushing the store",
            state.checks,
            len(detection.open_incidents()),
        )


@dataclass(frozen=True, slots=True)
class _Parts:
    """What `netvigil run` is made of, once the store is open and detection runs."""

    config: Config
    metrics: Metrics
    store: OpenedStore
    feeds: list[MeasurementSink]
    detection: LiveDetection
    certificates: CertificateWatch
    current: CurrentState
    web_state: LiveState | None


async def _probe_and_serve(
    parts: _Parts,
    host: str | None,
    port: int,
    stop: asyncio.Event,
    live: bool,
    state: LatestState,
    config_file: Path | None,
) -> None:
    """Probe, serve the web (when `host`), show progress and reload on demand until `stop`."""
    config, detection = parts.config, parts.detection
    bgp = BgpFeed.from_config(config, base=config_file.parent if config_file else Path())
    signals = RecentSignals()  # what the API shows of the BGP feeds
    # What the network charts show after a restart: the signals, kept in the store.
    recorder = SignalRecorder(parts.store, views=bgp.network_visibility if bgp else None)
    plane_sinks: list[SignalSink] = [signals, recorder]
    plane: NetworkSignals | None = None  # what detection and attribution judge
    blocks = watched_blocks(config.targets)
    if bgp is not None:
        parts.metrics.track_exposition(partial(bgp_exposition, bgp))
    if bgp is not None or blocks:
        plane = build_signal_sink(config, detection, blocks=blocks)
        plane_sinks.append(plane)
    feeds = [*parts.feeds, BlockSignals(config.targets, SignalFanout(plane_sinks))]
    async with ProbeSet() as probes:
        monitor = Monitor(
            config.targets,
            probes,
            [parts.store, *feeds],
            config.vantage.name,
            config.scheduler,
            parts.metrics,
        )
        detection.follow_local(config.vantage.name, monitor.scheduler.watermark)
        server: WebServer | None = None
        app: FastAPI | None = None
        if host is not None:
            ingested = TeeStore(parts.store, feeds)  # agents' batches reach them too
            routers = [bgp_router(bgp, signals)] if bgp is not None else []
            app = create_app(
                ingested,
                config,
                parts.metrics,
                state=parts.web_state,
                routers=routers,
                on_mark=detection.mark,  # after the batch, which the tee handed on
            )
            server = await _start_web(app, host, port, ConnectionLimits.from_config(config))
            log.info("serving the API on %s/api/v1 (store %s)", server.url, store_name(parts.store))
        watchers: list[Reconfigurable] = [detection, parts.certificates]
        watchers += [w for w in (bgp, plane) if w is not None]  # the networks watched
        reloader = _reloader(config_file, config, monitor, watchers, parts.current, app)
        settle_collector()  # start-up is done (see its docstring)
        view = (
            show_live(state, config, monitor, stop, detection)
            if live
            else log_progress(state, monitor, stop, detection=detection)
        )
        try:
            await asyncio.gather(
                monitor.run(stop),
                view,
                _run_bgp(bgp, SignalFanout(plane_sinks), stop),
                _tick_signals(plane, stop),
                recorder.run(stop),
            )
        finally:
            if reloader is not None:
                asyncio.get_running_loop().remove_signal_handler(signal.SIGHUP)
            if server is not None:
                await server.stop()


async def _run_bgp(feed: BgpFeed | None, sink: SignalSink, stop: asyncio.Event) -> None:
    """Run the config's [[bgp]] feeds (when it has any) into `sink` until `stop`."""
    if feed is None:
        return
    log.info("BGP feeds: %s", ", ".join(f"{s.label} ({s.kind})" for s in feed.sections))
    runner = asyncio.create_task(feed.run(sink), name="netvigil-bgp")
    await stop.wait()
    feed.stop()
    await runner


async def _tick_signals(plane: NetworkSignals | None, stop: asyncio.Event) -> None:
    """Let the network plane confirm its incidents while samples are sparse."""
    while plane is not None and not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=1.0)
        await asyncio.to_thread(plane.tick, time.time())


def _reloader(
    config_file: Path | None,
    config: Config,
    monitor: Monitor,
    watchers: list[Reconfigurable],
    current: CurrentState,
    app: FastAPI | None,
) -> ConfigReloader | None:
    """Reload the config on SIGHUP and through the admin API (`POST /admin/reload`)."""
    if config_file is None:
        return None

    def apply(new: Config) -> None:
        monitor.set_targets(new.targets)
        for watcher in watchers:
            watcher.reconfigure(new)
        if app is not None:
            reconfigure(app, new)
        else:
            with current.lock:
                current.configure(new)

    reloader = ConfigReloader(config_file, config, apply)
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(
        signal.SIGHUP, lambda: loop.create_task(reloader.reload("SIGHUP"), name="netvigil-reload")
    )
    if app is not None:
        app.state.reload = reloader.reload
    return reloader


async def _start_web(app: FastAPI, host: str, port: int, limits: ConnectionLimits) -> WebServer:
    """Serve `app` on `host`:`port`; NetvigilError in one line when it cannot listen there."""
    try:
        return await WebServer.start(app, host=host, port=port, limits=limits)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise NetvigilError(
            f"cannot listen on {host}:{port}: {reason.lower()}"
            " (choose another with --listen, or [server] listen in the config)"
        ) from exc

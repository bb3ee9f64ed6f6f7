"""`netvigil web -c netvigil.toml`: serve the API, dashboard and status page, nothing else.

A process of the scale-out mode: the same web app as `netvigil run`, reading the
config's store (`[store]`, PostgreSQL) and following the incidents stream on NATS
(`[bus]`, or `--nats`) for its live view (`netvigil.cluster.web_node`). It does not
probe, detect or take measurements in (`POST /api/v1/ingest` answers 503). Run as
many as you like behind a load balancer: each follows the stream with a consumer of its
own and shows every event. SIGHUP reloads the config as `netvigil run` does (targets,
services, networks: what the web shows); SIGINT/SIGTERM stop it.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path
from typing import Annotated

import typer
from fastapi import FastAPI

from netvigil.cli._bus import DurationOption, IncidentsNatsOption, bus_at, reach_nats
from netvigil.cli._common import (
    DBOption,
    LogLevel,
    LogLevelOption,
    StoreOpener,
    host_port,
    reading_store,
    required_config,
)
from netvigil.cli._loop import run_async
from netvigil.cli._reload import ConfigReloader
from netvigil.cluster.web_node import WebSettings, WebStats, run_web
from netvigil.config import Config, load_config
from netvigil.shutdown import stop_event
from netvigil.web.app import reconfigure

__all__ = ["web"]

log = logging.getLogger("netvigil.web")


def web(
    config_path: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="netvigil.toml naming the store and the NATS bus."),
    ] = None,
    db: DBOption = None,
    listen: Annotated[
        str | None,
        typer.Option(help="Serve on HOST:PORT (default: the server listen address of the config)."),
    ] = None,
    nats_url: IncidentsNatsOption = None,
    poll: Annotated[
        float,
        typer.Option(min=0.1, max=300, help="Seconds between reads of new measurements."),
    ] = 2.0,
    duration: DurationOption = None,
    log_level: LogLevelOption = LogLevel.INFO,
) -> None:
    """Serve the API, dashboard and status page from the store, live from the NATS bus."""
    found = required_config(config_path)
    config = load_config(found)
    host, port = config.server.host, config.server.port
    if listen is not None:
        host, port = host_port(listen)
    if nats_url is not None:
        config = config.model_copy(update={"bus": bus_at(config, nats_url)})
    opener = reading_store(found, config, db)  # StoreError now when a store file is missing
    log_level.configure()
    settings = WebSettings(host=host, port=port, poll_s=poll)
    run_async(_web(found, config, opener, settings, duration))


async def _web(
    config_file: Path,
    config: Config,
    opener: StoreOpener,
    settings: WebSettings,
    duration: float | None,
) -> None:
    stop = stop_event(duration)
    nc = await reach_nats(config, name="netvigil web")
    stats = WebStats()
    loop = asyncio.get_running_loop()

    def reload_on_sighup(app: FastAPI) -> None:
        """Reload the config on SIGHUP and `POST /api/v1/admin/reload`, as `run` does."""
        reloader = ConfigReloader(config_file, config, lambda new: reconfigure(app, new))
        app.state.reload = reloader.reload
        loop.add_signal_handler(
            signal.SIGHUP,
            lambda: loop.create_task(reloader.reload("SIGHUP"), name="netvigil-reload"),
        )

    try:
        async with await opener.open() as store:
            await run_web(config, nc, store, stop, settings, stats=stats, on_app=reload_on_sighup)
        log.info("web stopped: %d incident event(s) followed", stats.events)
    finally:
        loop.remove_signal_handler(signal.SIGHUP)
        await nc.close()

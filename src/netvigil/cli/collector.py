"""`netvigil collector -c netvigil.toml`: store what agents published on the NATS bus.

Reads `[bus]` (url, credentials, stream and consumer names) and `[store]` of the config;
sets the streams and the durable consumer up (idempotent), then fetches batches and
writes them to the store, acking each batch once stored. Several collectors with the
same consumer name share the work. SIGINT/SIGTERM: the batch in hand is finished.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import nats.errors
import typer
from prometheus_client import CollectorRegistry, start_http_server

from netvigil.bus import (
    Collector,
    CollectorStats,
    MeasurementConsumer,
    StreamNames,
    connect,
    ensure_consumer,
    ensure_streams,
    track_collector,
)
from netvigil.bus.collector import relax_gc
from netvigil.cli._bus import DurationOption
from netvigil.cli._common import DBOption, LogLevel, LogLevelOption, required_config, store_path
from netvigil.cli._loop import run_async
from netvigil.config import Config, load_config
from netvigil.errors import NetvigilError
from netvigil.shutdown import stop_event
from netvigil.store.open import open_store

log = logging.getLogger(__name__)


class CollectorError(NetvigilError):
    """The collector could not start (NATS unreachable, streams not set up)."""


def collector(
    config_path: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="netvigil.toml with [bus] and [store]."),
    ] = None,
    db: DBOption = None,
    consumer: Annotated[
        str | None,
        typer.Option(help="Durable consumer name (default: [bus] consumer)."),
    ] = None,
    batch_size: Annotated[
        int, typer.Option(min=1, max=10_000, help="Messages fetched and stored at once.")
    ] = 500,
    fetch_wait: Annotated[
        float, typer.Option(min=0.05, max=60, help="Seconds a fetch waits for messages.")
    ] = 1.0,
    metrics_listen: Annotated[
        str | None,
        typer.Option(help="Serve Prometheus metrics on HOST:PORT (default: none)."),
    ] = None,
    duration: DurationOption = None,
    log_level: LogLevelOption = LogLevel.INFO,
) -> None:
    """Write the measurements agents publish on the NATS bus to the store."""
    found = required_config(config_path)
    config = load_config(found)
    path = store_path(found, config, db)
    registry = CollectorRegistry(auto_describe=True)
    stats = CollectorStats()
    track_collector(registry, stats)
    if metrics_listen is not None:
        host, _, port = metrics_listen.rpartition(":")
        if not port.isdigit():
            raise typer.BadParameter(
                f"{metrics_listen!r} is not HOST:PORT", param_hint="--metrics-listen"
            )
        start_http_server(int(port), addr=host.strip("[]") or "127.0.0.1", registry=registry)
    log_level.configure()
    run_async(_collect(config, path, consumer, batch_size, fetch_wait, stats, duration))


async def _collect(
    config: Config,
    path: Path,
    consumer_name: str | None,
    batch_size: int,
    fetch_wait_s: float,
    stats: CollectorStats,
    duration: float | None,
) -> None:
    bus = config.bus
    stop = stop_event(duration)
    durable = consumer_name or bus.consumer
    nc = await connect(bus, name=f"netvigil collector {durable}")
    try:
        js = nc.jetstream()
        names = StreamNames(bus.measurements_stream, bus.incidents_stream, bus.dead_letter_stream)
        try:
            await ensure_streams(
                js,
                names,
                duplicate_window_s=bus.duplicate_window_s,
                max_age_s=bus.max_age_days * 86_400.0,
            )
            await ensure_consumer(js, bus.measurements_stream, durable, ack_wait_s=bus.ack_wait_s)
            consumer = await MeasurementConsumer.bind(
                nc,
                bus,
                durable=durable,
                batch_size=batch_size,
                fetch_wait_s=fetch_wait_s,
                stats=stats,
            )
        except (TimeoutError, OSError, nats.errors.Error) as exc:
            raise CollectorError(f"{bus.url}: cannot set up the streams: {exc!r}") from exc
        async with await open_store(config.store, path=path) as store:
            where = "PostgreSQL" if config.store.kind == "postgres" else path
            log.info("collecting %s/%s into %s", bus.measurements_stream, durable, where)
            relax_gc()
            await Collector(consumer, store, keep_alive_s=bus.ack_wait_s / 2).run(stop)
        log.info(
            "collector stopped: %d acked (%d new), %d set aside",
            stats.acked,
            stats.stored,
            sum(stats.rejected.values()),
        )
    finally:
        await nc.close()

"""A remote agent that publishes to the NATS bus (`[bus] kind = "nats"`) instead of HTTP.

    stats = await run_bus_agent(config, stop, spool_path="spool.db")

The agent measures under `config.vantage.name` and publishes each measurement on
`netvigil.measurements.<shard>.<vantage>` with the credentials of `[bus]`. While NATS cannot be
reached the measurements wait in the spool file (the same file format as the HTTP
agent's), and are published, oldest first, once it is back. Stopping: the probes in
flight finish, the publisher tries for `drain_timeout_s` to deliver the rest, and what is
left waits in the spool for the next start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from pathlib import Path

from netvigil.agent.runner import probe_into
from netvigil.agent.spool import Spool
from netvigil.bus import MeasurementPublisher, PublisherStats, TargetShards
from netvigil.config.model import Config
from netvigil.metrics import Metrics
from netvigil.monitor import MeasurementSink
from netvigil.scheduler import ProbeLike

__all__ = ["run_bus_agent"]

log = logging.getLogger(__name__)


async def run_bus_agent(
    config: Config,
    stop: asyncio.Event,
    *,
    spool_path: str | Path,
    metrics: Metrics | None = None,
    max_spool_rows: int = 1_000_000,
    drain_timeout_s: float = 5.0,
    extra_sinks: Sequence[MeasurementSink] = (),
    probes: ProbeLike | None = None,
) -> PublisherStats:
    """Run the agent until `stop` is set; returns what the publisher did. Raises StoreError."""
    spool = await Spool.open(spool_path, max_rows=max_spool_rows)
    publisher = MeasurementPublisher(
        config.bus,
        config.vantage.name,
        spool,
        TargetShards(config),
        registry=metrics.registry if metrics is not None else None,
    )
    log.info(
        "agent %s: %d target(s), publishing to %s, spool %s (%d waiting)",
        config.vantage.name,
        len(config.targets),
        config.bus.url,
        spool.path,
        spool.depth,
    )
    publish_stop = asyncio.Event()
    publish_task = asyncio.create_task(
        publisher.run(publish_stop, drain_timeout_s=drain_timeout_s), name="agent-publisher"
    )
    try:
        sinks: list[MeasurementSink] = [publisher, *extra_sinks]
        await probe_into(config, sinks, stop, metrics, probes)
    finally:
        publish_stop.set()
        try:
            await publish_task
        finally:
            await spool.close()
    log.info(
        "agent %s stopped: %d published, %d duplicate, %d waiting in the spool",
        config.vantage.name,
        publisher.stats.published,
        publisher.stats.duplicates,
        spool.depth,
    )
    return publisher.stats

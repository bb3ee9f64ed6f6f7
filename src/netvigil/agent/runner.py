"""A remote agent: probe the config's targets, spool the results, ship them to a server.

    stats = await run_agent(config, "http://server:8080", token, stop, spool_path="spool.db")

The agent measures under its own vantage name (`config.vantage.name`, which must match
an `[[agents]]` entry on the server holding the hash of `token`). Every measurement goes
first to the local spool, so nothing is lost while the server or the path to it is
down; the shipper delivers the backlog, oldest first, once it is back, with the
scheduler's mark (`Shipper.follow`), so the server's detection need not wait for
stragglers.

Stopping (`stop` set): the monitor finishes the probes in flight, the spool writes what
it holds, the shipper tries for `drain_timeout_s` to deliver the rest, and whatever is
left waits in the spool file for the next start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from netvigil.agent.ship import Shipper, ShipStats
from netvigil.agent.spool import Spool
from netvigil.config.model import Config
from netvigil.metrics import Metrics
from netvigil.monitor import MeasurementSink, Monitor
from netvigil.probes import ProbeSet
from netvigil.scheduler import ProbeLike, Scheduler

__all__ = ["probe_into", "run_agent"]

log = logging.getLogger(__name__)


async def run_agent(
    config: Config,
    server_url: str,
    token: str,
    stop: asyncio.Event,
    *,
    spool_path: str | Path,
    metrics: Metrics | None = None,
    batch_size: int = 500,
    poll_s: float = 1.0,
    max_spool_rows: int = 1_000_000,
    drain_timeout_s: float = 5.0,
    extra_sinks: Sequence[MeasurementSink] = (),
    probes: ProbeLike | None = None,
) -> ShipStats:
    """Run the agent until `stop` is set; returns what the shipper did. Raises StoreError.

    `extra_sinks` also receive every measurement (a local copy, a test's recorder);
    `probes` replaces the real probe set (default: `ProbeSet()`).
    """
    spool = await Spool.open(spool_path, max_rows=max_spool_rows)
    shipper = Shipper(
        spool,
        server_url,
        token,
        config.vantage.name,
        batch_size=batch_size,
        poll_s=poll_s,
        metrics=metrics,
    )
    log.info(
        "agent %s: %d target(s), shipping to %s, spool %s (%d waiting)",
        config.vantage.name,
        len(config.targets),
        shipper.url,
        spool.path,
        spool.depth,
    )
    ship_stop = asyncio.Event()
    ship_task = asyncio.create_task(
        shipper.run(ship_stop, drain_timeout_s=drain_timeout_s), name="agent-shipper"
    )
    try:
        sinks: list[MeasurementSink] = [spool, *extra_sinks]
        await probe_into(config, sinks, stop, metrics, probes, on_start=shipper.follow)
        await spool.flush()
    finally:
        ship_stop.set()
        try:
            await ship_task
        finally:
            await spool.close()
    log.info(
        "agent %s stopped: %d shipped, %d rejected, %d waiting in the spool",
        config.vantage.name,
        shipper.stats.shipped,
        shipper.stats.rejected,
        spool.depth,
    )
    return shipper.stats


async def probe_into(
    config: Config,
    sinks: Sequence[MeasurementSink],
    stop: asyncio.Event,
    metrics: Metrics | None,
    probes: ProbeLike | None = None,
    *,
    on_start: Callable[[Scheduler], object] | None = None,
) -> None:
    """Probe `config`'s targets as its vantage into `sinks` until `stop` (with `probes`,
    else a fresh `ProbeSet`): the probing half of every agent, whatever it ships with.
    `on_start` is given the scheduler before it runs."""
    if probes is not None:
        await _monitor(config, probes, sinks, stop, metrics, on_start)
        return
    async with ProbeSet() as probe_set:
        await _monitor(config, probe_set, sinks, stop, metrics, on_start)


async def _monitor(
    config: Config,
    probes: ProbeLike,
    sinks: Sequence[MeasurementSink],
    stop: asyncio.Event,
    metrics: Metrics | None,
    on_start: Callable[[Scheduler], object] | None,
) -> None:
    monitor = Monitor(config.targets, probes, sinks, config.vantage.name, config.scheduler, metrics)
    if on_start is not None:
        on_start(monitor.scheduler)
    await monitor.run(stop)

"""`netvigil notify -c netvigil.toml`: send the alerts of the incident events on the bus.

A process of the scale-out mode (`netvigil.cluster.alerter`): it reads the incidents
stream through the durable consumer the alerters share (`--consumer`, default
`netvigil-notify`), so each event is handled by one of them, and sends through the
config's `[[notify]]` sections with the policies of `netvigil run`. Run two or more for
availability: a message an alerter does not finish goes to another after `--ack-wait`
seconds. SIGINT/SIGTERM stop it (held alerts are left to the others).
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Annotated

import typer

from netvigil.cli._bus import DurationOption, IncidentsNatsOption, bus_at, reach_nats
from netvigil.cli._common import LogLevel, LogLevelOption, required_config
from netvigil.cli._loop import run_async
from netvigil.cluster.alerter import NOTIFY_DURABLE, AlerterSettings, run_alerter
from netvigil.cluster.shared_alerts import AlerterStats, alert_routes
from netvigil.config import Config, load_config
from netvigil.errors import ConfigError
from netvigil.notify.route import Route
from netvigil.shutdown import stop_event

__all__ = ["notify"]

log = logging.getLogger("netvigil.notify")


def notify(
    config_path: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="netvigil.toml with the notify sections and bus."),
    ] = None,
    nats_url: IncidentsNatsOption = None,
    consumer: Annotated[
        str,
        typer.Option(help="The durable consumer the alerters share (same name: same work)."),
    ] = NOTIFY_DURABLE,
    ack_wait: Annotated[
        float,
        typer.Option(
            min=1, max=3600, help="Seconds before an unfinished event goes to another alerter."
        ),
    ] = 30.0,
    max_in_flight: Annotated[
        int,
        typer.Option(min=1, max=10_000, help="Events worked on at once (held ones included)."),
    ] = 256,
    duration: DurationOption = None,
    log_level: LogLevelOption = LogLevel.INFO,
) -> None:
    """Send the alerts of the incident events on the NATS bus, shared with other alerters."""
    found = required_config(config_path)
    config = load_config(found)
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", consumer):
        raise typer.BadParameter(f"{consumer!r} is not a consumer name", param_hint="--consumer")
    if nats_url is not None:
        config = config.model_copy(update={"bus": bus_at(config, nats_url)})
    if not config.notify:
        raise ConfigError(str(found), [("notify", "no [[notify]] section: nothing to send to")])
    routes = alert_routes(config)  # a missing secret fails here, early
    log_level.configure()
    settings = AlerterSettings(
        durable=consumer,
        ack_wait_s=ack_wait,
        batch_size=min(16, max_in_flight),
        max_in_flight=max_in_flight,
    )
    run_async(_notify(config, routes, settings, duration))


async def _notify(
    config: Config, routes: list[Route], settings: AlerterSettings, duration: float | None
) -> None:
    stop = stop_event(duration)
    nc = await reach_nats(config, name=f"netvigil notify {settings.durable}")
    stats = AlerterStats()
    try:
        log.info(
            "alerting on %s through %s (consumer %s)",
            config.bus.incidents_stream,
            ", ".join(r.notifier.name for r in routes),
            settings.durable,
        )
        await run_alerter(config, nc, stop, settings, routes=routes, stats=stats)
    finally:
        await nc.close()
    log.info(
        "alerter stopped: %d event(s) done, %d alert(s) sent, %d failed; "
        "%d message(s) taken over from another alerter, %d alert(s) sent again",
        stats.acked,
        stats.sent,
        stats.failed,
        stats.taken_over,
        stats.resent,
    )

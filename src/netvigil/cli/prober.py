"""`netvigil prober -c netvigil.toml`: one of several processes sharing a vantage's targets.

Every `netvigil prober` of one vantage (`--vantage`, default the config's
[vantage] name) joins the live probers of that vantage through NATS JetStream
(`--nats`) and probes only the targets it owns among them; when one joins or leaves,
the others take up or hand over their share (see `netvigil.cluster`). Measurements go
to the measurement bus when the config's `[bus]` is NATS (published as the vantage,
spooled on disk while NATS is unreachable), and to `--out` (JSON lines) when given.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import nats
import typer
from nats.errors import Error as NATSError

from netvigil.agent.spool import Spool
from netvigil.bus import MeasurementPublisher, TargetShards
from netvigil.cli._common import ConfigOption, LogLevel, LogLevelOption, required_config
from netvigil.cli._loop import run_async
from netvigil.cluster import (
    DEFAULT_HEARTBEAT_S,
    ClusterError,
    JSONLSink,
    ProberSettings,
    default_member_name,
    run_prober,
)
from netvigil.config import Config, load_config
from netvigil.config.model import NAME
from netvigil.shutdown import stop_event

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from nats.aio.client import Client

    from netvigil.monitor import MeasurementSink

__all__ = ["prober"]

log = logging.getLogger("netvigil.prober")

DEFAULT_NATS_URL = "nats://127.0.0.1:4222"
CONNECT_TIMEOUT_S = 10.0
"""How long the first connection to NATS may take before the prober gives up."""


def prober(
    config_path: ConfigOption = None,
    vantage: Annotated[
        str | None,
        typer.Option(help="Vantage to probe as (default: the config's [vantage] name)."),
    ] = None,
    nats_url: Annotated[
        str | None,
        typer.Option(
            "--nats",
            envvar="NETVIGIL_NATS_URL",
            help="NATS server URL for membership (default: [bus] url when [bus] is NATS, "
            f"else {DEFAULT_NATS_URL}).",
        ),
    ] = None,
    member: Annotated[
        str | None,
        typer.Option(help="This prober's name among the members (default: host-pid-random)."),
    ] = None,
    heartbeat: Annotated[
        float, typer.Option(min=0.05, max=60, help="Seconds between membership heartbeats.")
    ] = DEFAULT_HEARTBEAT_S,
    member_ttl: Annotated[
        float | None,
        typer.Option(
            min=0.1,
            max=600,
            help="Seconds of silence after which a prober counts as gone, if this prober "
            "makes the members bucket (default: three heartbeats).",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Also append every measurement to this file as JSON lines."),
    ] = None,
    duration: Annotated[
        float | None,
        typer.Option(min=1, help="Stop after this many seconds (default: until Ctrl-C)."),
    ] = None,
    spool: Annotated[
        Path, typer.Option(help="Where measurements wait while NATS is unreachable.")
    ] = Path("netvigil-prober-spool.db"),
    log_level: LogLevelOption = LogLevel.INFO,
) -> None:
    """Probe this process's share of the config's targets among the live probers of a vantage."""
    config = load_config(required_config(config_path))
    name = vantage if vantage is not None else config.vantage.name
    if not re.match(NAME, name) or len(name) > 64:
        raise typer.BadParameter(f"{name!r} is not a vantage name", param_hint="--vantage")
    ttl_s = member_ttl if member_ttl is not None else 3 * heartbeat
    if heartbeat * 2 > ttl_s:
        raise typer.BadParameter(
            f"must be at least twice --heartbeat ({heartbeat:g} s)", param_hint="--member-ttl"
        )
    settings = ProberSettings(
        vantage=name,
        member=member or default_member_name(),
        heartbeat_s=heartbeat,
        ttl_s=ttl_s,
    )
    log_level.configure()
    if nats_url is None:
        nats_url = config.bus.url if config.bus.kind == "nats" else DEFAULT_NATS_URL
    run_async(_run(config, nats_url, settings, out, duration, spool))


async def _run(
    config: Config,
    nats_url: str,
    settings: ProberSettings,
    out: Path | None,
    duration: float | None,
    spool_path: Path,
) -> None:
    stop = stop_event(duration)
    nc = await _connect(nats_url, settings.member, stop)
    if nc is None:
        return  # asked to stop while connecting
    out_sink = JSONLSink.open(out) if out is not None else None
    try:
        async with _bus_publisher(config, settings.vantage, spool_path) as publisher:
            sinks: list[MeasurementSink] = [] if publisher is None else [publisher]
            if out_sink is not None:
                sinks.append(out_sink)
            if not sinks:
                raise ClusterError(
                    'measurements would go nowhere: set [bus] kind = "nats" or give --out FILE'
                )
            log.info(
                "prober %s of vantage %s: %d target(s) in the config",
                settings.member,
                settings.vantage,
                len(config.targets),
            )
            await run_prober(config, nc.jetstream(), stop, settings, sinks)
    finally:
        if out_sink is not None:
            out_sink.close()
        await nc.close()


@contextlib.asynccontextmanager
async def _bus_publisher(
    config: Config, vantage: str, spool_path: Path
) -> AsyncIterator[MeasurementPublisher | None]:
    """The publisher of this prober's measurements on the bus, as `vantage` (None when the
    config's [bus] is not NATS); it drains what is left when the prober stops."""
    if config.bus.kind != "nats":
        yield None
        return
    async with await Spool.open(spool_path) as spool:
        publisher = MeasurementPublisher(config.bus, vantage, spool, TargetShards(config))
        publish_stop = asyncio.Event()
        task = asyncio.create_task(publisher.run(publish_stop), name="prober-publisher")
        try:
            yield publisher
        finally:
            publish_stop.set()
            await task


async def _connect(nats_url: str, member: str, stop: asyncio.Event) -> Client | None:
    """Connect to NATS (None if `stop` is set first). Raises ClusterError after
    CONNECT_TIMEOUT_S without an answer."""
    connecting = asyncio.ensure_future(
        nats.connect(
            servers=[nats_url],
            name=f"netvigil prober {member}",
            max_reconnect_attempts=-1,  # once connected, ride out any outage
            connect_timeout=5,
        )
    )
    stopping = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait(
            {connecting, stopping}, timeout=CONNECT_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        stopping.cancel()
    if not connecting.done():
        connecting.cancel()
        if stop.is_set():
            return None
        reason = f"no answer in {CONNECT_TIMEOUT_S:g} s"
    else:
        try:
            return connecting.result()
        except (NATSError, OSError) as exc:
            reason = str(exc)
    raise ClusterError(f"cannot reach NATS at {nats_url}: {reason}")

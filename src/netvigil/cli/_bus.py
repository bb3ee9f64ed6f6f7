"""What the bus commands share: `--nats` over the config's `[bus]`, and a first connection
whose errors name the server without its password."""

from __future__ import annotations

from typing import Annotated

import typer
from nats.aio.client import Client

from netvigil.bus import BusUnavailable, connect
from netvigil.config import Config
from netvigil.config.model import BusConfig
from netvigil.notify.webhook import redact_url

__all__ = ["DurationOption", "IncidentsNatsOption", "bus_at", "reach_nats"]

IncidentsNatsOption = Annotated[
    str | None,
    typer.Option(
        "--nats",
        help="The NATS server with the incidents stream (default: the bus url of the config).",
        show_default=False,
    ),
]
DurationOption = Annotated[
    float | None, typer.Option(min=0.1, help="Stop after this many seconds.")
]


def bus_at(config: Config, url: str) -> BusConfig:
    """The config's `[bus]` with `url` (from --nats) instead of its own; its credentials
    stay. A usage error when `url` is not a NATS URL."""
    data = config.bus.model_dump()
    data.update(url=url, kind="nats")
    try:
        return BusConfig.model_validate(data)
    except ValueError as exc:
        raise typer.BadParameter(
            f"{redact_url(url)} is not a nats:// or tls:// URL with a host", param_hint="--nats"
        ) from exc


async def reach_nats(config: Config, *, name: str) -> Client:
    """A connection to the config's NATS server. Raises BusUnavailable naming the server
    (never its password) when it cannot be reached."""
    try:
        return await connect(config.bus, name=name)
    except BusUnavailable as exc:
        url = redact_url(config.bus.url)
        reason = str(exc).removeprefix(f"{config.bus.url}: ").replace(config.bus.url, url)
        raise BusUnavailable(f"cannot reach NATS at {url}: {reason}") from exc

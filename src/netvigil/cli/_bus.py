"""What the bus commands share: `--nats` over the config's `[bus]`, and a first connection
whose errors name the server without its password."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import typer
from nats.aio.client import Client

from netvigil.bus import BusUnavailable, connect
from netvigil.config import Config
from netvigil.config.model import BusConfig

__all__ = ["bus_at", "reach_nats", "redact_url"]


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


def redact_url(url: str) -> str:
    """`url` without a password in it (`nats://user@host:4222`)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.hostname or ""
    if parts.port is not None:
        netloc = f"{netloc}:{parts.port}"
    if parts.username:
        netloc = f"{parts.username}@{netloc}"
    return urlunsplit(parts._replace(netloc=netloc))


async def reach_nats(config: Config, *, name: str) -> Client:
    """A connection to the config's NATS server. Raises BusUnavailable naming the server
    (never its password) when it cannot be reached."""
    try:
        return await connect(config.bus, name=name)
    except BusUnavailable as exc:
        url = redact_url(config.bus.url)
        reason = str(exc).removeprefix(f"{config.bus.url}: ").replace(config.bus.url, url)
        raise BusUnavailable(f"cannot reach NATS at {url}: {reason}") from exc

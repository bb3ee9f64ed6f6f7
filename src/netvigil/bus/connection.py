"""Connecting to NATS with the credentials `[bus]` names.

    nc = await connect(config.bus, name="agent tirana-1", inbox_prefix=agent_inbox("tirana-1"))

The connection reconnects on its own for ever (`max_reconnect_attempts=-1`); what a
caller sees while the server is away is publishes and fetches that time out, and
`nc.is_connected` false. Errors the server reports on a live connection (a permissions
violation) are logged and kept in `ConnectionEvents.last_error`.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
from dataclasses import dataclass
from typing import Any

import nats
from nats.aio.client import Client

from netvigil.config.model import BusConfig
from netvigil.errors import ConfigError, NetvigilError

__all__ = ["AGENT_INBOX_PREFIX", "BusUnavailable", "ConnectionEvents", "agent_inbox", "connect"]

log = logging.getLogger(__name__)

AGENT_INBOX_PREFIX = "_INBOX_AGENT"
"""Agents take replies (the stream's PubAcks) under `_INBOX_AGENT.<vantage>.`, so one
agent's permissions need not let it read another's acknowledgements."""


class BusUnavailable(NetvigilError):
    """NATS cannot be reached now (or did not answer in time); a later try may succeed."""


def agent_inbox(vantage: str) -> str:
    """The reply-subject prefix of the agent measuring as `vantage`."""
    return f"{AGENT_INBOX_PREFIX}.{vantage}"


@dataclass(slots=True)
class ConnectionEvents:
    """What the connection has told us: disconnects, reconnects, the last server error."""

    disconnects: int = 0
    reconnects: int = 0
    last_error: str | None = None


def credentials(config: BusConfig) -> dict[str, Any]:
    """`nats.connect` keyword arguments for the credentials in `config`. Raises ConfigError."""
    if config.user is not None:
        if config.password is not None:
            password = config.password.get_secret_value()
        else:
            assert config.password_env is not None
            password = os.environ.get(config.password_env, "")
            if not password:
                raise ConfigError(
                    "netvigil.toml", [("bus.password_env", f"${config.password_env} is not set")]
                )
        return {"user": config.user, "password": password}
    if config.nkey_seed_file is not None:
        if importlib.util.find_spec("nkeys") is None:
            raise ConfigError(
                "netvigil.toml",
                [("bus.nkey_seed_file", "nkey authentication needs the `nkeys` package")],
            )
        return {"nkeys_seed": config.nkey_seed_file}
    return {}


async def connect(
    config: BusConfig,
    *,
    name: str,
    inbox_prefix: str = "_INBOX",
    events: ConnectionEvents | None = None,
    connect_timeout_s: float = 2.0,
    reconnect_wait_s: float = 0.5,
) -> Client:
    """A connection to `config.url`. Raises BusUnavailable when no server answers now,
    ConfigError for credentials that cannot be read."""
    seen = events if events is not None else ConnectionEvents()

    async def on_error(exc: Exception) -> None:
        seen.last_error = f"{type(exc).__name__}: {exc}"
        if isinstance(exc, OSError | TimeoutError):  # the server is away: said once, below
            log.debug("NATS %s: %s", config.url, seen.last_error)
        else:
            log.error("NATS %s: %s", config.url, seen.last_error)

    async def on_disconnect() -> None:
        seen.disconnects += 1

    async def on_reconnect() -> None:
        seen.reconnects += 1
        log.info("NATS %s: connected again", config.url)

    nc = Client()
    try:
        # Retrying for ever applies to the first connection too: bound it here.
        await asyncio.wait_for(
            nc.connect(
                servers=[config.url],
                name=name,
                inbox_prefix=inbox_prefix,
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=reconnect_wait_s,  # type: ignore[arg-type]
                connect_timeout=connect_timeout_s,  # type: ignore[arg-type]
                error_cb=on_error,
                disconnected_cb=on_disconnect,
                reconnected_cb=on_reconnect,
                **credentials(config),
            ),
            timeout=connect_timeout_s + reconnect_wait_s,
        )
    except (OSError, TimeoutError, nats.errors.Error) as exc:
        await nc.close()
        reason = seen.last_error or f"{type(exc).__name__}: {exc}"
        raise BusUnavailable(f"{config.url}: {reason}") from exc
    return nc

"""What the API's routes share: the store, the config, the live state, the admin tables."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from fastapi import HTTPException

from netvigil.config.model import Config, ServiceConfig
from netvigil.probes import TargetSpec
from netvigil.store.base import AdminStore, Store
from netvigil.web.api.rollup_pages import DEFAULT_CACHE_BYTES, RollupPages
from netvigil.web.security import AdminGuard
from netvigil.web.state import LiveState
from netvigil.web.tokens import AgentRegistry

__all__ = ["WebContext", "check_range"]


@dataclass(slots=True)
class WebContext:
    """Everything a route reads or writes; one per app.

    `admin` holds the admin tables (None when the store keeps none).
    `poll_s`: how often the live state is pulled from the store when no sink feeds it.
    `keepalive_s`: how often an idle event stream gets a comment line.
    `stream_queue`: how many changes one stream client may fall behind before it is cut off.
    `rollup_cache_bytes`: the bound on settled rollup history kept encoded in memory
    (see `netvigil.web.api.rollup_pages`; 0 turns the cache off).
    """

    store: Store
    config: Config
    state: LiveState
    admin: AdminStore | None
    agents: AgentRegistry
    guard: AdminGuard
    now: Callable[[], float] = time.time
    poll_s: float = 2.0
    keepalive_s: float = 15.0
    stream_queue: int = 256
    rollup_cache_bytes: int = DEFAULT_CACHE_BYTES
    targets: dict[str, TargetSpec] = field(default_factory=dict)
    services: dict[str, ServiceConfig] = field(default_factory=dict)
    rollups: RollupPages = field(init=False)

    def __post_init__(self) -> None:
        self.targets = {t.name: t for t in self.config.targets}
        self.services = {s.name: s for s in self.config.services}
        self.rollups = RollupPages(
            self.store, self.state, now=self.now, cache_bytes=self.rollup_cache_bytes
        )

    async def live(self) -> LiveState:
        """The live state, pulled from the store first if nothing feeds it and it is old."""
        await self.state.sync(self.store, every_s=self.poll_s)
        return self.state


def check_range(since: float | None, until: float | None) -> None:
    """Refuse (422) a time range that ends before it starts or is not finite."""
    for name, value in (("since", since), ("until", until)):
        if value is not None and not math.isfinite(value):
            raise HTTPException(422, f"{name} must be a finite number of epoch seconds")
    if since is not None and until is not None and until <= since:
        raise HTTPException(422, f"until ({until}) must be after since ({since})")

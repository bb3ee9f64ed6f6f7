"""The prober role: several processes of one vantage share one config's targets.

    settings = ProberSettings(vantage="paris", member="host-a-1")
    await run_prober(config, js, stop, settings, sinks=[sink])

Each process joins the role `prober:<vantage>` in the members bucket (see
`netvigil.cluster.membership`) and probes only the targets it owns among the live
probers of its vantage (rendezvous hashing, `netvigil.cluster.assignment`). When a
prober joins or leaves, every prober recomputes its share and hands it to its
scheduler (`Monitor.set_targets`): targets it kept keep their rhythm, targets it gained
start at their usual phase on the wall-clock grid, so the one that took a target over
probes it when the old owner would have. In steady state every target is probed by
exactly one prober of the vantage; a prober killed outright stops heartbeating, and
after the members' TTL its targets are probed by the survivors.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from netvigil.cluster.assignment import KeyOwners
from netvigil.cluster.membership import (
    DEFAULT_HEARTBEAT_S,
    MEMBERS_BUCKET,
    Membership,
    open_members_bucket,
)
from netvigil.config.model import Config
from netvigil.monitor import MeasurementSink, Monitor
from netvigil.probes import ProbeSet

if TYPE_CHECKING:
    from nats.js.client import JetStreamContext

    from netvigil.metrics import Metrics
    from netvigil.probes import TargetSpec
    from netvigil.scheduler import ProbeLike

__all__ = ["ProberSettings", "TargetShare", "prober_role", "run_prober"]

log = logging.getLogger(__name__)


def prober_role(vantage: str) -> str:
    """The membership role of the probers of `vantage`."""
    return f"prober:{vantage}"


class TargetShare:
    """The part of `targets` that `member` owns; handed to the monitor on every change."""

    def __init__(self, targets: Sequence[TargetSpec], member: str, monitor: Monitor) -> None:
        self.targets = list(targets)
        self.member = member
        self.monitor = monitor
        self.owned: list[TargetSpec] = []
        self._owners = KeyOwners([t.name for t in self.targets])

    def assign(self, members: frozenset[str]) -> None:
        """Take this member's share among `members` and schedule exactly that."""
        wanted = set(self._owners.share(members, self.member))
        self.owned = [t for t in self.targets if t.name in wanted]
        self.monitor.set_targets(self.owned)
        log.info(
            "%s owns %d of %d target(s) among %d prober(s)",
            self.member,
            len(self.owned),
            len(self.targets),
            len(members),
        )


@dataclass(frozen=True, slots=True)
class ProberSettings:
    """Who this prober is and how it keeps its membership."""

    vantage: str
    member: str
    heartbeat_s: float = DEFAULT_HEARTBEAT_S
    ttl_s: float | None = None
    """The members' TTL if this process makes the bucket (default: three heartbeats)."""
    bucket: str = MEMBERS_BUCKET


async def run_prober(
    config: Config,
    js: JetStreamContext,
    stop: asyncio.Event,
    settings: ProberSettings,
    sinks: Sequence[MeasurementSink],
    *,
    metrics: Metrics | None = None,
    probes: ProbeLike | None = None,
) -> None:
    """Probe this member's share of `config.targets` until `stop` is set.

    The bucket's TTL applies when the bucket exists already, whatever `settings.ttl_s`
    says. `probes` replaces the real probe set (default: `ProbeSet()`). Raises
    ClusterError when membership cannot be kept.
    """
    ttl_s = settings.ttl_s if settings.ttl_s is not None else 3 * settings.heartbeat_s
    kv, bucket_ttl_s = await open_members_bucket(js, ttl_s=ttl_s, bucket=settings.bucket)
    async with contextlib.AsyncExitStack() as stack:
        if probes is None:
            probes = await stack.enter_async_context(ProbeSet())
        monitor = Monitor([], probes, sinks, settings.vantage, config.scheduler, metrics)
        target_share = TargetShare(config.targets, settings.member, monitor)
        membership = Membership(
            kv,
            prober_role(settings.vantage),
            settings.member,
            ttl_s=bucket_ttl_s,
            heartbeat_s=settings.heartbeat_s,
            on_change=target_share.assign,
        )
        await membership.start()
        stack.push_async_callback(membership.stop)  # also on an error
        await _probe_until_stopped(monitor, membership, stop)


async def _probe_until_stopped(
    monitor: Monitor, membership: Membership, stop: asyncio.Event
) -> None:
    """Run `monitor` until `stop`; on stop, leave first (the others take over at once),
    then let the probes in flight finish."""
    running = asyncio.create_task(monitor.run(stop), name="prober monitor")
    stopped = asyncio.create_task(stop.wait(), name="prober stop")
    try:
        await asyncio.wait({running, stopped}, return_when=asyncio.FIRST_COMPLETED)
        if stop.is_set():
            await membership.stop()
        await running
    finally:
        stopped.cancel()
        if not running.done():
            running.cancel()

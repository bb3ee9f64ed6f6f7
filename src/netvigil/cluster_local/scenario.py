"""The fault scenario of a local cluster: stop one loopback service, bring it back, and
read from PostgreSQL what the detector made of it.

    found = await run_fault(plan, state, store, fault_s=30.0, say=print)

The service's process is stopped (its port closes: every agent's probe is refused), and
started again on the same port after `fault_s`. Meanwhile, and until the incident has
resolved (or `settle_s` after the service came back), the incidents in the store are
read every second and each new event is told as it appears (opened, confirmed, cause
changes, resolved). The result lists the incidents that began after the stop.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from netvigil.cluster_local.configs import ClusterPlan
from netvigil.cluster_local.health import Readiness, listening, wait_ready
from netvigil.cluster_local.layout import FAULTED_SERVICE, ClusterState
from netvigil.cluster_local.processes import spawn, stop_all
from netvigil.incident import Incident, IncidentState
from netvigil.store.base import IncidentQuery, Store

__all__ = ["FaultResult", "describe_incident", "run_fault"]

POLL_S = 1.0
UNDER_WAY_S = 1.0
"""A probe stamped this long before the stop began may still have been refused by it (a
result is stamped when its probe starts): its incident counts as the fault's."""
Say = Callable[[str], None]


@dataclass(slots=True)
class FaultResult:
    """What the scenario did and what the detector found."""

    service: str
    stopped_at: float
    restarted_at: float = 0.0
    incidents: list[Incident] = field(default_factory=list)
    """The incidents that began after the stop, as the store has them at the end."""

    def found(self) -> Incident | None:
        """The incident of the stopped service, if the detector made one."""
        for incident in self.incidents:
            if self.service in incident.services:
                return incident
        return None


def _clock(ts: float | None, origin: float) -> str:
    if ts is None:
        return "-"
    return f"{time.strftime('%H:%M:%S', time.localtime(ts))} (t{ts - origin:+.0f}s)"


def describe_incident(incident: Incident, origin: float) -> list[str]:
    """Lines saying what an incident is, its cause and when it opened, was confirmed and
    resolved (times also as seconds from `origin`)."""
    what = ", ".join(incident.services) or (
        f"vantage {incident.vantage}" if incident.vantage else ", ".join(incident.targets)
    )
    return [
        f"incident {incident.id}: {what}",
        f"  cause      {incident.cause.value} (confidence {incident.confidence:.2f})",
        f"  seen from  {', '.join(incident.vantages) or '-'}",
        f"  opened     {_clock(incident.start, origin)}",
        f"  confirmed  {_clock(incident.confirmed_at, origin)}",
        f"  resolved   {_clock(incident.end, origin)}",
    ]


class _EventTeller:
    """Tells each new event of the incidents since `origin`, once."""

    def __init__(self, store: Store, origin: float, say: Say) -> None:
        self.store = store
        self.origin = origin
        self.say = say
        self.told: set[tuple[str, str, float]] = set()

    async def poll(self) -> list[Incident]:
        since = self.origin - UNDER_WAY_S
        query = IncidentQuery(since=since, include_withdrawn=True)
        incidents = [i for i in await self.store.incidents(query) if i.start >= since]
        for incident in incidents:
            for event in await self.store.incident_events(incident.id):
                key = (incident.id, event.kind.value, event.ts)
                if key not in self.told:
                    self.told.add(key)
                    what = ", ".join(incident.services) or incident.vantage or incident.id
                    at = f"t{event.ts - self.origin:+.0f}s"
                    self.say(
                        f"  {at:>6}  {event.kind.value:<10} {what}: "
                        f"{event.incident.cause.value} ({event.incident.confidence:.2f})"
                    )
        return incidents


async def _watch(teller: _EventTeller, seconds: float) -> list[Incident]:
    deadline = time.monotonic() + seconds
    incidents = await teller.poll()
    while time.monotonic() < deadline:
        await asyncio.sleep(min(POLL_S, max(0.0, deadline - time.monotonic())))
        incidents = await teller.poll()
    return incidents


async def run_fault(
    plan: ClusterPlan,
    state: ClusterState,
    store: Store,
    *,
    fault_s: float,
    settle_s: float,
    say: Say = print,
) -> FaultResult:
    """Stop the faulted service for `fault_s`, start it again (also when interrupted), and
    watch the store until its incident resolved or `settle_s` passed; the state file is
    kept current."""
    record = state.record(f"service-{FAULTED_SERVICE}")
    port = plan.ports.service(FAULTED_SERVICE)
    # The fault begins as the stopping does (a probe refused while the process is on its
    # way out is the incident's first failure).
    result = FaultResult(FAULTED_SERVICE, stopped_at=time.time())
    stop_all([record], grace_s=5.0)
    say(f"fault: {FAULTED_SERVICE} (127.0.0.1:{port}) stopped for {fault_s:g} s")
    teller = _EventTeller(store, result.stopped_at, say)
    try:
        await _watch(teller, fault_s)
    finally:  # also when interrupted: the cluster is left as it was
        restarted = spawn(
            record.name, record.role, record.argv, plan.layout.log(record.name), port=port
        )
        state.replace(restarted)
        state.write(plan.layout)
    await wait_ready([Readiness(restarted, listening(port))], timeout_s=30.0)
    result.restarted_at = time.time()
    say(f"fault over: {FAULTED_SERVICE} is back (t{result.restarted_at - result.stopped_at:+.0f}s)")
    deadline = time.monotonic() + settle_s
    while True:
        result.incidents = await _watch(teller, POLL_S)
        found = result.found()
        if (found is not None and found.state is IncidentState.RESOLVED) or (
            time.monotonic() > deadline
        ):
            return result

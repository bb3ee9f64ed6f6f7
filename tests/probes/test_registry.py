"""ProbeSet: dispatch by kind, a probe bug as data, the deadline kept by the scheduler,
registration of a new kind."""

from __future__ import annotations

import asyncio
import time
from typing import ClassVar, Literal

import pytest

import netvigil.probes as probes_pkg
from netvigil.config.model import SchedulerConfig
from netvigil.model import Observation
from netvigil.outcome import Outcome, Phase
from netvigil.probes import PROBES, ProbeSet, TargetBase, TCPSpec
from netvigil.probes.context import ProbeContext
from netvigil.scheduler import Scheduler
from servers.tcp import serve_tcp


class SleepySpec(TargetBase):
    kind: Literal["sleepy"] = "sleepy"

    @property
    def destination(self) -> str:
        return "nowhere"


class SleepyProbe:
    """A probe that ignores its deadline (what the scheduler's deadline is for)."""

    kind: ClassVar[str] = "sleepy"
    closed = False

    def __init__(self, context: ProbeContext) -> None:
        self.context = context

    async def measure(self, spec: SleepySpec) -> Observation:
        await asyncio.sleep(60)
        return Observation(ok=True, outcome=Outcome.OK)

    async def close(self) -> None:
        SleepyProbe.closed = True


def test_exports() -> None:
    assert {"PROBES", "ProbeSet"} <= set(probes_pkg.__all__)
    assert set(PROBES) == {"http", "tcp", "dns", "icmp", "tls", "block"}


async def test_dispatch_by_kind() -> None:
    async with serve_tcp("silent") as srv, ProbeSet() as probes:
        obs = await probes.measure(TCPSpec(name="t", host="127.0.0.1", port=srv.port))
    assert obs.outcome is Outcome.OK
    assert srv.connections == 1


async def test_scheduler_deadline_cuts_off_a_stuck_probe() -> None:
    registry = {**PROBES, "sleepy": SleepyProbe}
    start = time.monotonic()
    async with ProbeSet(probes=registry) as probes:
        scheduler = Scheduler(SchedulerConfig(), probes, lambda *_: None, grace_s=0.1)
        obs, _, _ = await scheduler.check(SleepySpec(name="s", timeout_s=0.2))  # type: ignore[arg-type]
    assert time.monotonic() - start < 1.0
    assert obs.ok is False
    assert obs.outcome is Outcome.UNKNOWN
    assert "deadline" in obs.detail["error"]
    assert SleepyProbe.closed


class BuggyProbe(SleepyProbe):
    """A probe that raises instead of returning its failure."""

    async def measure(self, spec: SleepySpec) -> Observation:
        raise RuntimeError("probe bug")


async def test_a_probe_that_raises_gives_unknown() -> None:
    async with ProbeSet(probes={"sleepy": BuggyProbe}) as probes:
        obs = await probes.measure(SleepySpec(name="s", timeout_s=0.2))
    assert (obs.ok, obs.outcome, obs.phase) == (False, Outcome.UNKNOWN, Phase.REQUEST)
    assert "probe bug" in obs.detail["error"]
    assert obs.timings["total"] >= 0


async def test_unknown_kind_is_a_key_error() -> None:
    async with ProbeSet(probes={}) as probes:
        with pytest.raises(KeyError, match="tcp"):
            await probes.measure(TCPSpec(name="t", host="127.0.0.1", port=1))


async def test_probes_share_one_context() -> None:
    async with ProbeSet() as probes:
        assert probes.probe("http")._context is probes.probe("tls")._context  # type: ignore[attr-defined]
        ctx = probes.context.tls_context(verify=True)
        assert probes.context.tls_context(verify=True) is ctx

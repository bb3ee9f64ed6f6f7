"""ProbeSet: dispatch by kind, the outer deadline, registration of a new kind."""

from __future__ import annotations

import asyncio
import time
from typing import ClassVar, Literal

import pytest

import netvigil.probes as probes_pkg
from netvigil.model import Observation
from netvigil.outcome import Outcome, Phase
from netvigil.probes import PROBES, ProbeSet, TargetBase, TCPSpec
from netvigil.probes.context import ProbeContext
from servers.tcp import serve_tcp


class SleepySpec(TargetBase):
    kind: Literal["sleepy"] = "sleepy"


class SleepyProbe:
    """A probe that ignores its deadline (what the outer deadline is for)."""

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
    assert set(PROBES) == {"http", "tcp", "dns", "icmp", "tls"}


async def test_dispatch_by_kind() -> None:
    async with serve_tcp("silent") as srv, ProbeSet() as probes:
        obs = await probes.measure(TCPSpec(name="t", host="127.0.0.1", port=srv.port))
    assert obs.outcome is Outcome.OK
    assert srv.connections == 1


async def test_outer_deadline_cuts_off_a_stuck_probe() -> None:
    registry = {**PROBES, "sleepy": SleepyProbe}
    start = time.monotonic()
    async with ProbeSet(probes=registry, grace_s=0.1) as probes:
        obs = await probes.measure(SleepySpec(name="s", timeout_s=0.2))
    assert time.monotonic() - start < 1.0
    assert obs.ok is False
    assert obs.outcome is Outcome.UNKNOWN
    assert obs.phase is Phase.REQUEST
    assert "deadline" in obs.detail["error"]
    assert SleepyProbe.closed


async def test_unknown_kind_is_a_key_error() -> None:
    async with ProbeSet(probes={}) as probes:
        with pytest.raises(KeyError, match="tcp"):
            await probes.measure(TCPSpec(name="t", host="127.0.0.1", port=1))


async def test_probes_share_one_context() -> None:
    async with ProbeSet() as probes:
        assert probes.probe("http")._context is probes.probe("tls")._context  # type: ignore[attr-defined]
        ctx = probes.context.tls_context(verify=True)
        assert probes.context.tls_context(verify=True) is ctx

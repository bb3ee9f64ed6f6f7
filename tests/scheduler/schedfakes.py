"""Test doubles for scheduler tests: a hand-driven clock and a scripted fake probe."""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field

from netvigil.model import Observation
from netvigil.outcome import Outcome
from netvigil.probes import TargetSpec, TCPSpec


class ManualClock:
    """A clock that moves only when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    def advance(self, dt: float) -> None:
        self.t += dt


@dataclass
class Call:
    """One `measure` call the fake probe saw."""

    name: str
    destination: str
    start: float
    end: float | None = None


@dataclass
class FakeProbe:
    """Answers per target name: sleeps `delays[name]` (default 0) then returns `results[name]`.

    A name in `hang` never answers; a name in `raise_for` raises. Records every call and the
    most probes it ever saw in flight at once. `clock` times the calls.
    """

    clock: Callable[[], float] = time.monotonic
    delays: dict[str, float] = field(default_factory=dict)
    results: dict[str, Observation] = field(default_factory=dict)
    hang: set[str] = field(default_factory=set)
    raise_for: set[str] = field(default_factory=set)
    calls: list[Call] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0

    async def measure(self, spec: TargetSpec) -> Observation:
        now = self.clock
        call = Call(spec.name, spec.destination, now())
        self.calls.append(call)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if spec.name in self.hang:
                await asyncio.Event().wait()
            delay = self.delays.get(spec.name, 0.0)
            if delay:
                await asyncio.sleep(delay)
            if spec.name in self.raise_for:
                raise RuntimeError("fake probe bug")
            return self.results.get(
                spec.name, Observation(ok=True, outcome=Outcome.OK, timings={"total": delay})
            )
        finally:
            self.in_flight -= 1
            call.end = now()

    def starts(self, name: str) -> list[float]:
        return [c.start for c in self.calls if c.name == name]

    def by_name(self) -> dict[str, list[Call]]:
        out: dict[str, list[Call]] = defaultdict(list)
        for c in self.calls:
            out[c.name].append(c)
        return out


def tcp(
    name: str, *, interval: float = 1.0, host: str = "127.0.0.1", timeout: float = 1.0
) -> TCPSpec:
    """A TCP target (never contacted: the fake probe answers)."""
    return TCPSpec(name=name, host=host, port=9, interval_s=interval, timeout_s=timeout)

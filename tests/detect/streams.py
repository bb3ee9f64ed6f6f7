"""Hand-built measurement streams for detector and rule tests.

`World` describes a small observatory modelled on Albania, July 2022: a government
network `gov` (e-Albania, the PM's Office, Parliament), the tax portal of the same
organization on network `tax`, a news site on network `media`, a control target, one
in-country vantage (`local`, AL) and two abroad (`de`, `us`). `World.stream()` probes
every target from every vantage each interval (each path with its own phase) and asks a
behaviour function what each probe saw.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from netvigil.config.model import Config
from netvigil.incident import Incident
from netvigil.model import Measurement
from netvigil.outcome import Outcome, Phase
from netvigil.replay import replay

T0 = 1_657_915_200.0  # 2022-07-15 20:00:00 UTC
ONSET = T0 + 1800.0  # 20:30:00 UTC
INTERVAL = 10.0

GOV = ("e-albania", "pm-office", "parliament")


@dataclass(frozen=True, slots=True)
class Probe:
    """What one probe saw: an outcome and timings (seconds)."""

    outcome: Outcome = Outcome.OK
    latency: float | None = 0.02
    ttfb: float | None = None
    phase: Phase | None = None

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK


OK = Probe()
SILENT = Probe(Outcome.TCP_TIMEOUT, None, phase=Phase.CONNECT)

Behaviour = Callable[[float, str, str, random.Random], Probe | None]
"""(ts, vantage, target, rng) -> what the probe saw, or None for no probe."""


def target_name(service: str) -> str:
    return f"{service}-https"


def healthy(ts: float, vantage: str, target: str, rng: random.Random) -> Probe:
    """A normal answer: about 20 ms with a little jitter, first byte at about 50 ms."""
    latency = 0.02 + rng.uniform(-0.002, 0.002)
    return Probe(Outcome.OK, latency, ttfb=0.05 + rng.uniform(-0.005, 0.005))


@dataclass
class World:
    """A configuration plus a stream generator."""

    vantages: Sequence[str] = ("local", "de", "us")
    controls: bool = True
    interval: float = INTERVAL
    maintenance: list[dict[str, Any]] = field(default_factory=list)
    local_in_country: bool = True
    second_probe: Sequence[str] = ()
    """Services probed a second time, by TCP connect (target `<service>-tcp`)."""

    def config(self) -> Config:
        services = [
            *({"name": s, "network": "gov", "organization": "government"} for s in GOV),
            {"name": "tax-portal", "network": "tax", "organization": "government"},
            {"name": "news", "network": "media", "organization": "press"},
        ]
        targets: list[dict[str, Any]] = [
            {
                "kind": "http",
                "name": target_name(s["name"]),
                "service": s["name"],
                "url": f"https://{s['name']}.example/",
                "interval_s": self.interval,
            }
            for s in services
        ]
        targets += [
            {
                "kind": "tcp",
                "name": f"{s}-tcp",
                "service": s,
                "host": f"{s}.example",
                "port": 443,
                "interval_s": self.interval,
            }
            for s in self.second_probe
        ]
        if self.controls:
            targets.append(
                {
                    "kind": "tcp",
                    "name": "control",
                    "control": True,
                    "host": "192.0.2.53",
                    "port": 443,
                    "interval_s": self.interval,
                }
            )
        countries = {"local": "AL", "de": "DE", "us": "US"}
        agents = [
            {
                "name": v,
                "token_sha256": "0" * 64,
                "country": countries.get(v),
                "in_country": countries.get(v) == "AL",
            }
            for v in self.vantages
            if v != "local"
        ]
        return Config.model_validate(
            {
                "vantage": {
                    "name": "local",
                    "country": "AL",
                    "in_country": self.local_in_country,
                },
                "networks": [{"name": n} for n in ("gov", "tax", "media")],
                "organizations": [{"name": "government"}, {"name": "press"}],
                "services": services,
                "targets": targets,
                "agents": agents,
                "maintenance": self.maintenance,
            }
        )

    def targets(self) -> list[str]:
        names = [target_name(s) for s in (*GOV, "tax-portal", "news")]
        names += [f"{s}-tcp" for s in self.second_probe]
        return [*names, "control"] if self.controls else names

    def stream(
        self,
        behaviour: Behaviour,
        *,
        start: float = ONSET - 1200.0,
        end: float = ONSET + 400.0,
        seed: int = 1,
    ) -> list[Measurement]:
        """Every path probed each interval from `start` to `end`, in time order."""
        rng = random.Random(seed)
        out: list[Measurement] = []
        paths = [(t, v) for t in self.targets() for v in self.vantages]
        for i, (target, vantage) in enumerate(paths):
            offset = (i * 0.37) % self.interval
            ts = start + offset
            while ts < end:
                probe = behaviour(ts, vantage, target, rng)
                if probe is not None:
                    out.append(measurement(ts, vantage, target, probe))
                ts += self.interval
        out.sort(key=lambda m: (m.ts, m.id))
        return out

    def replay(self, measurements: Iterable[Measurement], **kwargs: Any) -> list[Incident]:
        return replay(measurements, self.config(), **kwargs)


def measurement(ts: float, vantage: str, target: str, probe: Probe) -> Measurement:
    """A Measurement with a deterministic id."""
    timings: dict[str, float] = {}
    if probe.latency is not None:
        timings["connect"] = probe.latency
        timings["total"] = probe.latency + (probe.ttfb or 0.0)
    if probe.ttfb is not None:
        timings["ttfb"] = probe.ttfb
    phase = probe.phase
    if not probe.ok and phase is None:
        phase = Phase.RESPONSE
    return Measurement(
        id=f"{ts:014.3f}-{vantage}-{target}",
        ts=ts,
        vantage=vantage,
        target=target,
        kind="tcp" if target == "control" else "http",
        ok=probe.ok,
        outcome=probe.outcome,
        phase=phase,
        timings=timings,
    )


def gov(target: str) -> bool:
    """Whether a target belongs to the government network."""
    return target in {target_name(s) for s in GOV}


def confirmed(incidents: Iterable[Incident]) -> list[Incident]:
    """The incidents that were confirmed at some point."""
    return [i for i in incidents if i.confirmed_at is not None]

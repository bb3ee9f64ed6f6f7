"""Random scenarios nobody tuned for: faults composed from the primitives, with ground truth.

    scenarios = compose_many(seed=1001, count=5, topology=topo)
    paths = [write_scenario(s, Path("out/fuzz")) for s in scenarios]

Scenario `i` of seed `N` (named `fuzz-N-i`) is drawn from its own random stream, so it
is the same whatever the count. Each has 1 to 3 faults of the kinds in `FAULTS` on
random targets of the topology, overlapping or one after another, a probe interval of
2 to 10 s, and random knobs where a kind has them (jitter, delay and loss of a latency
spike; flood rate and pulses; request concurrency; drop or reset). The ground truth
of each fault comes from `netvigil.lab.truth`. Faults that would blur each other's
truth are not composed together while their windows (plus a settling margin) overlap:
two faults breaking a common service, two on one target, two dead vantages, a dead
vantage and a filter seen only from it.

The scenarios are written as TOML files in the format of `scenarios/*.toml`, so a run
can be replayed by name (`netvigil lab run out/fuzz/fuzz-1001-0.toml`). A seed draws from
the fault kinds this version knows: with a new kind, the same seed composes other
scenarios, and the TOML files of a recorded run are what replays it.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netvigil.lab.faults import FAULTS, FaultSpec
from netvigil.lab.scenario import Expectation, Scenario
from netvigil.lab.topology import Topology
from netvigil.lab.truth import (
    affected_services,
    expectation_for,
    expectations_for,
    in_country_vantages,
    network_services,
)

__all__ = [
    "FuzzSettings",
    "compose",
    "compose_many",
    "derive_truth",
    "scenario_toml",
    "targets",
    "write_scenario",
]


@dataclass(frozen=True, slots=True)
class FuzzSettings:
    """The ranges scenarios are drawn from (seconds unless said otherwise)."""

    faults: tuple[int, int] = (1, 3)
    interval_s: tuple[int, int] = (2, 10)
    first_at_s: float = 20.0
    """The earliest a fault starts (also at least 4 probe intervals: a baseline first)."""
    spread_s: float = 90.0
    """Faults start within this long after the earliest start."""
    fault_s: tuple[float, float] = (30.0, 80.0)
    """A fault lasts this long (and at least 6 probe intervals)."""
    tail_s: float = 30.0
    """The run goes on this long after the last fault (and at least 5 probe intervals)."""
    settle_intervals: float = 3.0
    """Windows closer than this many probe intervals count as overlapping."""
    attempts: int = 50

    @classmethod
    def quick(cls) -> FuzzSettings:
        """Short runs for a smoke test: one fault of 8-12 s, probes every second."""
        return cls(
            faults=(1, 1),
            interval_s=(1, 1),
            first_at_s=5.0,
            spread_s=2.0,
            fault_s=(8.0, 12.0),
            tail_s=6.0,
        )


def targets(topology: Topology, kind: str) -> list[str]:
    """What a fault of `kind` may hit in `topology` such that its effect is known."""
    cls, topo = FAULTS[kind], topology
    if cls.target == "network":
        # The core network has no uplink to break; a benign kind may hit a network with
        # vantages only (jitter on their path), the others need a service to break there.
        nets = [n for n in topo.networks if n.upstream is not None]
        if cls.cause is not None:
            nets = [n for n in nets if network_services(topo, n.name)]
        if kind == "volumetric_ddos":
            nets = [n for n in nets if n.uplink is not None]
        if kind == "in_country_filter":
            nets = [n for n in nets if in_country_vantages(topo, n.name)]
        return [n.name for n in nets if cls.fits(topo, n.name)]
    if cls.target == "service":
        controls = {h.name for h in topo.hosts_with("control")}
        services = [s for s in topo.services if s.host not in controls]
        if kind == "tls_expired":
            services = [s for s in services if s.scheme == "https"]
        return [s.name for s in services]
    if cls.target == "dns":
        return sorted({z.server for z in topo.zones})
    return [h.name for h in topo.hosts_with("vantage")]


def _knobs(kind: str, rng: random.Random) -> dict[str, Any]:
    """Random settings for the kinds that have them (others take none)."""
    if kind == "latency_spike":
        return {
            "delay_ms": rng.randrange(10, 81, 5),
            "jitter_ms": rng.choice([0, 10, 20, 40]),
            "loss": rng.choice([0.0, 0.01, 0.02]),
        }
    if kind == "volumetric_ddos":
        pulses = rng.random() < 0.3
        return {
            "rate_pps": rng.randrange(2000, 4001, 500),
            "pulse_on_s": 10.0 if pulses else 0.0,
            "pulse_off_s": 5.0 if pulses else 0.0,
        }
    if kind == "application_ddos":
        return {"concurrency": rng.choice([48, 64, 96, 128])}
    if kind == "in_country_filter":
        return {"mode": rng.choice(["drop", "reset"])}
    return {}


def _clash(topology: Topology, a: FaultSpec, b: FaultSpec, settle_s: float) -> bool:
    """Whether two faults would blur each other's ground truth."""
    if a.until + settle_s <= b.at or b.until + settle_s <= a.at:
        return False
    if a.target == b.target:
        return True
    sorts = {FAULTS[a.kind].target, FAULTS[b.kind].target}
    if sorts == {"vantage"}:
        return True
    if "vantage" in sorts:
        dead, other = (a, b) if FAULTS[a.kind].target == "vantage" else (b, a)
        truth = expectation_for(topology, other)
        return truth is not None and bool(truth.vantages) and set(truth.vantages) <= {dead.target}
    return bool(set(affected_services(topology, a)) & set(affected_services(topology, b)))


def _draw_fault(
    topology: Topology, rng: random.Random, kinds: Sequence[str], interval: int, s: FuzzSettings
) -> FaultSpec:
    kind = rng.choice(kinds)
    first = max(s.first_at_s, 4 * interval)
    at = float(round(first + rng.uniform(0, s.spread_s)))
    length = float(round(max(rng.uniform(*s.fault_s), 6 * interval)))
    return FaultSpec(
        kind=kind,
        target=rng.choice(targets(topology, kind)),
        at=at,
        until=at + length,
        **_knobs(kind, rng),
    )


def compose(
    seed: int, index: int, topology: Topology, settings: FuzzSettings | None = None
) -> Scenario:
    """Scenario `index` of `seed`: random faults on `topology` and their ground truth."""
    s = settings or FuzzSettings()
    rng = random.Random(f"netvigil-fuzz:{seed}:{index}")
    kinds = sorted(k for k in FAULTS if targets(topology, k))
    interval = rng.randint(*s.interval_s)
    wanted = rng.randint(*s.faults)
    faults: list[FaultSpec] = []
    for _ in range(s.attempts):
        if len(faults) == wanted:
            break
        spec = _draw_fault(topology, rng, kinds, interval, s)
        if not any(_clash(topology, spec, f, s.settle_intervals * interval) for f in faults):
            faults.append(spec)
    faults.sort(key=lambda f: (f.at, f.kind, f.target))
    expect = derive_truth(faults, topology)
    duration = max(f.until for f in faults) + max(s.tail_s, 5 * interval)
    return Scenario(
        name=f"fuzz-{seed}-{index}",
        description="Composed at random: "
        + "; ".join(f"{f.kind} on {f.target} {f.at:g}-{f.until:g}s" for f in faults),
        duration_s=duration,
        probe_interval_s=interval,
        probe_timeout_s=min(3.0, interval * 0.75),
        fault=faults,
        expect=expect,
    )


def derive_truth(faults: Sequence[FaultSpec], topology: Topology) -> list[Expectation]:
    """The expectations of a composed scenario: each fault's documented effect
    (`netvigil.lab.truth`), or one "no incident" when every fault is benign."""
    truths = [e for f in faults for e in expectations_for(topology, f)]
    return truths or [Expectation(incident=False, note="benign faults only")]


def compose_many(
    seed: int, count: int, topology: Topology, settings: FuzzSettings | None = None
) -> list[Scenario]:
    """Scenarios 0 to `count - 1` of `seed`."""
    return [compose(seed, i, topology, settings) for i in range(count)]


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    return "[" + ", ".join(_value(v) for v in value) + "]"


def _table(header: str, fields: Mapping[str, Any]) -> list[str]:
    return ["", header, *(f"{k} = {_value(v)}" for k, v in fields.items() if v is not None)]


def scenario_toml(scenario: Scenario) -> str:
    """The scenario as a TOML file in the format of `scenarios/*.toml`."""
    head = scenario.model_dump(
        mode="json", include={"name", "description", "topology", "duration_s",
                              "probe_interval_s", "probe_timeout_s"},
    )  # fmt: skip
    lines = [f"{k} = {_value(v)}" for k, v in head.items() if v is not None]
    for f in scenario.fault:
        fields = f.model_dump(mode="json", exclude_defaults=True)
        fields = {"kind": f.kind, "target": f.target, "at": f.at, **fields}
        lines += _table("[[fault]]", fields)
    for e in scenario.expect:
        lines += _table("[[expect]]", e.model_dump(mode="json", exclude_defaults=True))
    return "\n".join(lines) + "\n"


def write_scenario(scenario: Scenario, directory: Path) -> Path:
    """Write `<directory>/<name>.toml`; its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{scenario.name}.toml"
    path.write_text(scenario_toml(scenario), encoding="utf-8")
    return path

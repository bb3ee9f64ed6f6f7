"""Scenarios: faults on a timeline in the lab, with the ground truth a detector should find.

A scenario file (TOML, in `scenarios/`):

    name = "shutdown"
    description = "The government network drops everything inbound"
    duration_s = 150
    probe_interval_s = 5

    [[fault]]
    kind = "shutdown"
    target = "gov"
    at = 40
    until = 110

    [[expect]]
    cause = "shutdown"
    services = ["e-albania", "kryeministria", "parlament"]
    start = 40
    end = 110

or, for a run where nothing may be flagged, `[[expect]]` with `incident = false`.

`run_scenario()` brings the lab up, starts an agent in every vantage namespace (and,
when the topology has a route collector, a recorder of its feed), applies and clears the
faults on time, collects the measurements and the feed, tears the lab down (also on
Ctrl-C or an error) and returns a ScenarioResult: which outcomes each vantage saw for
each service during each fault window.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from netvigil.cause import Cause
from netvigil.config.load import load_toml_model
from netvigil.errors import ConfigError, LabError
from netvigil.lab import netns
from netvigil.lab.config import target_names
from netvigil.lab.faults import FAULTS, FaultSpec, target_sort
from netvigil.lab.feedreplay import FeedLine, load_feed
from netvigil.lab.lab import Lab, default_prefix, default_state_dir
from netvigil.lab.lifecycle import lab_down, lab_up
from netvigil.lab.topology import Topology, load_topology
from netvigil.model import Measurement, measurement_list_adapter

__all__ = [
    "FAULT_CAUSE",
    "Expectation",
    "Scenario",
    "ScenarioResult",
    "ScenarioRunner",
    "check_intact",
    "check_scenario",
    "load_scenario",
    "run_scenario",
]

log = logging.getLogger(__name__)

FEED_RECORDER = "feed:record"
"""The lab process recording the route collector's feed during a scenario."""
FEED_READY_S = 10.0
"""How long the recorder may take to connect and subscribe."""


class _CauseByKind(Mapping[str, str | None]):
    """Fault kind -> the cause a detector should name (None: no incident), read from `FAULTS`."""

    def __getitem__(self, kind: str) -> str | None:
        cause = FAULTS[kind].cause
        return None if cause is None else cause.value

    def __iter__(self) -> Iterator[str]:
        return iter(FAULTS)

    def __len__(self) -> int:
        return len(FAULTS)


FAULT_CAUSE: Mapping[str, str | None] = _CauseByKind()
"""The cause a detector should name for each fault kind (None: no incident)."""


class Expectation(BaseModel):
    """Ground truth (`[[expect]]`): an incident a detector should find, or none at all."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    incident: bool = True
    cause: Cause | None = None
    services: list[str] = Field(default_factory=list)
    vantages: list[str] = Field(default_factory=list)
    """Where the failure is seen from (empty: from everywhere)."""
    start: float | None = Field(default=None, ge=0)
    end: float | None = Field(default=None, ge=0)
    note: str = ""

    @model_validator(mode="after")
    def _check(self) -> Self:
        if self.incident:
            missing = [k for k in ("cause", "start") if getattr(self, k) is None]
            if not self.services:
                missing.append("services")
            if missing:
                raise ValueError(f"an expected incident needs {', '.join(missing)}")
            if self.end is not None and self.start is not None and self.end <= self.start:
                raise ValueError("end must be after start")
        elif self.cause is not None or self.services:
            raise ValueError("incident = false takes no cause or services")
        return self


class Scenario(BaseModel):
    """A whole scenario file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, pattern=r"^[a-z0-9][a-z0-9_\-]*$")
    description: str = ""
    topology: str | None = None
    """A topology file, relative to the scenario file (default: the built-in one)."""
    duration_s: float = Field(gt=0, le=3600)
    probe_interval_s: float = Field(default=5.0, ge=0.5, le=300)
    probe_timeout_s: float = Field(default=3.0, gt=0, le=60)
    fault: list[FaultSpec] = Field(default_factory=list)
    expect: list[Expectation] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Self:
        problems = [
            f"fault[{i}].until: {f.until:g} is after the end of the scenario ({self.duration_s:g})"
            for i, f in enumerate(self.fault)
            if f.until > self.duration_s
        ]
        problems += [
            f"expect[{i}].end: {e.end:g} is after the end of the scenario ({self.duration_s:g})"
            for i, e in enumerate(self.expect)
            if e.end is not None and e.end > self.duration_s
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file. Raises ConfigError naming the file and the place."""
    path = Path(path)
    return load_toml_model(path, Scenario)


def topology_for(scenario: Scenario, scenario_path: str | Path | None) -> Path | None:
    """The topology file a scenario names, resolved against the scenario's directory."""
    if scenario.topology is None:
        return None
    base = Path(scenario_path).parent if scenario_path is not None else Path.cwd()
    return base / scenario.topology


def check_scenario(scenario: Scenario, topology: Topology, *, source: str = "<scenario>") -> None:
    """Check that every fault and expectation names things the topology has. Raises ConfigError."""
    problems: list[tuple[str, str]] = []
    names = {
        "network": {n.name for n in topology.networks},
        "service": {s.name for s in topology.services},
        "vantage": {h.name for h in topology.hosts_with("vantage")},
        "dns": {z.name for z in topology.zones} | {z.server for z in topology.zones},
    }
    for i, f in enumerate(scenario.fault):
        sort = target_sort(f.kind)
        if f.target not in names[sort]:
            known = ", ".join(sorted(names[sort]))
            problems.append((f"fault[{i}].target", f"no {sort} {f.target!r} (known: {known})"))
    services = names["service"] | {z.server for z in topology.zones}
    for i, e in enumerate(scenario.expect):
        for s in e.services:
            if s not in services:
                problems.append((f"expect[{i}].services", f"no service {s!r}"))
        for v in e.vantages:
            if v not in names["vantage"]:
                problems.append((f"expect[{i}].vantages", f"no vantage {v!r}"))
    if problems:
        raise ConfigError(source, problems)


@dataclass
class ScenarioResult:
    """What a scenario run saw: outcome counts per fault window, service and vantage."""

    scenario: str
    started: float
    duration_s: float
    vantages: list[str]
    windows: list[dict[str, Any]]
    expect: list[dict[str, Any]]
    measurements: int
    measurements_path: str | None = None
    notes: list[str] = field(default_factory=list)
    records: list[Measurement] = field(default_factory=list, repr=False)
    """The measurements themselves (not part of the JSON form)."""
    topology: Topology | None = field(default=None, repr=False)
    """The topology the run used (not part of the JSON form)."""
    feed: list[FeedLine] | None = field(default=None, repr=False)
    """The route collector feed as recorded (None: the topology has no collector)."""

    def to_json(self) -> dict[str, Any]:
        return {
            "scenario": self.scenario,
            "started": self.started,
            "duration_s": self.duration_s,
            "vantages": self.vantages,
            "windows": self.windows,
            "expect": self.expect,
            "measurements": self.measurements,
            "measurements_path": self.measurements_path,
            "notes": self.notes,
        }

    def outcomes(self, window: int, service: str, vantage: str) -> Counter[str]:
        """Outcome counts in fault window `window` (-1: outside every fault) for one service."""
        w = self.windows[window]
        return Counter(w["outcomes"].get(service, {}).get(vantage, {}))


def summarize(
    measurements: list[Measurement],
    *,
    started: float,
    faults: list[FaultSpec],
    service_of: dict[str, str],
) -> list[dict[str, Any]]:
    """Outcome counts by service and vantage, for each fault window and for the rest (last)."""

    def empty() -> dict[str, dict[str, Counter[str]]]:
        return {}

    windows = [empty() for _ in range(len(faults) + 1)]
    for m in measurements:
        offset = m.ts - started
        service = service_of.get(m.target, m.target)
        hits = [i for i, f in enumerate(faults) if f.at <= offset < f.until]
        for i in hits or [len(faults)]:
            counts = windows[i].setdefault(service, {}).setdefault(m.vantage, Counter())
            counts[m.outcome.value] += 1
    out: list[dict[str, Any]] = []
    for i, w in enumerate(windows):
        outcomes = {s: {v: dict(c) for v, c in by_v.items()} for s, by_v in w.items()}
        if i < len(faults):
            f = faults[i]
            out.append({"kind": f.kind, "target": f.target, "at": f.at, "until": f.until,
                        "outcomes": outcomes})  # fmt: skip
        else:
            out.append({"kind": None, "target": None, "at": None, "until": None,
                        "outcomes": outcomes})  # fmt: skip
    return out


class ScenarioRunner:
    """Runs one scenario in a fresh lab and collects what the vantages measured.

    `sleep` and `wall` are injectable for tests; `progress` receives progress lines;
    `on_start(lab, started)` is called once the agents run and the clock starts (the live
    view uses it with a `sleep` that watches the measurements while it waits). The lab's
    namespaces start with `prefix` (default: $NETVIGIL_LAB_PREFIX or `nv-`). With a
    route collector in the topology, a recorder (`netvigil.lab.feedrecord`) in the
    collector's namespace keeps what `netvigil run` would receive of its feed, from
    before the clock starts (the table a subscription gets) to the end.
    """

    def __init__(
        self,
        scenario: Scenario,
        *,
        scenario_path: str | Path | None = None,
        topology_path: str | Path | None = None,
        state_dir: Path | None = None,
        out_dir: Path | None = None,
        progress: Callable[[str], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        wall: Callable[[], float] = time.time,
        on_start: Callable[[Lab, float], None] | None = None,
        prefix: str | None = None,
    ) -> None:
        self.scenario = scenario
        self.topology_path = topology_path or topology_for(scenario, scenario_path)
        self.source = str(scenario_path or scenario.name)
        self.state_dir = state_dir or default_state_dir()
        self.out_dir = out_dir
        self.progress = progress or log.info
        self.sleep = sleep
        self.wall = wall
        self.on_start = on_start
        self.prefix = prefix

    def run(self) -> ScenarioResult:
        """Run the whole scenario; the lab is torn down afterwards whatever happens."""
        topology = load_topology(self.topology_path)
        check_scenario(self.scenario, topology, source=self.source)
        prefix = self.prefix or default_prefix()
        try:
            lab = lab_up(self.topology_path, state_dir=self.state_dir, prefix=prefix)
            return self._run(lab)
        finally:
            lab_down(state_dir=self.state_dir, topology=topology, prefix=prefix)

    def _run(self, lab: Lab) -> ScenarioResult:
        sc = self.scenario
        vantages = [h.name for h in lab.topology.hosts_with("vantage")]
        out = lab.state_dir / "measurements"
        if out.exists():
            shutil.rmtree(out)
        out.mkdir(parents=True)
        feed_path = self._record_feed(lab)
        for v in vantages:
            config = lab.write_config(
                v, interval_s=sc.probe_interval_s, timeout_s=sc.probe_timeout_s
            )
            argv = lab.python("netvigil.lab.agent", "--config", str(config),
                              "--out", str(out / f"{v}.jsonl"),
                              "--duration", f"{sc.duration_s + 5:g}")  # fmt: skip
            lab.spawn(v, f"agent:{v}", argv)
        started = self.wall()
        self.progress(f"{sc.name}: lab up, agents in {', '.join(vantages)}; {sc.duration_s:g}s")
        if self.on_start is not None:
            self.on_start(lab, started)
        events: list[tuple[float, int, int]] = []
        for i, f in enumerate(sc.fault):
            events += [(f.at, 1, i), (f.until, 0, i)]
        ids: dict[int, str] = {}
        try:
            for at, start, i in sorted(events):
                self.sleep(max(0.0, started + at - self.wall()))
                f = sc.fault[i]
                if start:
                    self.progress(f"t={at:g}s start {f.kind} on {f.target}")
                    ids[i] = lab.apply_fault(f)
                else:
                    self.progress(f"t={at:g}s end {f.kind} on {f.target}")
                    lab.clear_fault(ids.pop(i, f.fault_id))
            self.sleep(max(0.0, started + sc.duration_s - self.wall()))
            check_intact(lab, vantages)
        finally:
            lab.clear_all_faults()
            for v in vantages:
                lab.stop(f"agent:{v}")
            lab.stop(FEED_RECORDER)
        measurements = self._collect(out, vantages)
        measurements = [m for m in measurements if started <= m.ts < started + sc.duration_s]
        feed = None
        if feed_path is not None:
            feed = [f for f in load_feed(feed_path) if f.received < started + sc.duration_s]
        service_of = {
            t: (s or "control") for s, names in target_names(lab.topology).items() for t in names
        }
        result = ScenarioResult(
            scenario=sc.name,
            started=started,
            duration_s=sc.duration_s,
            vantages=vantages,
            windows=summarize(
                measurements, started=started, faults=sc.fault, service_of=service_of
            ),
            expect=[e.model_dump(mode="json") for e in sc.expect],
            measurements=len(measurements),
            records=measurements,
            topology=lab.topology,
            feed=feed,
        )
        if self.out_dir is not None:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            path = self.out_dir / f"{sc.name}.measurements.jsonl"
            with path.open("w", encoding="utf-8") as fh:
                for m in sorted(measurements, key=lambda m: m.ts):
                    fh.write(json.dumps(m.to_json()) + "\n")
            result.measurements_path = str(path)
            (self.out_dir / f"{sc.name}.result.json").write_text(
                json.dumps(result.to_json(), indent=2)
            )
            (self.out_dir / f"{sc.name}.scenario.json").write_text(
                json.dumps(sc.model_dump(mode="json"), indent=2)
            )
            (self.out_dir / f"{sc.name}.topology.json").write_text(
                json.dumps(lab.topology.model_dump(mode="json"), indent=2)
            )
            if feed is not None:
                with (self.out_dir / f"{sc.name}.feed.jsonl").open("w", encoding="utf-8") as fh:
                    for line in feed:
                        fh.write(json.dumps(feed_line_json(line)) + "\n")
        return result

    def _record_feed(self, lab: Lab) -> Path | None:
        """Start the feed recorder in the collector's namespace and wait until it has
        subscribed (at most `FEED_READY_S`); its file, or None without a collector."""
        topo = lab.topology
        if not topo.collectors or lab.collector_url is None:
            return None
        host = topo.collectors[0].name
        config = lab.write_config(host, interval_s=self.scenario.probe_interval_s)
        path = lab.state_dir / "feed" / "collector.jsonl"
        path.unlink(missing_ok=True)
        argv = lab.python("netvigil.lab.feedrecord", "--config", str(config), "--out", str(path),
                          "--duration", f"{self.scenario.duration_s + 10:g}")  # fmt: skip
        lab.spawn(host, FEED_RECORDER, argv)
        deadline = time.monotonic() + FEED_READY_S
        while time.monotonic() < deadline:
            if path.exists() and '"connected"' in path.read_text(encoding="utf-8"):
                return path
            time.sleep(0.1)
        raise LabError(f"the feed recorder did not connect to {lab.collector_url} in time")

    @staticmethod
    def _collect(out: Path, vantages: list[str]) -> list[Measurement]:
        rows: list[Any] = []
        for v in vantages:
            path = out / f"{v}.jsonl"
            if not path.exists():
                raise LabError(f"the agent in {v} wrote no measurements ({path} is missing)")
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.strip():
                    rows.append(json.loads(line))
        return measurement_list_adapter.validate_python(rows)


def feed_line_json(line: FeedLine) -> dict[str, Any]:
    """A recorded feed line as `netvigil.lab.feedrecord` writes it."""
    if line.message is not None:
        return {"received": line.received, "message": line.message}
    row: dict[str, Any] = {"received": line.received, "state": line.state}
    if line.error:
        row["error"] = line.error
    return row


def check_intact(lab: Lab, vantages: list[str]) -> None:
    """Check that the lab still stands: every namespace there, every agent alive.

    Raises LabError otherwise: something else on this machine tore it down or rebuilt it
    (another `lab_up`/`lab_down`, such as the lab tests, sweeps the namespaces named nv-*),
    so the measurements do not show the scenario.
    """
    topo = lab.topology
    wanted = {lab.host_ns(h.name) for h in topo.hosts} | {
        lab.router_ns(n.name) for n in topo.networks
    }
    gone = sorted(wanted - set(netns.list_namespaces()))
    dead = []
    for v in vantages:
        pid = lab.processes.get(f"agent:{v}")
        if pid is None or pid <= 0 or not netns.is_running(pid):
            dead.append(v)
    if gone or dead:
        what = [f"namespaces gone: {', '.join(gone)}"] if gone else []
        what += [f"agents dead in: {', '.join(dead)}"] if dead else []
        raise LabError(
            f"the lab was disturbed during the run ({'; '.join(what)}); another lab_up or "
            "lab_down on this machine (the lab tests, say) removes namespaces named nv-*; "
            "run the scenario again when nothing else uses the lab"
        )


def run_scenario(
    path: str | Path,
    *,
    state_dir: Path | None = None,
    out_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> ScenarioResult:
    """Load a scenario file and run it (see ScenarioRunner). Raises ConfigError, LabError."""
    scenario = load_scenario(path)
    runner = ScenarioRunner(
        scenario, scenario_path=path, state_dir=state_dir, out_dir=out_dir, progress=progress
    )
    return runner.run()

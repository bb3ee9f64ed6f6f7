"""The fault seam without a lab: the kinds map, undo records, and a lab that knows no kind.

A `RecordingHost` (a small fake of `LabHost`) records the commands faults would run, so
what a fault changes and what its undo takes back can be compared; a kind registered
here, as a third party would, goes through the real `Lab`, its state file and `lab_down`.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from netvigil.errors import LabError
from netvigil.lab import FAULT_KINDS, FAULTS, Fault, FaultSpec, Lab, LabHost, UndoRecord
from netvigil.lab.faults import ActiveFault, make_fault, register
from netvigil.lab.lifecycle import lab_down
from netvigil.lab.scenario import FAULT_CAUSE, Scenario
from netvigil.lab.topology import Topology, load_topology
from netvigil.lab.truth import expectation_for, expectations_for
from netvigil.lab.wiring import downlink_of, port_of, routed_prefixes

SMALL = Path(__file__).parent / "small.toml"


class RecordingHost:
    """A `LabHost` that runs nothing: it records each command and process action."""

    def __init__(self, topology: Topology, *, fail_on: str | None = None) -> None:
        self.topology = topology
        self.ca_file = Path("/nonexistent/ca.pem")
        self.calls: list[tuple[str, ...]] = []
        self.processes: dict[str, int] = {"dns:ns": 1, "service:portal": 2}
        self.fail_on = fail_on

    def command(self, name: str, argv: Sequence[str], *, check: bool = True) -> str:
        if self.fail_on is not None and self.fail_on in argv and check:
            raise LabError(f"{name}: {' '.join(argv)} failed")
        self.calls.append(("command", name, *argv))
        return ""

    def port_of(self, host: str) -> str:
        return port_of(self.topology, host)

    def downlink_of(self, network: str) -> str:
        return downlink_of(self.topology, network)

    def routed_prefixes(self, network: str) -> list[str]:
        return routed_prefixes(self.topology, network)

    def add_routes(self, network: str) -> None:
        self.calls.append(("add_routes", network))

    def withdraw_routes(self, network: str) -> None:
        self.calls.append(("withdraw_routes", network))

    def reset_queue(self, network: str) -> None:
        self.calls.append(("reset_queue", network))

    def python(self, module: str, *args: str) -> list[str]:
        return ["python", "-m", module, *args]

    def spawn(self, name: str, key: str, argv: Sequence[str]) -> int:
        self.calls.append(("spawn", name, key, *argv))
        self.processes[key] = 99
        return 99

    def stop(self, key: str, *, sig: signal.Signals = signal.SIGTERM) -> None:
        self.calls.append(("stop", key, sig.name))
        self.processes.pop(key, None)

    def signal(self, key: str, sig: signal.Signals) -> None:
        if key not in self.processes:
            raise LabError(f"no lab process {key!r} is running")
        self.calls.append(("signal", key, sig.name))

    def has_process(self, key: str) -> bool:
        return key in self.processes

    def start_service(self, name: str, *, wait: bool = True) -> None:
        self.calls.append(("start_service", name))

    def bird_socket(self, name: str) -> str:
        return f"/nonexistent/{name}.ctl"

    def birdc(self, network: str, *args: str, check: bool = True) -> str:
        self.calls.append(("birdc", network, *args))
        return ""


def _host(fail_on: str | None = None) -> LabHost:
    return RecordingHost(load_topology(SMALL), fail_on=fail_on)


TARGETS = {"network": "gov", "service": "portal", "dns": "gov.lab", "vantage": "home"}


def spec(kind: str, **knobs: Any) -> FaultSpec:
    target = TARGETS[FAULTS[kind].target]
    return FaultSpec.model_validate({"kind": kind, "target": target, "until": 60, **knobs})


def test_every_built_in_kind_is_registered_with_its_cause() -> None:
    assert set(FAULT_KINDS) == {
        "shutdown", "shutdown_reject", "route_withdrawal", "volumetric_ddos",
        "application_ddos", "service_crash", "dns_outage", "dns_servfail", "tls_expired",
        "in_country_filter", "vantage_down", "latency_spike", "bgp_withdrawal", "rtbh",
        "scrubbing_diversion", "defensive_withdrawal", "dataplane_block",
    }  # fmt: skip
    assert FAULT_CAUSE["shutdown"] == "shutdown"
    assert FAULT_CAUSE["vantage_down"] == "vantage_problem"
    assert FAULT_CAUSE["latency_spike"] is None
    assert FAULT_CAUSE["bgp_withdrawal"] == "route_withdrawal"
    assert FAULT_CAUSE["dataplane_block"] == "shutdown"
    assert FAULT_CAUSE["scrubbing_diversion"] is None


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_undo_records_survive_the_state_file(kind: str) -> None:
    host = _host()
    fault = make_fault(spec(kind))
    fault.check(host)
    record = fault.apply(host)
    active = ActiveFault(fault.spec, 1.0, record)
    back = ActiveFault.from_json(json.loads(json.dumps(active.to_json())))
    assert back == active
    assert type(back.record) is FAULTS[kind].record_type


@pytest.mark.parametrize("kind", FAULT_KINDS)
def test_undo_takes_back_what_apply_changed(kind: str) -> None:
    host = _host()
    assert isinstance(host, RecordingHost)
    fault = make_fault(spec(kind))
    record = fault.apply(host)
    applied = list(host.calls)
    assert applied, f"{kind} changed nothing"
    host.calls.clear()
    fault.undo(host, record)
    undone = host.calls
    assert undone, f"{kind} undid nothing"
    inserted = [c for c in applied if "-I" in c]
    deleted = [c for c in undone if "-D" in c]
    assert len(inserted) == len(deleted)
    for ins, dele in zip(inserted, deleted, strict=True):  # the same rule, without "1"
        i = ins.index("-I")
        assert dele == (*ins[:i], "-D", ins[i + 1], *ins[i + 3 :])
    for call in applied:
        if call[0] == "spawn":
            assert ("stop", call[2], "SIGTERM") in undone


def test_shutdown_drops_at_the_border_in_both_families() -> None:
    host = _host()
    assert isinstance(host, RecordingHost)
    make_fault(spec("shutdown")).apply(host)
    assert host.calls == [
        ("command", "gov", tool, "-w", "-I", chain, "1", "-i", "nv-up", "-j", "DROP")
        for tool in ("iptables", "ip6tables")
        for chain in ("FORWARD", "INPUT")
    ]


def test_a_failed_apply_leaves_nothing_behind() -> None:
    host = _host(fail_on="ip6tables")
    assert isinstance(host, RecordingHost)
    with pytest.raises(LabError, match="ip6tables"):
        make_fault(spec("in_country_filter")).apply(host)
    inserted = [c for c in host.calls if "-I" in c]
    deleted = [c for c in host.calls if "-D" in c]
    assert inserted and len(deleted) == len(inserted)


def test_checks_refuse_targets_that_do_not_fit() -> None:
    host = _host()
    with pytest.raises(LabError, match="core network"):
        make_fault(FaultSpec(kind="shutdown", target="transit", until=10)).check(host)
    with pytest.raises(LabError, match="no service named 'nowhere'"):
        make_fault(FaultSpec(kind="service_crash", target="nowhere", until=10)).check(host)
    with pytest.raises(LabError, match="does not use TLS"):
        make_fault(FaultSpec(kind="tls_expired", target="control", until=10)).apply(host)


# --- a kind from outside: one class, registered -----------------------------------


@dataclass(frozen=True, slots=True)
class Marked(UndoRecord):
    path: str


class MarkerFault(Fault[Marked]):
    """Writes a marker file named after the target; undo removes it."""

    kind = "test_marker"
    target = "service"
    cause = None
    record_type = Marked
    folder: ClassVar[Path] = Path("/nonexistent")

    def apply(self, host: LabHost) -> Marked:
        path = self.folder / f"{self.spec.target}.marker"
        path.write_text(self.spec.fault_id)
        return Marked(str(path))

    def undo(self, host: LabHost, record: Marked) -> None:
        Path(record.path).unlink()


@pytest.fixture
def marker_dir(tmp_path: Path) -> Iterator[Path]:
    """The marker kind registered (as a third party's module would) for one test."""
    MarkerFault.folder = tmp_path / "markers"
    MarkerFault.folder.mkdir()
    register(MarkerFault)
    try:
        yield MarkerFault.folder
    finally:
        del FAULTS[MarkerFault.kind]


@pytest.mark.usefixtures("marker_dir")
def test_scenarios_accept_registered_kinds_only() -> None:
    base = {"name": "x", "duration_s": 60, "expect": [{"incident": False}]}
    ok = Scenario.model_validate({**base, "fault": [{"kind": "test_marker", "target": "portal",
                                                     "until": 10}]})  # fmt: skip
    assert ok.fault[0].kind == "test_marker"
    with pytest.raises(ValueError, match="unknown fault kind 'meteor'"):
        Scenario.model_validate({**base, "fault": [{"kind": "meteor", "target": "x", "until": 1}]})


def test_the_lab_applies_saves_loads_and_clears_a_kind_it_does_not_know(
    tmp_path: Path, marker_dir: Path
) -> None:
    lab = Lab(topology=load_topology(SMALL), state_dir=tmp_path / "state")
    fault_id = lab.apply_fault(FaultSpec(kind="test_marker", target="portal", until=30))
    marker = marker_dir / "portal.marker"
    assert marker.read_text() == fault_id
    state = json.loads((tmp_path / "state" / "lab.json").read_text())
    assert state["active_faults"][fault_id]["undo"] == {"path": str(marker)}
    other = Lab.load(tmp_path / "state")  # another process
    assert other.active_faults[fault_id].record == Marked(str(marker))
    other.clear_fault(fault_id)
    assert not marker.exists()
    assert Lab.load(tmp_path / "state").active_faults == {}


def test_lab_down_undoes_faults_left_by_a_process_that_died(
    tmp_path: Path, marker_dir: Path
) -> None:
    topology = Topology.model_validate(
        {"name": "lone", "networks": [{"name": "zz-core", "prefix4": "203.0.113.240/28"}],
         "hosts": [{"name": "zz-web", "network": "zz-core"}],
         "services": [{"name": "zz-web", "host": "zz-web"}]}
    )  # fmt: skip
    state_dir = tmp_path / "state"
    lab = Lab(topology=topology, state_dir=state_dir)
    fault_id = lab.apply_fault(FaultSpec(kind="test_marker", target="zz-web", until=30))
    assert (marker_dir / "zz-web.marker").exists()
    del lab  # the process that applied it is gone; only the state file knows
    removed = lab_down(state_dir=state_dir, topology=topology)
    assert f"fault {fault_id}" in removed
    assert not (marker_dir / "zz-web.marker").exists()
    assert not (state_dir / "lab.json").exists()


# --- the BGP kinds: what they tell the routers' BIRDs -------------------------------


def test_bgp_withdrawal_turns_the_origins_off_or_one_upstream_session() -> None:
    host = _host()
    assert isinstance(host, RecordingHost)
    whole = make_fault(spec("bgp_withdrawal"))
    whole.check(host)
    record = whole.apply(host)
    assert host.calls == [("birdc", "gov", "disable", '"origin?"')]
    whole.undo(host, record)
    assert host.calls[-1] == ("birdc", "gov", "enable", '"origin?"')
    one = make_fault(FaultSpec(kind="bgp_withdrawal", target="isp", until=9, upstream="transit2"))
    one.check(host)
    host.calls.clear()
    one.apply(host)
    assert host.calls == [("birdc", "isp", "disable", '"up?_transit2"')]
    assert FAULTS["bgp_withdrawal"].cause_of(one.spec) is None  # still reachable via transit
    assert expectation_for(host.topology, one.spec) is None
    assert expectation_for(host.topology, whole.spec) is not None


def test_bgp_kinds_refuse_targets_that_do_not_fit() -> None:
    host = _host()
    with pytest.raises(LabError, match="not an upstream"):
        make_fault(FaultSpec(kind="bgp_withdrawal", target="gov", until=9, upstream="isp")).check(
            host
        )
    with pytest.raises(LabError, match="has one upstream"):
        # gov's other upstream is a scrubbing service, which holds no BGP session with it
        make_fault(
            FaultSpec(kind="bgp_withdrawal", target="gov", until=9, upstream="transit")
        ).check(host)
    with pytest.raises(LabError, match="no scrubbing network"):
        make_fault(FaultSpec(kind="scrubbing_diversion", target="isp", until=9)).check(host)


def test_rtbh_announces_the_service_host_with_the_blackhole_community() -> None:
    host = _host()
    assert isinstance(host, RecordingHost)
    make_fault(spec("rtbh")).apply(host)
    assert host.calls == [
        ("birdc", "gov", "enable", "rtbh4_portal"),
        ("birdc", "gov", "enable", "rtbh6_portal"),
    ]


def test_dataplane_block_drops_on_every_upstream_link_and_leaves_bgp_alone() -> None:
    host = _host()
    assert isinstance(host, RecordingHost)
    make_fault(spec("dataplane_block")).apply(host)
    rules = [c for c in host.calls if c[0] == "command"]
    assert {c[1] for c in rules} == {"transit", "scrub"}
    assert all(c[-2:] == ("-j", "DROP") and "FORWARD" in c for c in rules)
    assert not [c for c in host.calls if c[0] == "birdc"]


def test_defensive_withdrawal_floods_then_withdraws_after_the_delay() -> None:
    host = _host()
    assert isinstance(host, RecordingHost)
    fault = make_fault(spec("defensive_withdrawal", withdraw_after_s=7))
    record = fault.apply(host)
    spawned = [c for c in host.calls if c[0] == "spawn"]
    assert spawned[0][2].startswith("flood:") and "netvigil.lab.flood" in spawned[0]
    timer = spawned[1]
    assert timer[1] == "gov" and timer[-1].startswith("sleep 7 && exec birdc -s")
    assert timer[-1].endswith("""disable '"origin?"'""")
    host.calls.clear()
    fault.undo(host, record)
    assert host.calls[-1] == ("birdc", "gov", "enable", '"origin?"')


def test_defensive_withdrawal_expects_the_flood_then_the_withdrawal() -> None:
    topo = load_topology(SMALL)
    flood_then_gone = FaultSpec(
        kind="defensive_withdrawal", target="gov", at=10, until=100, withdraw_after_s=30
    )
    phases = [(e.cause, e.start, e.end) for e in expectations_for(topo, flood_then_gone)]
    assert phases == [("volumetric_ddos", 10, 40), ("ddos_mitigation", 40, 100)]
    never_withdrawn = flood_then_gone.model_copy(update={"withdraw_after_s": 200})
    assert [e.cause for e in expectations_for(topo, never_withdrawn)] == ["volumetric_ddos"]
    assert not FAULTS["defensive_withdrawal"].fits(topo, "isp")  # no shaped uplink to congest

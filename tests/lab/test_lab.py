"""Lab lifecycle, topology and scenario files, the generated netvigil config."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from netvigil.config import parse_config
from netvigil.errors import ConfigError, LabError
from netvigil.lab import FaultSpec, Lab, lab_down, lab_status, lab_up, load_topology
from netvigil.lab.faults import FAULT_KINDS
from netvigil.lab.lab import default_prefix
from netvigil.lab.netns import check_prefix, list_links, list_namespaces
from netvigil.lab.scenario import (
    FAULT_CAUSE,
    Scenario,
    check_scenario,
    load_scenario,
    topology_for,
)
from netvigil.lab.wiring import own_namespaces

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.toml"))


# --- files (no root needed) ----------------------------------------------------


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_shipped_scenarios_load_and_fit_their_topology(path: Path) -> None:
    scenario = load_scenario(path)
    topology = load_topology(topology_for(scenario, path))
    check_scenario(scenario, topology, source=str(path))


def test_scenarios_cover_every_fault_kind_and_the_named_cases() -> None:
    scenarios = [load_scenario(p) for p in SCENARIOS]
    kinds = {f.kind for s in scenarios for f in s.fault}
    assert kinds == set(FAULT_KINDS)
    names = {s.name for s in scenarios}
    assert {"albania-2022", "norway-2022", "healthy", "two-at-once"} <= names
    healthy = next(s for s in scenarios if s.name == "healthy")
    assert healthy.duration_s >= 600
    assert all(not e.incident for e in healthy.expect)
    assert set(FAULT_CAUSE) == set(FAULT_KINDS)


def test_scenario_errors_name_file_and_place(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        'name = "bad"\nduration_s = 60\n[[fault]]\nkind = "meteor"\ntarget = "gov"\nuntil = 10\n'
        "[[expect]]\nincident = false\n"
    )
    with pytest.raises(ConfigError) as info:
        load_scenario(bad)
    assert str(info.value).startswith(f"{bad}: fault[0].kind:")
    late = tmp_path / "late.toml"
    late.write_text(
        'name = "late"\nduration_s = 60\n[[fault]]\nkind = "shutdown"\ntarget = "gov"\n'
        "at = 10\nuntil = 90\n[[expect]]\nincident = false\n"
    )
    with pytest.raises(ConfigError, match="after the end of the scenario"):
        load_scenario(late)


def test_scenario_targets_are_checked_against_the_topology() -> None:
    scenario = Scenario.model_validate(
        {"name": "x", "duration_s": 60,
         "fault": [{"kind": "service_crash", "target": "nowhere", "until": 10}],
         "expect": [{"incident": False}]}
    )  # fmt: skip
    with pytest.raises(ConfigError, match=r"x: fault\[0\]\.target: no service 'nowhere'"):
        check_scenario(scenario, load_topology(), source="x")


def test_topology_refuses_addresses_outside_documentation_ranges(
    tmp_path: Path, small_topology: Path
) -> None:
    text = small_topology.read_text().replace('prefix4 = "192.0.2.0/26"', 'prefix4 = "10.0.0.0/24"')
    path = tmp_path / "t.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"networks\[2\]\.prefix4: 10\.0\.0\.0/24 is not"):
        load_topology(path)


def test_generated_config_is_a_valid_netvigil_config(tmp_path: Path) -> None:
    lab = Lab(topology=load_topology(), state_dir=tmp_path)
    config = parse_config(lab.netvigil_config("tirana"), source="generated")
    assert config.vantage.name == "tirana"
    assert config.vantage.in_country
    services = {s.name for s in config.services}
    assert {"e-albania", "kryeministria", "parlament", "tatime", "ns-gov"} <= services
    assert any(t.control for t in config.targets)
    abroad = parse_config(lab.netvigil_config("frankfurt"))
    assert not abroad.vantage.in_country


# --- lifecycle (root) ----------------------------------------------------------


def _leftovers(own: list[str]) -> dict[str, object]:
    """What is left of a lab whose namespaces are `own` (other tests on this machine
    may hold namespaces named nv-* of their own meanwhile)."""
    rules = subprocess.run(["iptables", "-S"], capture_output=True, text=True).stdout
    return {
        "namespaces": sorted(set(list_namespaces()) & set(own)),
        "root links": list_links(None),
        "etc": sorted(p.name for p in Path("/etc/netns").glob("nv-*") if p.name in own),
        "root rules": [r for r in rules.splitlines() if "nv-" in r],
    }


@pytest.mark.netns
@pytest.mark.timeout(120)
@pytest.mark.usefixtures("root")
def test_default_lab_up_probe_and_down_leaves_nothing(tmp_path: Path) -> None:
    rules_before = subprocess.run(["iptables", "-S"], capture_output=True, text=True).stdout
    lab = lab_up(None, state_dir=tmp_path)
    try:
        status = lab_status(state_dir=tmp_path)
        assert status.up and status.topology == "albania-2022"
        assert not status.dead_processes
        pids = list(lab.processes.values())
        seen = lab.probe("tirana", targets=["e-albania-https", "tatime-https", "parlament-http"])
        assert {m.outcome.value for m in seen} == {"ok"}, [(m.target, m.outcome) for m in seen]
        # The root namespace learns no route to any lab address.
        routes = subprocess.run(["ip", "route", "get", "203.0.113.2"], capture_output=True,
                                text=True).stdout  # fmt: skip
        assert "nv-" not in routes
    finally:
        removed = lab_down(state_dir=tmp_path, topology=lab.topology)
    assert any(r.startswith(f"namespace {lab.router_ns('gov')}") for r in removed)
    own = own_namespaces(lab.topology)
    assert _leftovers(own) == {"namespaces": [], "root links": [], "etc": [], "root rules": []}
    assert subprocess.run(["iptables", "-S"], capture_output=True, text=True).stdout == rules_before
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or _is_zombie(pid)
    assert lab_down(state_dir=tmp_path, topology=lab.topology) == []  # idempotent
    assert not set(lab_status(state_dir=tmp_path).namespaces) & set(own)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()[0] == "Z"
    except OSError:
        return True


@pytest.mark.netns
@pytest.mark.timeout(180)
@pytest.mark.usefixtures("root")
def test_two_labs_of_one_topology_run_side_by_side(tmp_path: Path, small_topology: Path) -> None:
    a = lab_up(small_topology, state_dir=tmp_path / "a", prefix="nv-x1-")
    try:
        b = lab_up(small_topology, state_dir=tmp_path / "b", prefix="nv-x2-")
        try:
            assert set(own_namespaces(a.topology, "nv-x2-")) <= set(list_namespaces("nv-x2-"))
            a.apply_fault(FaultSpec(kind="shutdown", target="gov", until=60))
            in_a = a.probe("home", targets=["portal-tcp"], timeout_s=1.5)
            in_b = b.probe("home", targets=["portal-tcp"], timeout_s=1.5)
            assert [m.outcome.value for m in in_a] == ["tcp_timeout"]
            assert [m.outcome.value for m in in_b] == ["ok"]
            removed = lab_down(state_dir=tmp_path / "a", prefix="nv-x1-")
            assert "fault shutdown:gov:0" in removed
            assert list_namespaces("nv-x1-") == []
            assert set(own_namespaces(b.topology, "nv-x2-")) <= set(list_namespaces("nv-x2-"))
            again = b.probe("home", targets=["portal-tcp"], timeout_s=1.5)
            assert [m.outcome.value for m in again] == ["ok"]
        finally:
            lab_down(state_dir=tmp_path / "b", prefix="nv-x2-")
    finally:
        lab_down(state_dir=tmp_path / "a", prefix="nv-x1-")
    assert list_namespaces("nv-x2-") == []


def test_lab_prefixes_are_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    assert check_prefix("nv-") == "nv-" and check_prefix("nv-a1-") == "nv-a1-"
    for bad in ("xx-", "nv-A-", "nv-toolongname-", "nv-a"):
        with pytest.raises(LabError, match="is not `nv-`"):
            check_prefix(bad)
    monkeypatch.setenv("NETVIGIL_LAB_PREFIX", "nv-q-")
    assert default_prefix() == "nv-q-"
    lab = Lab(topology=load_topology(), state_dir=Path("/nonexistent"), prefix="nv-q-")
    assert lab.namespace("tirana") == "nv-q-tirana" and lab.namespace("gov") == "nv-q-r-gov"

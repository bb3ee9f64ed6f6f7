"""Random scenarios: deterministic per seed, valid, and their ground truth (no lab)."""

from __future__ import annotations

from pathlib import Path

import pytest

from netvigil.cause import Cause
from netvigil.lab.faults import FAULTS, FaultSpec
from netvigil.lab.fuzz import FuzzSettings, compose, compose_many, targets, write_scenario
from netvigil.lab.scenario import check_scenario, load_scenario
from netvigil.lab.topology import Topology, load_topology
from netvigil.lab.truth import (
    affected_services,
    expectation_for,
    expectations_for,
    flood_overload,
)

SMALL = Path(__file__).parent / "small.toml"


@pytest.fixture(scope="module")
def default() -> Topology:
    return load_topology(None)


def test_the_same_seed_composes_the_same_scenarios_and_another_seed_others(
    default: Topology,
) -> None:
    a = compose_many(7, 8, default)
    assert a == compose_many(7, 8, default)
    assert compose_many(7, 3, default) == a[:3], "scenario i does not depend on the count"
    assert [s.fault for s in compose_many(8, 8, default)] != [s.fault for s in a]
    assert [s.name for s in a] == [f"fuzz-7-{i}" for i in range(8)]


@pytest.mark.parametrize("topology", [None, SMALL])
def test_every_composed_scenario_validates_and_replays_from_its_file(
    topology: Path | None, tmp_path: Path
) -> None:
    topo = load_topology(topology)
    settings = FuzzSettings()
    kinds_seen: set[str] = set()
    for seed in range(1, 11):
        for s in compose_many(seed, 4, topo):
            path = write_scenario(s, tmp_path)
            back = load_scenario(path)
            assert back == s
            check_scenario(back, topo, source=str(path))
            assert 1 <= len(s.fault) <= 3
            assert 2 <= s.probe_interval_s <= 10
            assert s.duration_s >= max(f.until for f in s.fault) + settings.tail_s
            kinds_seen |= {f.kind for f in s.fault}
            truths = [e for e in s.expect if e.incident]
            expected = [e for f in s.fault for e in expectations_for(topo, f)]
            assert [e.cause for e in truths] == [e.cause for e in expected]
            for f in s.fault:
                if not expectations_for(topo, f):
                    phases = [c for c, _, _ in FAULTS[f.kind].phases(f)]
                    assert all(c is None for c in phases) or f.kind == "volumetric_ddos"
            if not truths:
                assert [e.incident for e in s.expect] == [False]
    assert len(kinds_seen) >= 8, kinds_seen


def test_faults_whose_truths_would_blur_are_kept_apart(default: Topology) -> None:
    for seed in range(1, 31):
        for s in compose_many(seed, 3, default):
            settle = 3 * s.probe_interval_s
            for i, a in enumerate(s.fault):
                for b in s.fault[i + 1 :]:
                    if a.until + settle <= b.at or b.until + settle <= a.at:
                        continue
                    assert a.target != b.target
                    if "vantage" not in {FAULTS[a.kind].target, FAULTS[b.kind].target}:
                        shared = set(affected_services(default, a)) & set(
                            affected_services(default, b)
                        )
                        assert not shared, (s.name, a, b)


def test_ground_truth_follows_each_fault_kinds_documented_effect(default: Topology) -> None:
    gov = ["e-albania", "kryeministria", "ns-gov", "parlament"]

    def truth(kind: str, target: str) -> tuple[Cause | None, list[str], list[str]] | None:
        e = expectation_for(default, FaultSpec(kind=kind, target=target, at=10, until=50))
        return None if e is None else (e.cause, e.services, e.vantages)

    assert truth("shutdown", "gov") == (Cause.SHUTDOWN, gov, [])
    assert truth("in_country_filter", "gov") == (Cause.IN_COUNTRY_FILTERING, gov, ["tirana"])
    assert truth("service_crash", "tatime") == (Cause.SERVICE_FAILURE, ["tatime"], [])
    assert truth("dns_outage", "gov.al.lab") == (Cause.DNS_FAILURE, ["ns-gov"], [])
    assert truth("vantage_down", "tirana") == (
        Cause.VANTAGE_PROBLEM,
        sorted([*gov, "tatime"]),
        ["tirana"],
    )
    assert truth("latency_spike", "gov") is None


def test_a_flood_is_an_outage_only_when_it_overloads_the_uplink(default: Topology) -> None:
    def flood(network: str, pps: int) -> FaultSpec:
        return FaultSpec(kind="volumetric_ddos", target=network, at=10, until=50, rate_pps=pps)

    # gov's uplink is 4 Mbit/s, tax's 8 Mbit/s; a flood of datagrams up to 1,200 bytes
    # sends about 632 bytes each on average.
    assert flood_overload(default, flood("gov", 2500)) == pytest.approx(3.16, abs=0.01)
    assert flood_overload(default, flood("tax", 3000)) == pytest.approx(1.90, abs=0.01)
    heavy = expectation_for(default, flood("gov", 2500))
    assert heavy is not None and heavy.cause is Cause.VOLUMETRIC_DDOS
    assert expectation_for(default, flood("tax", 3000)) is None, "congestion, not an outage"
    assert expectation_for(default, flood("tax", 4000)) is not None


def test_a_defensive_withdrawal_after_mere_congestion_expects_only_the_withdrawal(
    default: Topology,
) -> None:
    def defence(network: str, pps: int) -> FaultSpec:
        return FaultSpec(kind="defensive_withdrawal", target=network, at=10, until=80, rate_pps=pps)

    causes = [e.cause for e in expectations_for(default, defence("gov", 3000))]
    assert causes == [Cause.VOLUMETRIC_DDOS, Cause.DDOS_MITIGATION], "x3.8: an outage first"
    congested = expectations_for(default, defence("tax", 3000))
    assert [(e.cause, e.start, e.end) for e in congested] == [(Cause.DDOS_MITIGATION, 30, 80)]


def test_targets_are_those_a_kind_can_take(default: Topology) -> None:
    assert targets(default, "tls_expired") == ["e-albania", "tatime"]
    assert "transit" not in targets(default, "shutdown")
    assert "isp" not in targets(default, "shutdown"), "no watched service there"
    assert "isp" in targets(default, "latency_spike"), "benign jitter on a vantage's path"
    assert "transit" not in targets(default, "latency_spike")
    assert targets(default, "in_country_filter") == ["gov", "tax"]
    assert "control" not in targets(default, "service_crash")


def test_quick_settings_make_short_single_fault_runs(default: Topology) -> None:
    for i in range(10):
        s = compose(3, i, default, FuzzSettings.quick())
        assert len(s.fault) == 1 and s.duration_s <= 25 and s.probe_interval_s == 1

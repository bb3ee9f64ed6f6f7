"""`netvigil lab run --json` end to end on the small test topology, then `lab down`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from netvigil.lab.netns import list_links, list_namespaces
from netvigil.lab.scenario import load_scenario
from netvigil.lab.topology import load_topology
from netvigil.lab.wiring import own_namespaces

SMALL = Path(__file__).resolve().parent.parent / "lab" / "small.toml"

SCENARIO = """
name = "tiny-crash"
description = "The portal's server dies for a few seconds"
duration_s = 16
probe_interval_s = 1
probe_timeout_s = 1.5
topology = "{topology}"

[[fault]]
kind = "service_crash"
target = "portal"
at = 5
until = 11

[[expect]]
cause = "service_failure"
services = ["portal"]
start = 5
end = 11
"""


def netvigil(
    *args: str, env: dict[str, str], timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netvigil", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
        check=False,
    )


def require_root() -> None:
    if os.geteuid() != 0:
        if os.environ.get("CI") == "true":
            pytest.fail("lab tests must run as root in CI")
        pytest.skip("the lab needs root (network namespaces)")


@pytest.mark.netns
@pytest.mark.timeout(120)
def test_lab_run_writes_reported_truth_and_score_and_down_leaves_nothing(tmp_path: Path) -> None:
    require_root()
    scenario = tmp_path / "tiny-crash.toml"
    scenario.write_text(SCENARIO.format(topology=SMALL))
    out = tmp_path / "run.json"
    env = {
        **os.environ,
        "NETVIGIL_LAB_DIR": str(tmp_path / "state"),
        "NETVIGIL_LAB_PREFIX": "nv-c-",
    }
    try:
        proc = netvigil("lab", "run", str(scenario), "--json", str(out), "--plain", env=env)
        assert proc.returncode == 0, proc.stderr[-3000:]
    finally:
        down = netvigil("lab", "down", env=env)
    assert down.returncode == 0, down.stderr
    ours = set(own_namespaces(load_topology(SMALL), "nv-c-"))
    assert ours & set(list_namespaces()) == set()
    assert list_links(None) == []
    assert ours & {p.name for p in Path("/etc/netns").glob("nv-*")} == set()
    status = json.loads(netvigil("lab", "status", "--json", env=env).stdout)
    assert status["topology"] is None and status["processes"] == {}
    assert ours & set(status["namespaces"]) == set()

    doc = json.loads(out.read_text())
    assert doc["scenario"] == "tiny-crash" and doc["measurements"] > 0
    assert {"incidents", "expected", "score", "windows", "faults"} <= set(doc)
    assert doc["expected"][0]["cause"] == "service_failure"
    for inc in doc["incidents"]:
        assert {"cause", "services", "start", "end", "confidence", "confirmed_at"} <= set(inc)
    score = doc["score"]
    (exp,) = score["expectations"]
    assert {
        "detected",
        "delay_s",
        "delay_intervals",
        "cause_right",
        "reported_cause",
        "services_recall",
    } <= set(exp)
    assert {"services_precision", "services_recall", "false_incidents"} <= set(score)
    # The portal refused connections from both vantages for six intervals: the probes saw
    # it in the fault's window (and nowhere else), and netvigil reported it.
    crash, rest = doc["windows"]
    assert crash["kind"] == "service_crash"
    for v in ("home", "abroad"):
        during = crash["outcomes"]["portal"][v]
        assert during.get("tcp_refused", 0) >= 1, during
        outside = rest["outcomes"]["portal"][v]
        assert outside.get("ok", 0) >= 1, outside
    assert exp["detected"], doc["incidents"]
    assert "portal" in exp["services_found"]
    assert "tiny-crash:" in proc.stdout and "false incidents" in proc.stdout


def _crash_seed() -> int:
    """A seed whose first quick scenario on the small topology crashes the portal."""
    from netvigil.lab.fuzz import FuzzSettings, compose

    topo = load_topology(SMALL)
    for seed in range(100):
        s = compose(seed, 0, topo, FuzzSettings.quick())
        if [f.kind for f in s.fault] == ["service_crash"]:
            return seed
    raise AssertionError("no seed below 100 composes a service crash")


def test_lab_fuzz_dry_run_writes_replayable_scenarios(tmp_path: Path) -> None:
    out = tmp_path / "fuzz"
    args = ["lab", "fuzz", "--seed", "5", "--count", "3", "--dry-run", "--out", str(out)]
    first = netvigil(*args, env=dict(os.environ))
    assert first.returncode == 0, first.stderr
    files = sorted(out.glob("*.toml"))
    assert [f.name for f in files] == [f"fuzz-5-{i}.toml" for i in range(3)]
    texts = [f.read_text() for f in files]
    again = netvigil(*args, env=dict(os.environ))
    assert again.returncode == 0 and [f.read_text() for f in files] == texts
    for f in files:
        load_scenario(f)
    assert "Composed at random" in first.stdout


@pytest.mark.netns
@pytest.mark.timeout(180)
def test_lab_fuzz_runs_a_short_random_scenario_end_to_end(tmp_path: Path) -> None:
    require_root()
    seed = _crash_seed()
    out, report = tmp_path / "fuzz", tmp_path / "fuzz.json"
    env = {
        **os.environ,
        "NETVIGIL_LAB_DIR": str(tmp_path / "state"),
        "NETVIGIL_LAB_PREFIX": "nv-f-",
    }
    try:
        proc = netvigil(
            "lab", "fuzz", "--seed", str(seed), "--count", "1", "--quick", "--topology",
            str(SMALL), "--out", str(out), "--json", str(report), "--plain",
            env=env, timeout=150,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr[-3000:]
    finally:
        netvigil("lab", "down", env=env)
    doc = json.loads(report.read_text())
    assert doc["seed"] == seed and doc["failed"] == []
    (run,) = doc["runs"]
    assert run["scenario"] == f"fuzz-{seed}-0" and run["measurements"] > 0
    (exp,) = run["score"]["expectations"]
    assert exp["cause"] == "service_failure" and exp["services"] == ["portal"]
    assert exp["detected"], run["incidents"]
    assert {"cause_at_confirmation", "right_cause_share", "cause_flips"} <= set(exp)
    assert (out / f"fuzz-{seed}-0.toml").exists()
    assert (out / f"fuzz-{seed}-0.measurements.jsonl").exists()
    assert doc["total"]["detected"] == 1


def test_lab_run_without_root_says_what_is_missing() -> None:
    with tempfile.TemporaryDirectory(prefix="nv-cli-") as folder:
        where = Path(folder)
        where.chmod(0o755)  # readable by the unprivileged user below
        scenario = where / "tiny-crash.toml"
        scenario.write_text(SCENARIO.format(topology=SMALL))
        scenario.chmod(0o644)
        proc = _run_unprivileged(scenario, where)
    assert proc.returncode == 1, proc.stderr
    assert "the lab needs root" in proc.stderr and "sudo" in proc.stderr


def _run_unprivileged(scenario: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "netvigil", "lab", "run", str(scenario)]
    if os.geteuid() == 0:  # drop to an unprivileged user, as on a laptop without sudo
        argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
    return subprocess.run(argv, capture_output=True, text=True, cwd=cwd, timeout=60, check=False)

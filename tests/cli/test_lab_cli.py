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
    # The portal refused connections from both vantages for six intervals: netvigil sees it.
    assert exp["detected"], doc["incidents"]
    assert "portal" in exp["services_found"]
    assert "tiny-crash:" in proc.stdout and "false incidents" in proc.stdout


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

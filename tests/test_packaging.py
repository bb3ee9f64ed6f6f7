"""The sdist and the wheel: what they carry, and an installed wheel at work.

`python -m build` runs, as docs/deploy.md says, in a copy of the source tree strewn with
what must stay out of both archives (node_modules, a virtualenv, benchmark results,
databases, bytecode). The wheel is then installed into a fresh virtualenv with the guide's
commands (dependencies from the package index, so this is slow), and the installed
`netvigil` — not the source tree — checks configs, writes a demo config, and runs it:
the dashboard's page and assets, the status page and the health API answer over loopback,
and the store it made holds measurements in the current schema.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import time
import tomllib
import urllib.request
import zipfile
from pathlib import Path

import pytest

from test_deploy_docs import free_port, run_doc, wait_for_health

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # pip installs the wheel

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "netvigil"
VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
WHEEL_GLOB = "netvigil-*-py3-none-any.whl"

CLUTTER = {
    "frontend/node_modules/left-pad/index.js": "module.exports = 1;\n",
    ".venv/pyvenv.cfg": "home = /usr/bin\n",
    "bench/results/web_load.json": "{}\n",
    "out/demo/report.html": "<p>old</p>\n",
    "tests/leftover.db": "",
    "src/netvigil/store/leftover.db": "",
    "src/netvigil/__pycache__/cli.cpython-311.pyc": "",
}
"""Files a working tree gathers that neither archive may carry."""

LEAKS = re.compile(
    r"(^|/)(node_modules|__pycache__)/|^(\.venv|out|bench/results|\.git|dist)/|\.(db|pyc)$"
)
"""What CLUTTER (and a checkout's .git or dist/) looks like in an archive."""

SKIP_WHEN_COPYING = shutil.ignore_patterns(
    ".git", ".venv", "node_modules", "__pycache__", "*.pyc", "*.db", "results", "dist", "out"
)


def runtime_files() -> list[str]:
    """Every file of the package other than Python code: what it reads at run time."""
    return sorted(
        str(p.relative_to(PACKAGE.parent))
        for p in PACKAGE.rglob("*")
        if p.is_file() and p.suffix not in (".py", ".pyc", ".db") and "__pycache__" not in p.parts
    )


def build_env() -> dict[str, str]:
    """This environment with its Python first on PATH, so `python` is the one running tests.

    pip skips compiling the installed dependencies to bytecode (half an install's time here;
    Python compiles what it imports on first use), which changes nothing the tests check."""
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
    return dict(os.environ, PATH=path, PIP_NO_COMPILE="1")


def installed_env(bin_dir: Path) -> dict[str, str]:
    """An environment that finds only the installed netvigil (no source tree on the path)."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{bin_dir}{os.pathsep}/usr/bin:/bin"
    return env


@pytest.fixture(scope="module")
def source_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the source tree, with CLUTTER in it, where `python -m build` has run."""
    tree = tmp_path_factory.mktemp("source") / "netvigil"
    shutil.copytree(ROOT, tree, ignore=SKIP_WHEN_COPYING)
    for name, text in CLUTTER.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(text)
    run_doc("python -m build", tree, cwd=tree, env=build_env())
    return tree


def archive(tree: Path, pattern: str) -> Path:
    found = sorted((tree / "dist").glob(pattern))
    assert len(found) == 1, found
    return found[0]


def test_the_wheel_carries_the_package_and_what_it_reads(source_copy: Path) -> None:
    wheel = archive(source_copy, WHEEL_GLOB)
    assert wheel.name == f"netvigil-{VERSION}-py3-none-any.whl"
    names = set(zipfile.ZipFile(wheel).namelist())
    data = runtime_files()
    # the built dashboard, the status page, the migrations, the lab's topology
    for must in (
        "netvigil/web/static/manifest.json",
        "netvigil/web/templates/status.html",
        "netvigil/web/templates/status.css",
        "netvigil/web/locale/en/LC_MESSAGES/netvigil.mo",
        "netvigil/web/locale/sq/LC_MESSAGES/netvigil.mo",
        "netvigil/store/migrations/sqlite/0001_initial.sql",
        "netvigil/lab/topologies/default.toml",
        "netvigil/py.typed",
    ):
        assert must in data
    manifest = json.loads((PACKAGE / "web" / "static" / "manifest.json").read_text())
    assert {f"netvigil/web/static/{n}" for n in manifest.values()} <= set(data)
    code = [str(p.relative_to(PACKAGE.parent)) for p in PACKAGE.rglob("*.py")]
    missing = sorted(set(data + code) - names)
    assert not missing, f"not in the wheel: {missing}"
    clutter = sorted(n for n in names if n.endswith((".db", ".pyc")) or "__pycache__" in n)
    assert not clutter, clutter
    entry_points = zipfile.ZipFile(wheel).read(f"netvigil-{VERSION}.dist-info/entry_points.txt")
    assert b"netvigil = netvigil.cli:main" in entry_points


def test_the_sdist_has_the_source_and_none_of_the_clutter(source_copy: Path) -> None:
    sdist = archive(source_copy, "netvigil-*.tar.gz")
    prefix = f"netvigil-{VERSION}/"
    with tarfile.open(sdist) as tar:
        names = {n.removeprefix(prefix) for n in tar.getnames()}
    for must in (
        "pyproject.toml",
        "README.md",
        "src/netvigil/web/static/manifest.json",
        "src/netvigil/store/migrations/sqlite/0001_initial.sql",
        "tests/conftest.py",
        "frontend/package.json",
        "docs/deploy.md",
        "contrib/systemd/netvigil.service",
        "contrib/systemd/netvigil-agent.service",
        "scenarios/albania-2022.toml",
        "examples/albania.toml",
    ):
        assert must in names, must
    leaked = sorted(n for n in names if LEAKS.search(n))
    assert not leaked, leaked


@pytest.fixture(scope="module")
def installed(source_copy: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The guide's install commands, /opt moved into a temporary folder: the venv's bin."""
    root = tmp_path_factory.mktemp("root")
    run_doc("python3 -m venv /opt/netvigil", root, cwd=source_copy, env=build_env())
    install = "/opt/netvigil/bin/pip install dist/netvigil-*-py3-none-any.whl"
    started = time.monotonic()
    run_doc(install, root, cwd=source_copy, env=build_env(), timeout_s=900)
    print(f"pip install of the wheel and its dependencies: {time.monotonic() - started:.0f}s")  # noqa: T201
    return root / "opt" / "netvigil" / "bin"


def netvigil(bin_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["netvigil", *args],
        cwd=cwd,
        env=installed_env(bin_dir),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, f"netvigil {' '.join(args)}: {done.stdout}{done.stderr}"
    return done


def test_the_installed_command_is_the_wheel(installed: Path, tmp_path: Path) -> None:
    done = run_doc("netvigil --version", tmp_path, env=installed_env(installed))
    assert done.stdout.strip() == f"netvigil {VERSION}"
    where = subprocess.run(
        [installed / "python", "-c", "import netvigil; print(netvigil.__file__)"],
        cwd=tmp_path,
        env=installed_env(installed),
        capture_output=True,
        text=True,
        check=True,
    )
    assert where.stdout.startswith(str(installed.parent / "lib")), where.stdout
    checked = netvigil(
        installed, "config", "check", str(ROOT / "examples" / "albania.toml"), cwd=tmp_path
    )
    assert checked.stdout.startswith("ok ")


def test_the_upgrade_command_installs_over_the_old(installed: Path, source_copy: Path) -> None:
    root = installed.parents[2]
    upgrade = "/opt/netvigil/bin/pip install --upgrade dist/netvigil-*-py3-none-any.whl"
    done = run_doc(upgrade, root, cwd=source_copy, env=build_env(), timeout_s=900)
    assert "netvigil" in done.stdout
    version = netvigil(installed, "--version", cwd=root)
    assert version.stdout.strip() == f"netvigil {VERSION}"


def fetch(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.headers.get("Content-Type", ""), response.read()


def test_the_installed_wheel_serves_the_dashboard(installed: Path, tmp_path: Path) -> None:
    port = free_port()
    netvigil(installed, "init", "--demo", "--port", str(port), cwd=tmp_path)
    checked = netvigil(installed, "config", "check", cwd=tmp_path)
    assert "netvigil.toml" in checked.stdout and checked.stdout.startswith("ok ")
    server = subprocess.Popen(
        ["netvigil", "run", "--duration", "5", "--plain"],
        cwd=tmp_path,
        env=installed_env(installed),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_health(f"{base}/api/v1/health", server)
        status, _, page = fetch(base + "/")
        assert status == 200
        assets = re.findall(rb'(?:href|src)="/static/(app-[A-Z0-9]+\.(?:js|css))"', page)
        assert len(assets) == 2, page
        for name in assets:
            status, kind, body = fetch(f"{base}/static/{name.decode()}")
            assert status == 200
            assert kind.startswith("text/javascript" if name.endswith(b".js") else "text/css")
            assert body == (PACKAGE / "web" / "static" / name.decode()).read_bytes()
        status, _, health = fetch(f"{base}/api/v1/health")
        assert status == 200 and json.loads(health)
        status, _, css = fetch(f"{base}/status.css")
        assert css == (PACKAGE / "web" / "templates" / "status.css").read_bytes()
        assert fetch(f"{base}/status")[0] == 200
    finally:
        out, err = server.communicate(timeout=60)
    assert server.returncode == 0, out + err
    migrations = len(list((PACKAGE / "store" / "migrations" / "sqlite").glob("*.sql")))
    with sqlite3.connect(tmp_path / "netvigil.db") as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == migrations
        stored = conn.execute("SELECT count(*), count(DISTINCT target) FROM measurements")
        count, targets = stored.fetchone()
    conn.close()
    assert count > 0 and targets >= 2, (count, targets)


def test_pipx_installs_the_wheel(source_copy: Path, tmp_path: Path) -> None:
    if shutil.which("pipx") is None:
        pytest.skip("pipx is not installed (apt package pipx)")
    home = tmp_path / "pipx"
    env = dict(build_env(), PIPX_HOME=str(home), PIPX_BIN_DIR=str(home / "bin"), HOME=str(tmp_path))
    env.pop("PYTHONPATH", None)
    pipx = "pipx install dist/netvigil-*-py3-none-any.whl"
    run_doc(pipx, tmp_path, cwd=source_copy, env=env, timeout_s=900)
    version = subprocess.run(
        [home / "bin" / "netvigil", "--version"],
        env=installed_env(home / "bin"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert version.stdout.strip() == f"netvigil {VERSION}", version.stderr

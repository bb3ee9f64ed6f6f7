"""The committed dashboard bundle is what frontend/ builds: same file names, same bytes.

The dashboard is TypeScript in ``frontend/src``, built by esbuild (``frontend/build.mjs``) into
``src/netvigil/web/static/``, and that output is committed so that the Python package needs no
Node.js. This test copies ``frontend/`` to a temporary directory, installs the locked packages
from the npm registry (``npm ci``), builds into another temporary directory and compares: a
source change without ``make frontend``, a stale hashed file left behind, or a build that is not
reproducible makes it fail. Without npm it skips on a laptop and fails under CI (``CI=true``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
FRONTEND = REPO / "frontend"
STATIC = REPO / "src" / "netvigil" / "web" / "static"
# What build.mjs owns in the output directory: hashed bundles, the manifest, and public/ copies.
BUILT_NAME = re.compile(r"^(app-[A-Z0-9]+\.(js|css)|manifest\.json)$")
NPM_CI_TIMEOUT_S = 420.0
BUILD_TIMEOUT_S = 120.0


def _require(command: str) -> str:
    path = shutil.which(command)
    if path is None:
        message = (
            f"{command} not found on PATH: the dashboard bundle cannot be rebuilt "
            "(install Node.js 18+ and npm, e.g. `make system-deps`)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def _run(argv: list[str], cwd: Path, timeout_s: float) -> None:
    env = {**os.environ, "npm_config_update_notifier": "false", "npm_config_fund": "false"}
    done = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout_s, check=False
    )
    if done.returncode != 0:
        pytest.fail(
            f"`{' '.join(argv)}` in {cwd} exited {done.returncode}:\n"
            f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
        )


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


def _committed_bundle() -> dict[str, bytes]:
    """The files in static/ that build.mjs writes (static/ may hold files of its own)."""
    public = {p.name for p in (FRONTEND / "public").iterdir()}
    return {
        name: data
        for name, data in _files(STATIC).items()
        if BUILT_NAME.match(name) or name in public
    }


@pytest.mark.slow
@pytest.mark.timeout(NPM_CI_TIMEOUT_S + BUILD_TIMEOUT_S + 60)
def test_committed_bundle_matches_a_fresh_build(tmp_path: Path) -> None:
    npm = _require("npm")
    node = _require("node")
    work = tmp_path / "frontend"
    shutil.copytree(FRONTEND, work, ignore=shutil.ignore_patterns("node_modules"))
    # The dashboard imports the shared vocabulary from the package, beside frontend/.
    (tmp_path / "src" / "netvigil").mkdir(parents=True)
    shutil.copy(
        FRONTEND.parent / "src" / "netvigil" / "vocabulary.json", tmp_path / "src" / "netvigil"
    )
    out = tmp_path / "static"
    _run([npm, "ci", "--no-audit", "--no-fund"], work, NPM_CI_TIMEOUT_S)
    _run([node, "build.mjs", "--outdir", str(out)], work, BUILD_TIMEOUT_S)

    built = _files(out)
    committed = _committed_bundle()
    assert any(name.startswith("app-") and name.endswith(".js") for name in built), built.keys()
    assert sorted(committed) == sorted(built), (
        "the committed bundle in src/netvigil/web/static/ has other files than a fresh build "
        f"(committed {sorted(committed)}, built {sorted(built)}): run `make frontend` and commit"
    )
    differ = [name for name in built if built[name] != committed[name]]
    assert not differ, (
        f"these files in src/netvigil/web/static/ differ from a fresh build: {differ}; "
        "run `make frontend` and commit the result"
    )

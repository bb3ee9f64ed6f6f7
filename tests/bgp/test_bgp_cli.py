"""`netvigil bgp import` as a subprocess on real dumps."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

RIPE = "bgpkit-parser/tests/fixtures/ripe"


def netvigil(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netvigil", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "COLUMNS": "200"},
        timeout=120,
        check=False,
    )


def write_config(tmp_path: Path) -> Path:
    config = tmp_path / "netvigil.toml"
    config.write_text(
        '[[networks]]\nname = "cogent"\nasn = 1880\n\n'
        '[[networks]]\nname = "p199"\nprefixes = ["199.60.0.0/16"]\n'
    )
    return config


def test_import_json_counts_and_visibility(bgp_data: Path, tmp_path: Path) -> None:
    files = [
        bgp_data / "libbgpstream/test/ris.rrc06.updates.1427846400.gz",
        bgp_data / "libbgpstream/test/routeviews.route-views.jinx.updates.1427846400.bz2",
    ]
    config = write_config(tmp_path)
    done = netvigil("bgp", "import", *map(str, files), "-c", str(config), "--json", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    rrc06, jinx = doc["files"]
    assert (rrc06["elements"], rrc06["announcements"], rrc06["withdrawals"]) == (1557, 1435, 122)
    assert (jinx["elements"], jinx["collector"], jinx["records"]) == (
        8611,
        "route-views.jinx",
        1756,
    )
    assert sum(p["elements"] for p in rrc06["peers"]) == 1557
    assert rrc06["peers"][0] == {"peer_ip": "202.249.2.185", "peer_asn": 25152, "elements": 1266}
    networks = {n["network"]: n for n in doc["networks"]}
    assert set(networks) == {"cogent", "p199"}
    assert networks["cogent"]["samples"] > 0
    assert 0 < networks["cogent"]["visibility"] <= 1


def test_import_text_names_a_damaged_file_and_fails(bgp_data: Path, tmp_path: Path) -> None:
    good = bgp_data / f"{RIPE}/rrc01/2000.11/updates.20001104.0124.gz"
    damaged = bgp_data / f"{RIPE}/rrc00/2000.03/updates.20000325.0345.gz"
    done = netvigil("bgp", "import", str(good), str(damaged), cwd=tmp_path)
    assert done.returncode == 1
    assert f"{good}: 21 elements (21 announcements, 0 withdrawals) from 1 peers of rrc01" in (
        done.stdout
    )
    assert f"{damaged}: 4 elements (2 announcements, 2 withdrawals)" in done.stdout
    assert f"error: {damaged}: damaged: no MRT record at byte 14756" in done.stderr


def test_import_of_a_missing_file(tmp_path: Path) -> None:
    done = netvigil("bgp", "import", "nothing.gz", cwd=tmp_path)
    assert done.returncode == 1
    assert "error: nothing.gz: cannot read: No such file or directory" in done.stderr


def test_watch_needs_a_bgp_section(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    done = netvigil("bgp", "watch", "-c", str(config), cwd=tmp_path)
    assert done.returncode == 2
    assert "no [[bgp]] section" in done.stderr

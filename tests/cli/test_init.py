"""`netvigil init`: a config that passes `config check`; with --demo, one that `netvigil run`
watches offline, read back by the README's own commands without -c or --db."""

from __future__ import annotations

import csv
import io
import json
import tomllib
from pathlib import Path

from test_cli import netvigil

from netvigil.cli.init import demo_config, template_config
from netvigil.config import parse_config
from servers.tcp import free_port


def test_both_configs_are_valid_and_commented() -> None:
    for text in (demo_config(18080), template_config()):
        config = parse_config(text)
        assert config.targets
        assert sum(line.lstrip().startswith("#") for line in text.splitlines()) >= 5
    demo = parse_config(demo_config(18080))
    assert demo.server.port == 18080
    assert {t.destination for t in demo.targets} == {"127.0.0.1"}


async def test_init_writes_a_template_that_config_check_accepts(tmp_path: Path) -> None:
    result = await netvigil("init", cwd=tmp_path)
    assert result.code == 0, result.err
    path = tmp_path / "netvigil.toml"
    assert path.read_text() == template_config()
    check = await netvigil("config", "check", "netvigil.toml", cwd=tmp_path)
    assert check.code == 0, check.err
    again = await netvigil("init", cwd=tmp_path)
    assert again.code == 1
    assert "already exists (pass --force to overwrite it)" in again.err
    forced = await netvigil("init", "--demo", "--force", cwd=tmp_path)
    assert forced.code == 0, forced.err
    assert tomllib.loads(path.read_text())["server"]["listen"] == "127.0.0.1:8080"


async def test_demo_runs_offline_and_the_readme_commands_read_it_back(tmp_path: Path) -> None:
    port = free_port()
    init = await netvigil("init", "--demo", "--port", str(port), cwd=tmp_path)
    assert init.code == 0, init.err
    assert "netvigil run" in init.out
    check = await netvigil("config", "check", cwd=tmp_path)
    assert check.code == 0, check.err

    run = await netvigil("run", "--plain", "--duration", "8", cwd=tmp_path)
    assert run.code == 0, run.err
    assert f"serving the API on http://127.0.0.1:{port}/api/v1" in run.err
    assert (tmp_path / "netvigil.db").exists()

    exported = await netvigil("export", "--format", "csv", "--since", "2h", cwd=tmp_path)
    assert exported.code == 0, exported.err
    rows = list(csv.DictReader(io.StringIO(exported.out)))
    assert {r["target"] for r in rows} == {"web-health", "web-port", "loopback-control"}
    assert {r["outcome"] for r in rows} == {"ok"}

    status = await netvigil("status", "--json", cwd=tmp_path)
    assert status.code == 0, status.err
    assert all(json.loads(line)["ok"] for line in status.out.splitlines())

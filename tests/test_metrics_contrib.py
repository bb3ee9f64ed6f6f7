"""contrib/: the Prometheus rules pass promtool, and the dashboard reads documented series."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RULES_DIR = ROOT / "contrib" / "prometheus"
DASHBOARD = ROOT / "contrib" / "grafana" / "netvigil.json"
SERIES = re.compile(r"\bnetvigil_[a-z_]+")


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found: install the Debian package prometheus (make system-deps)")
    return subprocess.run(
        [path, *args], cwd=RULES_DIR, capture_output=True, text=True, timeout=60, check=False
    )


def test_rules_pass_promtool_check() -> None:
    done = promtool("check", "rules", "netvigil-rules.yml")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS: 4 rules found" in done.stdout


def test_rules_fire_when_they_should_and_only_then() -> None:
    done = promtool("test", "rules", "netvigil-rules.test.yml")
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_broken_rule_is_caught(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yml"
    text = (RULES_DIR / "netvigil-rules.yml").read_text()
    broken.write_text(text.replace(">= 2", ">= 2)", 1))
    done = promtool("check", "rules", str(broken))
    assert done.returncode != 0


def test_the_rules_cover_vantages_and_both_expiry_horizons() -> None:
    text = (RULES_DIR / "netvigil-rules.yml").read_text()
    assert "count by (target, service, network) (netvigil_probe_success == 0) >= 2" in text
    assert "for: 2m" in text
    assert "< 21 * 86400" in text
    assert "< 7 * 86400" in text


def test_dashboard_reads_only_documented_series() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    docs = (ROOT / "docs" / "metrics.md").read_text()
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    exprs += [v["query"]["query"] for v in dashboard["templating"]["list"] if v["type"] == "query"]
    used = {name for expr in exprs for name in SERIES.findall(expr)}
    assert {
        "netvigil_probe_success",
        "netvigil_probe_duration_seconds",
        "netvigil_probe_ssl_earliest_cert_expiry",
    } <= used
    undocumented = sorted(n for n in used if f"`{n}`" not in docs)
    assert not undocumented, undocumented
    titles = {p["title"] for p in dashboard["panels"]}
    assert {"Success by target and vantage", "Duration by phase"} <= titles
    assert "Certificate expiry (days)" in titles
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])

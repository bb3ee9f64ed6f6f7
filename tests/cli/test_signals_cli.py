"""`netvigil signals import FILE`: an IODA-shaped export through the product detector."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from netvigil.cli import app


def _export(path: Path) -> None:
    """Two days of 5-minute bins; a labelled shutdown (bgp and active probing down) on day
    two from bin 400 to 447, and a text column the importer must ignore."""
    rng = np.random.default_rng(2)
    lines = ["timestamp,gtr,bgp,ping-slash24,datetime,LABEL"]
    for i in range(576):
        down = 400 <= i < 448
        bgp = (1000 if down else 2900) + rng.normal(0, 3)
        ping = (200 if down else 600) + rng.normal(0, 5)
        gtr = f"{5e9 + rng.normal(0, 1e8):.0f}" if i % 12 == 0 else ""
        lines.append(f"{1692493200 + 300 * i},{gtr},{bgp:.0f},{ping:.0f},2023-08-20,{int(down)}")
    path.write_text("\n".join(lines) + "\n")


def test_import_prints_each_alarm_with_the_signals_that_moved(tmp_path: Path) -> None:
    path = tmp_path / "ioda_country_IQ_iraq.csv"
    _export(path)
    result = CliRunner().invoke(app, ["signals", "import", str(path), "--score"])
    assert result.exit_code == 0, result.output
    out = result.stdout
    [alarm] = [line for line in out.splitlines() if line.startswith("IQ down")]
    assert "2023-08-21 10:20:00 UTC -> 2023-08-21 14:20:00 UTC" in alarm
    assert "bgp" in alarm and "ping-slash24" in alarm and "datetime" not in alarm
    assert "all: detected 1/1, in the first bin 1/1, max delay 0 bins" in out
    assert "false alarms: 0 " in out


def test_import_json_names_the_entity_given(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    _export(path)
    result = CliRunner().invoke(
        app, ["signals", "import", str(path), "--entity", "AS64500", "--json", "--score"]
    )
    assert result.exit_code == 0, result.output
    alarm, score = (json.loads(line) for line in result.stdout.splitlines())
    assert alarm["entity"] == "AS64500" and alarm["end"] == 1692493200 + 300 * 448
    moved = {m["signal"]: m["drop"] for m in alarm["moved"]}
    assert set(moved) == {"bgp", "ping-slash24"}
    assert 0.6 < moved["bgp"] < 0.7 and 0.6 < moved["ping-slash24"] < 0.7
    assert score == {
        "score": {
            "events": 1,
            "detected": 1,
            "in_first_bin": 1,
            "delays_bins": [0],
            "false_alarms": 0,
        }
    }


def test_a_file_without_timestamps_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("time,bgp\n1,2\n")
    result = CliRunner().invoke(app, ["signals", "import", str(path)])
    assert result.exit_code != 0
    assert "no timestamp column" in str(result.exception)

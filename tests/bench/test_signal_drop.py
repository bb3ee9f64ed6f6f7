"""IODA Iraq through the product path: every labelled shutdown alarmed in its first bin,
no false alarm, by `netvigil signals import --score` and by bench/ioda.py."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench import ioda
from netvigil.cli import app


def test_iraq_every_shutdown_in_its_first_bin_no_false_alarm(shared_data: Path) -> None:
    path = shared_data / ioda.IODA_FILE
    result = CliRunner().invoke(
        app, ["signals", "import", str(path), "--entity", "IQ", "--json", "--score"]
    )
    assert result.exit_code == 0, result.output
    *alarms, score = (json.loads(line) for line in result.stdout.splitlines())
    assert score["score"] == {
        "events": 8,
        "detected": 8,
        "in_first_bin": 8,
        "delays_bins": [0] * 8,
        "false_alarms": 0,
    }
    assert len(alarms) == 8
    for alarm in alarms:
        assert {m["signal"] for m in alarm["moved"]} >= {"ping-slash24", "gtr-norm"}


def test_the_bench_reports_tuning_and_held_back_halves(
    shared_data: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert ioda.evaluate(shared_data / ioda.IODA_FILE) == 0
    out = capsys.readouterr().out
    assert "tuning: detected 4/4, in the first bin 4/4" in out
    assert "held back: detected 4/4, in the first bin 4/4" in out
    assert "false alarms: 0 " in out

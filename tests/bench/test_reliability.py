"""The reliability diagram's bins and calibration error (bench/reliability.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.reliability import bins_of, expected_calibration_error, main, samples_from


def test_bins_count_mean_and_fraction_right() -> None:
    samples = [(0.95, True), (0.97, False), (0.55, True), (1.0, True)]
    bins = {(b.low, b.high): b for b in bins_of(samples)}
    top = bins[(0.95, 1.0)]
    assert (top.count, top.right) == (3, 2)
    assert top.mean_confidence == pytest.approx((0.95 + 0.97 + 1.0) / 3)
    assert bins[(0.5, 0.6)].fraction_right == 1.0
    assert bins[(0.0, 0.5)].fraction_right is None


def test_calibration_error_is_zero_only_when_confidence_matches_accuracy() -> None:
    assert expected_calibration_error(bins_of([(1.0, True)] * 4)) == pytest.approx(0.0)
    # Sure (0.99) and wrong half of the time: a gap of 0.49.
    assert expected_calibration_error(bins_of([(0.99, True), (0.99, False)])) == pytest.approx(0.49)
    assert expected_calibration_error(bins_of([])) is None


def test_reads_expectations_and_draws(tmp_path: Path) -> None:
    doc = {
        "scenarios": [
            {
                "score": {
                    "expectations": [
                        {
                            "detected": True,
                            "confidence_at_confirmation": 0.9,
                            "cause_at_confirmation_right": False,
                            "confidence": 0.95,
                            "cause_right": True,
                        },
                        {"detected": False},
                    ]
                }
            }
        ]
    }
    path = tmp_path / "accuracy.json"
    path.write_text(json.dumps(doc))
    assert samples_from(path) == [(0.9, False)]
    assert samples_from(path, "final") == [(0.95, True)]
    out = tmp_path / "rel.png"
    assert main([str(path), "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_inputs_given_one_label_are_pooled_into_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def accuracy(name: str, right: bool) -> Path:
        expectation = {
            "detected": True,
            "confidence_at_confirmation": 0.75,
            "cause_at_confirmation_right": right,
        }
        path = tmp_path / name / "accuracy.json"
        path.parent.mkdir()
        path.write_text(json.dumps({"scenarios": [{"score": {"expectations": [expectation]}}]}))
        return path

    a, b, c = accuracy("a", True), accuracy("b", False), accuracy("c", True)
    out = tmp_path / "rel.png"
    labels = ["--label", "tuned", "--label", "tuned", "--label", "held back"]
    assert main([str(a), str(b), str(c), *labels, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert printed.count("| 0.70-0.80 | 2 | 0.75 | 50% |") == 1, printed  # tuned: a and b
    assert printed.count("| 0.70-0.80 | 1 | 0.75 | 100% |") == 1, printed  # held back
    assert printed.count("| 0.70-0.80 | 3 | 0.75 | 67% |") == 1, printed  # all

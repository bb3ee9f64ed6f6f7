"""The NAB scorer in bench/nab.py against the figures NAB published for Numenta's detector."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest

from bench import nab


@pytest.fixture(scope="module")
def nab_dir(shared_data: Path) -> Path:
    return shared_data / "NAB"


@pytest.mark.parametrize(
    ("name", "profile"),
    [
        ("artificialWithAnomaly/art_daily_jumpsdown.csv", "standard"),
        ("realKnownCause/nyc_taxi.csv", "standard"),
        ("realKnownCause/nyc_taxi.csv", "reward_low_FN_rate"),
        ("realAWSCloudwatch/ec2_cpu_utilization_825cc2.csv", "reward_low_FP_rate"),
    ],
)
def test_nab_scorer_matches_published_numenta(nab_dir: Path, name: str, profile: str) -> None:
    corpus = nab.load_corpus(nab_dir, only=[name])
    scores = nab.read_result_scores(nab.result_path("numenta", name, nab_dir))
    pub_path = nab_dir / "results" / "numenta" / f"numenta_{profile}_scores.csv"
    with pub_path.open() as fh:
        row = next(r for r in csv.DictReader(fh) if r["File"] == name)
    cost = nab.load_profiles(nab_dir)[profile]
    got = nab.score_file(corpus.labelled[0], scores, float(row["Threshold"]), cost)
    assert got.score == pytest.approx(float(row["Score"]), abs=1e-6)
    assert (got.tp, got.fp) == (int(row["TP"]), int(row["FP"]))


def test_nab_normalisation_matches_scoreboard(nab_dir: Path) -> None:
    cost = nab.load_profiles(nab_dir)["standard"]
    totals = nab.published_file_scores("numenta", "standard", nab_dir)["Totals"]
    assert nab.normalise(totals, 116, cost) == pytest.approx(70.101, abs=0.01)
    assert np.isclose(nab.MAX_TP, 2 / (1 + math.exp(-5)) - 1)

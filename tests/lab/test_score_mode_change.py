"""Scoring a failure that changes mode (a flood that turns into a cut) against a merge of
two failures, and the old mode's cause while the new one is recognised (no lab)."""

from __future__ import annotations

from typing import Any

import pytest

from netvigil.lab.matching import DETECTION_ALLOWANCE_INTERVALS
from netvigil.lab.scenario import Scenario
from netvigil.lab.score import Reported, describe_expectation, score_scenario, summarize_scores

GOV = ["e-albania", "kryeministria", "parlament", "ns-gov"]
FLOOD_THEN_CUT = [
    {"cause": "volumetric_ddos", "services": GOV, "start": 20, "end": 60},
    {"cause": "shutdown", "services": GOV, "start": 60, "end": 155},
]


def scenario(expect: list[dict[str, Any]]) -> Scenario:
    return Scenario.model_validate(
        {"name": "t", "duration_s": 200, "probe_interval_s": 5, "expect": expect}
    )


def incident(
    services: list[str], history: list[tuple[float, str, float]], *, start: float = 22.0
) -> Reported:
    """One confirmed incident from `start` to 158 s whose cause went through `history`."""
    return Reported(
        id="inc-1",
        cause=history[-1][1],
        confidence=history[-1][2],
        services=services,
        vantages=["frankfurt", "tirana"],
        vantage=None,
        start=start,
        end=158.0,
        confirmed_at=history[0][0],
        opened_at=history[0][0],
        state="resolved",
        cause_history=history,
        evidence=[],
    )


def test_the_allowance_is_four_probe_intervals() -> None:
    assert DETECTION_ALLOWANCE_INTERVALS == 4.0


def test_a_flood_turning_into_a_cut_followed_by_one_incident_is_a_change_of_mode() -> None:
    rep = incident(GOV, [(31.0, "volumetric_ddos", 0.95), (72.0, "shutdown", 0.97)])
    score = score_scenario(scenario(FLOOD_THEN_CUT), [rep])
    flood, cut = score.expectations
    assert score.merged == [] and score.mode_changes == [("inc-1", [0, 1])]
    assert flood.merged_with == [] and cut.merged_with == []
    assert flood.mode_change_with == [1] and cut.mode_change_with == [0]
    assert not any("merged" in m for m in score.misses())
    assert cut.delay_s == pytest.approx(12.0)  # still from the cut's start
    doc = score.to_json()
    assert doc["mode_changes"] == [{"incident": "inc-1", "expectations": [0, 1]}]
    assert doc["merged_incidents"] == []
    assert summarize_scores([score])["mode_changes"] == 1
    text = describe_expectation(doc["expectations"][1])
    assert "changes mode with #0" in text
    assert "wrong cause confirmed at up to 0.95" in text  # strict: shown until 72 s
    assert "with the allowance for a change of mode: no wrong cause" in text


def test_a_cut_the_incident_never_names_stays_merged() -> None:
    rep = incident(GOV, [(31.0, "volumetric_ddos", 0.95)])
    score = score_scenario(scenario(FLOOD_THEN_CUT), [rep])
    cut = score.expectations[1]
    assert score.merged == [("inc-1", [0, 1])] and score.mode_changes == []
    assert cut.merged_with == [0] and cut.mode_change_with == []
    # no change of mode: no allowance, the flood's cause is wrong for the cut throughout
    assert cut.worst_wrong_allowed == pytest.approx(0.95)
    assert cut.right_share == 0.0


def test_a_cut_named_only_before_it_began_stays_merged() -> None:
    rep = incident(GOV, [(25.0, "shutdown", 0.9), (31.0, "volumetric_ddos", 0.95)])
    score = score_scenario(scenario(FLOOD_THEN_CUT), [rep])
    assert score.merged == [("inc-1", [0, 1])] and score.mode_changes == []


def test_two_failures_on_other_services_in_one_incident_stay_merged() -> None:
    sc = scenario(
        [
            {"cause": "volumetric_ddos", "services": ["e-albania"], "start": 20, "end": 60},
            {"cause": "shutdown", "services": ["parlament"], "start": 50, "end": 155},
        ]
    )
    rep = incident(
        ["e-albania", "parlament"],
        [(31.0, "volumetric_ddos", 0.95), (60.0, "shutdown", 0.97)],
    )
    score = score_scenario(sc, [rep])
    assert score.merged == [("inc-1", [0, 1])] and score.mode_changes == []
    assert [e.merged_with for e in score.expectations] == [[1], [0]]


def test_a_later_failure_after_the_first_ended_stays_merged() -> None:
    sc = scenario(
        [
            {"cause": "volumetric_ddos", "services": GOV, "start": 20, "end": 60},
            {"cause": "shutdown", "services": GOV, "start": 90, "end": 155},
        ]
    )  # 30 s after the flood: beyond the 10 s grace
    rep = incident(GOV, [(31.0, "volumetric_ddos", 0.95), (100.0, "shutdown", 0.97)])
    score = score_scenario(sc, [rep])
    assert score.merged == [("inc-1", [0, 1])] and score.mode_changes == []


def test_a_change_of_mode_beside_another_failure_is_merged_with_that_one_only() -> None:
    sc = scenario(
        [*FLOOD_THEN_CUT, {"cause": "service_failure", "services": ["tatime"], "start": 70}]
    )
    rep = incident([*GOV, "tatime"], [(31.0, "volumetric_ddos", 0.95), (72.0, "shutdown", 0.97)])
    score = score_scenario(sc, [rep])
    flood, cut, other = score.expectations
    assert score.merged == [("inc-1", [0, 1, 2])] and score.mode_changes == []
    assert flood.mode_change_with == [1] and flood.merged_with == [2]
    assert cut.mode_change_with == [0] and cut.merged_with == [2]
    assert other.merged_with == [0, 1] and other.mode_change_with == []


@pytest.mark.parametrize(
    ("turns_at", "allowed"),
    [(78.0, None), (80.0, None), (81.0, 0.95), (90.0, 0.95)],
)
def test_the_old_cause_is_not_yet_detected_for_four_intervals_and_wrong_after(
    turns_at: float, allowed: float | None
) -> None:
    """The cut starts at 60 s; 4 intervals of 5 s allow the flood's cause until 80 s."""
    rep = incident(GOV, [(31.0, "volumetric_ddos", 0.95), (turns_at, "shutdown", 0.97)])
    score = score_scenario(scenario(FLOOD_THEN_CUT), [rep])
    cut = score.expectations[1]
    assert score.mode_changes == [("inc-1", [0, 1])]
    assert cut.worst_wrong_confidence == pytest.approx(0.95)  # strict: as shown
    assert cut.worst_wrong_allowed == (None if allowed is None else pytest.approx(allowed))
    # visible 60..158 (the incident's end); the flood's cause in 60..80 is left out
    excused = min(turns_at, 80.0) - 60
    assert cut.right_share == pytest.approx((158 - turns_at) / (98 - excused))
    assert cut.delay_s == pytest.approx(turns_at - 60)
    doc = score.to_json()
    assert doc["worst_wrong_confidence"] == pytest.approx(0.95)
    assert doc["worst_wrong_confidence_with_allowance"] == (
        None if allowed is None else pytest.approx(allowed)
    )
    total = summarize_scores([score])
    assert total["worst_wrong_confidence"] == pytest.approx(0.95)
    assert (
        total["worst_wrong_confidence_with_allowance"]
        == doc["worst_wrong_confidence_with_allowance"]
    )


def test_the_allowance_excuses_only_the_old_modes_cause() -> None:
    rep = incident(
        GOV,
        [(31.0, "volumetric_ddos", 0.95), (62.0, "route_withdrawal", 0.85),
         (70.0, "shutdown", 0.97)],
    )  # fmt: skip
    cut = score_scenario(scenario(FLOOD_THEN_CUT), [rep]).expectations[1]
    assert cut.worst_wrong_confidence == pytest.approx(0.95)
    assert cut.worst_wrong_allowed == pytest.approx(0.85)  # another cause: wrong at once
    assert cut.right_share == pytest.approx(88 / (98 - 2))  # 60..62 excused, 62..70 wrong


@pytest.mark.parametrize(
    ("turns_at", "flood_wrong"),
    [(55.0, 0.97), (62.0, None), (68.0, None)],
)
def test_the_new_modes_cause_in_the_old_ones_grace_is_handed_over(
    turns_at: float, flood_wrong: float | None
) -> None:
    """The flood ends at 60 s, its grace at 70 s: the cut's cause shown from 60 s on is
    the cut's to judge, not wrong for the flood; shown before 60 s it is."""
    rep = incident(GOV, [(31.0, "volumetric_ddos", 0.95), (turns_at, "shutdown", 0.97)])
    score = score_scenario(scenario(FLOOD_THEN_CUT), [rep])
    flood, cut = score.expectations
    assert score.mode_changes == [("inc-1", [0, 1])]
    expected = None if flood_wrong is None else pytest.approx(flood_wrong)
    assert flood.worst_wrong_confidence == expected
    assert flood.worst_wrong_allowed == expected
    # visible from 31 s (its confirmation) to 70 s; what is handed over (from 60 s) is left out
    handed = 70 - max(turns_at, 60)
    right = min(turns_at, 70) - 31
    assert flood.right_share == pytest.approx(right / (39 - handed))
    assert cut.worst_wrong_allowed is None  # the flood's cause in the cut's first 20 s


def test_another_cause_in_the_old_modes_grace_is_not_handed_over() -> None:
    rep = incident(
        GOV,
        [(31.0, "volumetric_ddos", 0.95), (62.0, "route_withdrawal", 0.85),
         (66.0, "shutdown", 0.97)],
    )  # fmt: skip
    flood = score_scenario(scenario(FLOOD_THEN_CUT), [rep]).expectations[0]
    assert flood.worst_wrong_confidence == pytest.approx(0.85)  # not the next mode's cause
    assert flood.right_share == pytest.approx(31 / (39 - 4))  # 31..62 right, 66..70 handed over

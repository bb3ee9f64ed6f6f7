"""Scenario scoring on hand-made incidents against hand-made ground truth (no lab)."""

from __future__ import annotations

from typing import Any

import pytest

from netvigil.lab.scenario import Scenario
from netvigil.lab.score import (
    Reported,
    calibration_table,
    score_scenario,
    summarize_scores,
)

GOV = ["e-albania", "kryeministria", "parlament", "ns-gov"]


def scenario(expect: list[dict[str, Any]], **kw: Any) -> Scenario:
    return Scenario.model_validate(
        {"name": "t", "duration_s": 200, "probe_interval_s": 5, "expect": expect, **kw}
    )


def incident(
    services: list[str],
    start: float,
    end: float | None,
    cause: str,
    *,
    confirmed: float | None = None,
    opened: float | None = None,
    history: list[tuple[float, str, float]] | None = None,
    confidence: float = 0.9,
    vantage: str | None = None,
    id: str = "inc-1",
) -> Reported:
    return Reported(
        id=id,
        cause=cause,
        confidence=confidence,
        services=services,
        vantages=["frankfurt", "tirana"],
        vantage=vantage,
        start=start,
        end=end,
        confirmed_at=confirmed,
        opened_at=opened,
        state="resolved" if end is not None else "confirmed",
        cause_history=history if history is not None else [(confirmed or start, cause, confidence)],
        evidence=[],
    )


def test_a_matching_incident_is_detected_with_its_delay_cause_and_services() -> None:
    sc = scenario([{"cause": "shutdown", "services": GOV, "start": 40, "end": 110}])
    rep = incident(GOV, 41.0, 112.0, "shutdown", opened=46.0, confirmed=50.0)
    score = score_scenario(sc, [rep])
    (e,) = score.expectations
    assert e.detected and e.incidents == ["inc-1"]
    assert e.delay_s == pytest.approx(10.0)
    assert e.delay_intervals == pytest.approx(2.0)
    assert e.cause_right and e.reported_cause == "shutdown"
    assert e.recall == 1.0 and score.precision == 1.0
    assert score.false_incidents == []
    assert score.misses() == []
    assert score.calibration == [(0.9, True)]


def test_delay_falls_back_to_opening_when_never_confirmed() -> None:
    sc = scenario([{"cause": "shutdown", "services": GOV, "start": 40, "end": 110}])
    rep = incident(GOV, 41.0, None, "shutdown", opened=55.0, confirmed=None, history=[])
    (e,) = score_scenario(sc, [rep]).expectations
    assert e.delay_s == pytest.approx(15.0)
    assert e.delay_intervals == pytest.approx(3.0)


def test_no_incident_is_a_miss_and_counts_against_recall() -> None:
    sc = scenario([{"cause": "service_failure", "services": ["parlament"], "start": 40}])
    score = score_scenario(sc, [])
    (e,) = score.expectations
    assert not e.detected and not e.cause_right
    assert e.delay_s is None and e.recall == 0.0
    assert score.recall == 0.0 and score.precision is None
    assert score.misses() == ["missed service_failure on parlament", "services recall 0%"]


def test_wrong_cause_and_extra_services_lower_the_score() -> None:
    sc = scenario([{"cause": "shutdown", "services": GOV, "start": 40, "end": 110}])
    rep = incident([*GOV, "tatime"], 42.0, 110.0, "route_withdrawal", confirmed=48.0)
    score = score_scenario(sc, [rep])
    (e,) = score.expectations
    assert e.detected and not e.cause_right and e.reported_cause == "route_withdrawal"
    assert score.precision == pytest.approx(4 / 5)
    assert score.calibration == [(0.9, False)]
    assert "shutdown on " + ", ".join(GOV) + " reported as route_withdrawal" in score.misses()


def test_in_a_healthy_run_every_incident_is_false() -> None:
    sc = scenario([{"incident": False}], fault=[])
    score = score_scenario(sc, [incident(["tatime"], 120.0, 140.0, "volumetric_ddos")])
    assert score.expected == 0
    assert score.false_incidents == ["inc-1"]
    assert score.calibration == [(0.9, False)]
    assert score.misses() == ["1 false incident(s)"]


def test_an_incident_elsewhere_in_time_or_services_is_false() -> None:
    sc = scenario(
        [{"cause": "service_failure", "services": ["parlament"], "start": 40, "end": 110}]
    )
    right = incident(["parlament"], 41.0, 111.0, "service_failure", confirmed=50.0, id="a")
    other_service = incident(["tatime"], 60.0, 70.0, "service_failure", id="b")
    too_late = incident(["parlament"], 125.0, 140.0, "service_failure", id="c")  # > end + 2 x 5s
    in_grace = incident(["parlament"], 118.0, 122.0, "service_failure", id="d")
    score = score_scenario(sc, [right, other_service, too_late, in_grace])
    assert score.false_incidents == ["b", "c"]
    assert score.expectations[0].incidents == ["a", "d"]


def test_one_incident_whose_cause_changes_can_be_right_twice() -> None:
    sc = scenario(
        [
            {"cause": "volumetric_ddos", "services": GOV, "start": 20, "end": 60},
            {"cause": "shutdown", "services": GOV, "start": 60, "end": 155},
        ]
    )
    rep = incident(
        GOV,
        22.0,
        158.0,
        "shutdown",
        confirmed=31.0,
        history=[(31.0, "volumetric_ddos", 0.7), (72.0, "shutdown", 0.95)],
    )
    score = score_scenario(sc, [rep])
    flood, shutdown = score.expectations
    assert flood.cause_right and flood.confidence == 0.7
    assert flood.delay_s == pytest.approx(11.0)
    assert shutdown.cause_right and shutdown.confidence == 0.95
    assert shutdown.delay_s == pytest.approx(12.0)  # when the cause turned to shutdown
    assert score.precision == 1.0 and score.false_incidents == []


def test_a_cause_that_never_turns_is_wrong_for_the_second_fault() -> None:
    sc = scenario(
        [
            {"cause": "volumetric_ddos", "services": GOV, "start": 20, "end": 60},
            {"cause": "shutdown", "services": GOV, "start": 60, "end": 155},
        ]
    )
    rep = incident(GOV, 22.0, 158.0, "volumetric_ddos", confirmed=31.0)
    flood, shutdown = score_scenario(sc, [rep]).expectations
    assert flood.cause_right
    assert shutdown.detected and not shutdown.cause_right and shutdown.delay_s == 0.0


def test_a_vantage_problem_matches_by_the_blamed_vantage() -> None:
    sc = scenario(
        [
            {
                "cause": "vantage_problem",
                "services": ["tatime"],
                "vantages": ["tirana"],
                "start": 40,
                "end": 110,
            }
        ]
    )
    rep = incident([], 41.0, 112.0, "vantage_problem", confirmed=45.0, vantage="tirana")
    score = score_scenario(sc, [rep])
    assert score.expectations[0].detected and score.expectations[0].cause_right
    assert score.false_incidents == []
    assert score.precision is None  # it names no service


def test_totals_sum_services_and_pool_delays() -> None:
    a = score_scenario(
        scenario([{"cause": "shutdown", "services": GOV, "start": 40, "end": 110}]),
        [incident([*GOV, "tatime"], 41.0, 110.0, "shutdown", confirmed=45.0)],
    )
    b = score_scenario(
        scenario([{"cause": "service_failure", "services": ["parlament"], "start": 40}]),
        [incident(["parlament"], 41.0, None, "dns_failure", confirmed=60.0)],
    )
    total = summarize_scores([a, b])
    assert total["expected"] == 2 and total["detected"] == 2 and total["causes_right"] == 1
    assert total["median_delay_s"] == pytest.approx(12.5)
    assert total["worst_delay_intervals"] == pytest.approx(4.0)
    assert total["services_precision"] == pytest.approx(5 / 6)
    assert total["services_recall"] == 1.0
    assert total["false_incidents"] == 0


def test_calibration_bins_count_right_causes() -> None:
    rows = calibration_table([(0.3, False), (0.96, True), (1.0, True), (0.97, False)])
    by_low = {r["low"]: r for r in rows}
    assert by_low[0.0]["count"] == 1 and by_low[0.0]["fraction_right"] == 0.0
    assert by_low[0.95]["count"] == 3 and by_low[0.95]["right"] == 2
    assert by_low[0.95]["high"] == 1.0
    assert by_low[0.5]["fraction_right"] is None


def test_an_expectation_in_words() -> None:
    from netvigil.lab.score import describe_expectation

    e = {
        "cause": "shutdown",
        "services": ["e-albania", "parlament"],
        "start": 30.0,
        "detected": True,
        "cause_right": False,
        "reported_cause": "volumetric_ddos",
        "delay_s": 8.13,
        "delay_intervals": 1.63,
        "confidence": 0.91,
        "services_recall": 1.0,
    }
    assert describe_expectation(e) == (
        "expected shutdown on e-albania, parlament from t=30s: detected after 8.1s"
        " (1.6 intervals), cause wrong (volumetric_ddos) at 0.91, services recall 100%"
    )
    assert "cause wrong (`volumetric_ddos`)" in describe_expectation(e, markdown=True)
    assert describe_expectation({**e, "detected": False}).endswith(": missed")

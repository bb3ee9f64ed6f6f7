"""Scenario scoring on hand-made incidents against hand-made ground truth (no lab)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from netvigil.lab.scenario import Scenario
from netvigil.lab.score import (
    Reported,
    Shown,
    calibration_table,
    describe_expectation,
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


def shown(*steps: tuple[float, str, float, bool]) -> list[Shown]:
    return [Shown(*s) for s in steps]


def test_first_alert_is_the_cause_shown_at_confirmation_not_the_one_held_longest() -> None:
    sc = scenario([{"cause": "shutdown", "services": GOV, "start": 40, "end": 110}])
    rep = incident(
        GOV,
        41.0,
        112.0,
        "shutdown",
        opened=45.0,
        confirmed=50.0,
        history=[(45.0, "volumetric_ddos", 0.6), (50.0, "volumetric_ddos", 0.85),
                 (60.0, "shutdown", 0.95)],
    )  # fmt: skip
    (e,) = score_scenario(sc, [rep]).expectations
    assert e.cause_right and e.reported_cause == "shutdown"
    assert e.first_cause == "volumetric_ddos" and not e.first_right
    assert e.first_confidence == pytest.approx(0.85) and not e.first_provisional
    # visible from 45 to 110+10 (grace): 15 s of 75 wrong
    assert e.right_share == pytest.approx(52 / 67)  # visible 45..112, wrong until 60
    assert e.cause_flips == 1
    assert e.worst_wrong_confidence == pytest.approx(0.85)
    assert e.worst_wrong_provisional == pytest.approx(0.6)
    assert any("first alert said volumetric_ddos" in m for m in score_scenario(sc, [rep]).misses())


def test_events_show_confidence_changes_the_cause_history_does_not_hold() -> None:
    sc = scenario([{"cause": "service_failure", "services": ["parlament"], "start": 40}])
    rep = incident(
        ["parlament"], 41.0, None, "service_failure", opened=45.0, confirmed=55.0,
        history=[(45.0, "application_ddos", 0.55), (70.0, "service_failure", 0.9)],
    )  # fmt: skip
    rep = dataclasses.replace(
        rep,
        shown=shown(
            (45.0, "application_ddos", 0.55, True),
            (55.0, "application_ddos", 0.72, False),
            (62.0, "application_ddos", 0.8, False),
            (70.0, "service_failure", 0.9, False),
        ),
    )
    (e,) = score_scenario(sc, [rep]).expectations
    assert e.first_cause == "application_ddos" and e.first_confidence == pytest.approx(0.72)
    assert e.worst_wrong_confidence == pytest.approx(0.8)
    assert e.worst_wrong_provisional == pytest.approx(0.55)
    assert e.cause_flips == 1
    assert e.right_share == pytest.approx(130 / 155)  # visible 45..200, wrong until 70


def test_a_cause_that_flips_back_and_forth_counts_every_flip() -> None:
    sc = scenario([{"cause": "shutdown", "services": GOV, "start": 40, "end": 110}])
    rep = incident(
        GOV, 41.0, 112.0, "shutdown", opened=45.0, confirmed=45.0,
        history=[(45.0, "shutdown", 0.9), (60.0, "route_withdrawal", 0.7),
                 (70.0, "shutdown", 0.9), (80.0, "route_withdrawal", 0.75),
                 (90.0, "shutdown", 0.9)],
    )  # fmt: skip
    score = score_scenario(sc, [rep])
    (e,) = score.expectations
    assert e.first_right and e.cause_flips == 4 and score.cause_flips == 4
    assert e.worst_wrong_confidence == pytest.approx(0.75)
    assert e.worst_wrong_provisional is None
    assert e.right_share == pytest.approx(47 / 67)  # visible 45..112, 20 s wrong


def test_one_incident_over_two_failures_of_different_causes_is_merged() -> None:
    sc = scenario(
        [
            {"cause": "application_ddos", "services": ["e-albania"], "start": 30, "end": 130},
            {"cause": "service_failure", "services": ["parlament"], "start": 60, "end": 120},
        ]
    )
    rep = incident(["e-albania", "parlament"], 31.0, 135.0, "application_ddos", confirmed=40.0)
    score = score_scenario(sc, [rep])
    first, second = score.expectations
    assert score.merged == [("inc-1", [0, 1])]
    assert first.merged_with == [1] and second.merged_with == [0]
    assert first.right_share == 1.0 and second.right_share == 0.0
    assert second.worst_wrong_confidence == pytest.approx(0.9)
    assert any("merged with expectation #0" in m for m in score.misses())
    doc = score.to_json()
    assert doc["merged_incidents"] == [{"incident": "inc-1", "expectations": [0, 1]}]


def test_two_incidents_of_the_same_cause_are_not_merged_and_separate_ones_neither() -> None:
    sc = scenario(
        [
            {"cause": "service_failure", "services": ["parlament"], "start": 30, "end": 50},
            {"cause": "service_failure", "services": ["parlament"], "start": 70, "end": 90},
            {"cause": "shutdown", "services": ["tatime"], "start": 70, "end": 90},
        ]
    )
    reps = [
        incident(["parlament"], 31.0, 95.0, "service_failure", confirmed=40.0),
        incident(["tatime"], 71.0, 95.0, "shutdown", confirmed=80.0, id="inc-2"),
    ]
    score = score_scenario(sc, reps)
    assert score.merged == []
    assert [e.merged_with for e in score.expectations] == [[], [], []]


def test_delay_counts_in_seconds_and_probe_intervals_and_totals_add_up() -> None:
    a = score_scenario(
        scenario([{"cause": "shutdown", "services": GOV, "start": 40, "end": 110}]),
        [incident(GOV, 41.0, 110.0, "shutdown", confirmed=52.0)],
    )
    b = score_scenario(
        scenario([{"cause": "service_failure", "services": ["parlament"], "start": 40}]),
        [
            incident(
                ["parlament"], 41.0, None, "dns_failure", opened=44.0, confirmed=50.0,
                history=[(44.0, "dns_failure", 0.6), (50.0, "dns_failure", 0.7),
                         (80.0, "service_failure", 0.9)],
            )
        ],
    )  # fmt: skip
    assert a.expectations[0].delay_intervals == pytest.approx(12 / 5)
    total = summarize_scores([a, b])
    assert total["causes_right_at_confirmation"] == 1
    assert total["cause_flips"] == 1
    assert total["worst_wrong_confidence"] == pytest.approx(0.7)
    assert total["worst_wrong_confidence_provisional"] == pytest.approx(0.6)
    assert total["merged_incidents"] == 0
    assert total["right_cause_share"] == pytest.approx((1.0 + 120 / 156) / 2, abs=1e-4)


def test_what_a_user_saw_in_words() -> None:
    sc = scenario([{"cause": "shutdown", "services": GOV, "start": 40, "end": 110}])
    rep = incident(
        GOV, 41.0, 112.0, "shutdown", opened=45.0, confirmed=50.0,
        history=[(45.0, "volumetric_ddos", 0.6), (60.0, "shutdown", 0.95)],
    )  # fmt: skip
    (e,) = score_scenario(sc, [rep]).to_json()["expectations"]
    text = describe_expectation(e)
    assert "first alert wrong (volumetric_ddos)" in text
    assert "1 flip(s)" in text
    assert "wrong cause provisional at up to 0.60" in text
    assert "confirmed at up to" not in text


def test_detect_records_what_each_event_told() -> None:
    """The real detector, fed a lab service that starts refusing connections from both
    vantages: its events carry the cause, provisional before confirmation, not after."""
    from netvigil.lab.config import detector_config
    from netvigil.lab.reported import detect
    from netvigil.lab.topology import load_topology
    from netvigil.model import Measurement
    from netvigil.outcome import Outcome, Phase

    config = detector_config(
        load_topology(Path(__file__).parent / "small.toml"), interval_s=5, timeout_s=3
    )
    refusing = {"portal-https", "portal-tcp", "portal-tls"}
    rows = []
    for i in range(40):
        ts = 1000.0 + 5 * i
        for vantage in ("home", "abroad"):
            for t in config.targets:
                ok = i < 10 or t.name not in refusing
                rows.append(
                    Measurement(
                        id=f"{ts:.0f}-{vantage}-{t.name}",
                        ts=ts,
                        vantage=vantage,
                        target=t.name,
                        kind=t.kind,
                        ok=ok,
                        outcome=Outcome.OK if ok else Outcome.TCP_REFUSED,
                        phase=None if ok else Phase.CONNECT,
                        timings={"total": 0.01},
                    )
                )
    (rep,) = detect(rows, config, started=1000.0)
    assert rep.confirmed_at is not None and rep.shown, "the detector's events are recorded"
    assert rep.shown[0].provisional and rep.shown[0].confidence <= 0.6
    flags = [s.provisional for s in rep.shown]
    assert flags == sorted(flags, reverse=True), "provisional steps come first, then none"
    confirmed = [s for s in rep.shown if not s.provisional]
    assert confirmed and all(s.at >= rep.confirmed_at for s in confirmed)
    assert max(s.confidence for s in confirmed) > 0.6
    assert rep.to_json()["shown"][0]["provisional"] is True


def test_an_outage_while_a_vantage_is_dead_is_not_the_vantages_problem() -> None:
    sc = scenario(
        [
            {
                "cause": "vantage_problem",
                "services": [*GOV, "tatime"],
                "vantages": ["tirana"],
                "start": 30,
                "end": 140,
            },
            {"cause": "shutdown", "services": ["tatime"], "start": 60, "end": 120},
        ]
    )
    dead = incident([*GOV, "tatime"], 31.0, 142.0, "vantage_problem", confirmed=40.0,
                    vantage="tirana", id="inc-dead")  # fmt: skip
    shutdown = incident(["tatime"], 61.0, 122.0, "shutdown", confirmed=70.0, id="inc-tax")
    shutdown = dataclasses.replace(shutdown, vantages=["amsterdam", "frankfurt"])
    score = score_scenario(sc, [dead, shutdown])
    vantage, tax = score.expectations
    assert vantage.incidents == ["inc-dead"] and tax.incidents == ["inc-tax"]
    assert score.merged == [] and vantage.cause_right and tax.cause_right
    # seen from the dead vantage only, naming its services: about the vantage, wrong cause
    from_tirana = dataclasses.replace(shutdown, id="inc-t", vantages=["tirana"])
    (v, _) = score_scenario(sc, [from_tirana]).expectations
    assert v.incidents == ["inc-t"] and not v.cause_right

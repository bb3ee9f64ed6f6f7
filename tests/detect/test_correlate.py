"""Cross-vantage judgement: impaired vantages, down / filtered / degraded targets."""

from __future__ import annotations

from netvigil.state.health import HealthPolicy, PathHealth
from netvigil.state.judge import (
    TargetCondition,
    VantageCounts,
    judge_target,
    judge_vantages,
)

from .streams import OK, SILENT, measurement

IN_COUNTRY = {"local": True, "de": False, "us": False}


def _path(vantage: str, pattern: str) -> PathHealth:
    path = PathHealth("t", vantage, HealthPolicy())
    for i, ch in enumerate(pattern):
        path.observe(measurement(10.0 * i, vantage, "t", OK if ch == "." else SILENT))
    return path


def _judge(impaired: set[str] | None = None, **patterns: str) -> TargetCondition:
    paths = [_path(v, p) for v, p in patterns.items()]
    view = judge_target(
        paths, impaired=impaired or set(), in_country=IN_COUNTRY, now=60, stale_s=50
    )
    return view.condition


def test_all_healthy_vantages_agree_is_down() -> None:
    assert _judge(local="..xxx", de="..xxx", us="...xxx") is TargetCondition.DOWN


def test_in_country_down_abroad_fine_is_filtered() -> None:
    assert _judge(local="..xxx", de=".....", us=".....") is TargetCondition.FILTERED


def test_one_abroad_down_others_fine_is_degraded() -> None:
    assert _judge(local=".....", de="..xxx", us=".....") is TargetCondition.DEGRADED


def test_others_still_confirming_is_degraded() -> None:
    assert _judge(local="..xxx", de="....x", us="....x") is TargetCondition.DEGRADED


def test_failure_seen_only_by_impaired_vantage() -> None:
    assert _judge({"de"}, local=".....", de="xxxxx") is TargetCondition.VANTAGE_ONLY


def test_single_failure_everywhere_is_only_suspected() -> None:
    assert _judge(local="....x", de="....x") is TargetCondition.SUSPECTED


def test_stale_paths_are_set_aside() -> None:
    paths = [_path("local", "xxx"), _path("de", "......")]
    view = judge_target(paths, impaired=set(), in_country=IN_COUNTRY, now=100, stale_s=55)
    assert view.condition is TargetCondition.OK
    assert view.ok == ["de"]


def test_controls_down_make_a_vantage_impaired() -> None:
    counts = {
        "local": VantageCounts(paths=6, down=6, controls=1, controls_down=1),
        "de": VantageCounts(paths=6, down=0, controls=1, controls_down=0),
    }
    views = judge_vantages(counts, IN_COUNTRY)
    assert views["local"].impaired
    assert "1 of 1 controls down" in views["local"].reason
    assert not views["de"].impaired


def test_controls_down_everywhere_blame_the_controls() -> None:
    counts = {
        "local": VantageCounts(paths=6, down=1, controls=1, controls_down=1),
        "de": VantageCounts(paths=6, down=1, controls=1, controls_down=1),
    }
    assert not any(v.impaired for v in judge_vantages(counts, IN_COUNTRY).values())


def test_without_controls_a_peer_on_the_same_side_decides() -> None:
    counts = {
        "de": VantageCounts(paths=5, down=5),
        "us": VantageCounts(paths=5, down=0),
        "local": VantageCounts(paths=5, down=5),
    }
    views = judge_vantages(counts, IN_COUNTRY)
    assert views["de"].impaired
    assert "us sees 5 of 5 fine" in views["de"].reason
    # The only in-country vantage has no peer: that may be filtering, not its own fault.
    assert not views["local"].impaired


def test_vantages_failing_together_confirm_before_each_has_three_failures() -> None:
    assert _judge(local="...xx", de="...xx", us="....xx") is TargetCondition.DOWN


def test_two_failures_from_one_vantage_alone_are_only_suspected() -> None:
    assert _judge(local="...xx", de=".....", us=".....") is TargetCondition.SUSPECTED


def test_two_old_failures_do_not_corroborate() -> None:
    assert _judge(local="..xx.", de="..xx.", us=".....") is TargetCondition.SUSPECTED


def test_a_peer_whose_paths_just_began_failing_does_not_vouch() -> None:
    """An agent reports a whole batch failing at once while the peer's paths, probed
    through the interval, are only suspected so far: the outage is beginning everywhere,
    the agent is not at fault."""
    counts = {
        "agent": VantageCounts(paths=200, down=200, bad=200),
        "server": VantageCounts(paths=200, down=10, bad=190),
    }
    views = judge_vantages(counts, {"agent": False, "server": False})
    assert not views["agent"].impaired
    counts["server"] = VantageCounts(paths=200, down=0, bad=5)  # fine: the agent's own fault
    views = judge_vantages(counts, {"agent": False, "server": False})
    assert views["agent"].impaired
    assert "server sees 195 of 200 fine" in views["agent"].reason

"""Path health: suspected after one failure, down after k of n, ok after r successes."""

from __future__ import annotations

import pytest

from netvigil.state.health import HealthPolicy, HealthState, PathHealth

from .streams import OK, SILENT, measurement


def _feed(path: PathHealth, pattern: str, start: float = 0.0) -> list[HealthState]:
    states = []
    for i, ch in enumerate(pattern):
        m = measurement(start + 10.0 * i, "local", "t", OK if ch == "." else SILENT)
        path.observe(m)
        states.append(path.state)
    return states


def test_one_lost_probe_is_only_suspected() -> None:
    path = PathHealth("t", "local", HealthPolicy())
    states = _feed(path, "....x...")
    assert HealthState.DOWN not in states
    assert states[4] is HealthState.SUSPECTED
    assert states[-1] is HealthState.OK


def test_three_of_five_confirms_and_keeps_first_bad_measurement() -> None:
    path = PathHealth("t", "local", HealthPolicy(window=5, confirm=3))
    states = _feed(path, "..x.xx")
    assert states[-1] is HealthState.DOWN
    assert states[-2] is HealthState.SUSPECTED
    # The episode began with the first failure not yet cleared by `recover` successes.
    assert path.episode_start_ts == 20.0
    assert path.episode_start_id is not None and "0000000020.000" in path.episode_start_id


def test_recovery_needs_consecutive_successes() -> None:
    path = PathHealth("t", "local", HealthPolicy(recover=2))
    states = _feed(path, "xxx.x..")
    assert states[2] is HealthState.DOWN
    assert states[3] is HealthState.DOWN
    assert states[4] is HealthState.DOWN
    assert states[5] is HealthState.DOWN
    assert states[6] is HealthState.OK
    assert path.ok_run_start_ts == 50.0
    assert path.episode_start_ts is None


def test_observe_reports_transitions() -> None:
    path = PathHealth("t", "local", HealthPolicy())
    changes = [path.observe(measurement(i, "local", "t", SILENT)) for i in range(4)]
    assert changes == [True, False, True, False]


@pytest.mark.parametrize(("window", "confirm"), [(3, 0), (3, 4)])
def test_policy_rejects_impossible_windows(window: int, confirm: int) -> None:
    with pytest.raises(ValueError, match="confirm"):
        HealthPolicy(window=window, confirm=confirm)


def test_corroborating_needs_two_failures_and_the_last_one_failed() -> None:
    path = PathHealth("t", "local", HealthPolicy())
    _feed(path, "...xx")
    assert path.state is HealthState.SUSPECTED
    assert path.corroborating
    _feed(path, ".", start=50.0)
    assert not path.corroborating


def test_recovery_clears_the_episode_from_the_window() -> None:
    path = PathHealth("t", "local", HealthPolicy())
    states = _feed(path, "xxx..x")
    assert states[4] is HealthState.OK
    # Without the reset the three old failures would make this lone loss a new outage.
    assert states[5] is HealthState.SUSPECTED


def test_policy_rejects_corroboration_above_confirmation() -> None:
    with pytest.raises(ValueError, match="corroborate"):
        HealthPolicy(confirm=2, corroborate=3)

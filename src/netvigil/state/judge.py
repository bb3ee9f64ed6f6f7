"""Judgement across vantages: is a vantage itself impaired, and how does a target fare.

A vantage is *impaired* when its own controls fail (targets with `control = true`),
or, lacking controls, when it fails on nearly everything while a comparable vantage
(same side of the border) sees the same targets fine. Impaired vantages are set aside
when judging targets:

    down          every healthy vantage that reports confirms the failure
    filtered      in-country vantages confirm it, those abroad see the target fine
    degraded      some healthy vantages confirm it, others do not (yet)
    suspected     no confirmation, but a recent failure somewhere
    vantage_only  only impaired vantages see it fail
    ok            nothing to report
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from netvigil.state.health import HealthState, PathHealth

__all__ = [
    "FAILING",
    "TargetCondition",
    "TargetView",
    "VantageCounts",
    "VantageView",
    "judge_target",
    "judge_vantages",
]


class TargetCondition(StrEnum):
    """How one target fares across all vantages."""

    OK = "ok"
    SUSPECTED = "suspected"
    DEGRADED = "degraded"
    DOWN = "down"
    FILTERED = "filtered"
    VANTAGE_ONLY = "vantage_only"


FAILING = frozenset({TargetCondition.DEGRADED, TargetCondition.DOWN, TargetCondition.FILTERED})
"""Conditions that make a target part of an outage incident."""


@dataclass(slots=True)
class VantageCounts:
    """Running counts of one vantage's paths with data, and of those down."""

    paths: int = 0
    down: int = 0
    bad: int = 0
    """Paths down or suspected (not in good health)."""
    controls: int = 0
    controls_down: int = 0
    controls_bad: int = 0
    """Controls down or suspected."""


@dataclass(frozen=True, slots=True)
class VantageView:
    """Whether a vantage is impaired, and why."""

    name: str
    impaired: bool
    reason: str
    counts: VantageCounts


def judge_vantages(
    counts: Mapping[str, VantageCounts],
    in_country: Mapping[str, bool],
    *,
    min_paths: int = 3,
    fail_share: float = 0.8,
    peer_share: float = 0.2,
) -> dict[str, VantageView]:
    """Judge every vantage from its counts."""
    with_controls = [v for v, c in counts.items() if c.controls]
    controls_failing = [
        v for v in with_controls if 2 * counts[v].controls_down >= counts[v].controls
    ]
    everyone_fails_controls = len(with_controls) > 1 and len(controls_failing) == len(with_controls)
    views: dict[str, VantageView] = {}
    for name, c in counts.items():
        impaired = False
        reason = ""
        if c.controls:
            if name in controls_failing and not everyone_fails_controls:
                impaired = True
                reason = f"{c.controls_down} of {c.controls} controls down"
        elif c.paths >= min_paths and c.down >= fail_share * c.paths:
            side = in_country.get(name, False)
            for peer, pc in counts.items():
                if peer == name or in_country.get(peer, False) != side or pc.paths < min_paths:
                    continue
                # A peer vouches only with paths in good health: one whose paths are
                # merely not confirmed down yet (an outage just beginning there) does not.
                if pc.bad <= peer_share * pc.paths:
                    impaired = True
                    reason = (
                        f"{c.down} of {c.paths} targets down while {peer} "
                        f"sees {pc.paths - pc.bad} of {pc.paths} fine"
                    )
                    break
        views[name] = VantageView(name, impaired, reason, c)
    return views


@dataclass(slots=True)
class TargetView:
    """One target across vantages at one moment."""

    condition: TargetCondition
    down: list[str] = field(default_factory=list)
    suspected: list[str] = field(default_factory=list)
    ok: list[str] = field(default_factory=list)
    impaired_down: list[str] = field(default_factory=list)
    onset_ts: float | None = None
    onset_id: str | None = None


def judge_target(
    paths: Iterable[PathHealth],
    *,
    impaired: set[str],
    in_country: Mapping[str, bool],
    now: float,
    stale_s: float,
    agree: int = 2,
    impaired_until: Mapping[str, float] | None = None,
) -> TargetView:
    """Judge one target from its paths; impaired vantages and stale paths are set aside.

    A path that is only *corroborating* (failing now, with fewer failures than a path
    needs on its own) counts as down when at least `agree` healthy vantages see the
    target fail at once: independent paths failing together are not probe noise.

    The onset is the earliest first failure of the down paths, but a path of a vantage that
    was impaired during its failure (`impaired_until`: when each vantage last stopped being
    impaired) counts from the impairment's end: its failures before then told of its own
    trouble, not of the target's.
    """
    view = TargetView(TargetCondition.OK)
    healthy: list[PathHealth] = []
    failing: list[str] = []
    for p in paths:
        if not p.fresh(now, stale_s):
            continue
        if p.vantage in impaired:
            if p.state is HealthState.DOWN:
                view.impaired_down.append(p.vantage)
            continue
        healthy.append(p)
        if p.state is HealthState.DOWN or (p.state is HealthState.SUSPECTED and p.corroborating):
            failing.append(p.vantage)
    agreed = len(failing) >= agree
    for p in healthy:
        state = p.state
        if state is HealthState.DOWN or (agreed and p.vantage in failing):
            view.down.append(p.vantage)
            start, first = p.episode_start_ts, p.episode_start_id
            if start is not None and impaired_until:
                cleared = impaired_until.get(p.vantage)
                if cleared is not None and cleared > start:
                    start, first = cleared, None
            if start is not None and (view.onset_ts is None or start < view.onset_ts):
                view.onset_ts = start
                view.onset_id = first
        elif state is HealthState.SUSPECTED:
            view.suspected.append(p.vantage)
        else:
            view.ok.append(p.vantage)
    if not view.down:
        if view.impaired_down:
            view.condition = TargetCondition.VANTAGE_ONLY
        elif view.suspected:
            view.condition = TargetCondition.SUSPECTED
        return view
    if not view.suspected and not view.ok:
        view.condition = TargetCondition.DOWN
        return view
    inside = [p for p in healthy if in_country.get(p.vantage, False)]
    abroad = [p for p in healthy if not in_country.get(p.vantage, False)]
    if (
        inside
        and abroad
        and all(p.vantage in view.down for p in inside)
        and all(p.state is HealthState.OK for p in abroad)
    ):
        view.condition = TargetCondition.FILTERED
    else:
        view.condition = TargetCondition.DEGRADED
    return view

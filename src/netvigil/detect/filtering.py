"""Filtering confirmed early: in-country vantages fail, every vantage abroad answers.

Filtering (a target down from inside the country, fine from abroad) is normally confirmed
after a hold, since an outage abroad may only be slower to show: the hold counts from
the first failed probe since the in-country path last answered (from when the vantages
abroad all answered again, if they failed too; `IncidentGrouping._filtering_onset`), and
confirms only while the newest probe still fails (a path that has just answered is
still down until it answers again, and would be a blip confirmed; `IncidentLife._standing`).
It is confirmed before the hold when the evidence is already strong: the failing
vantages' own controls answer and have all along, and every vantage abroad answered
`recover` probes in a row, and failed none, since the failure began, and the failure is
seen on more than one path: two or more targets (several probes of one service count: a
TCP connect, a TLS handshake and an HTTP request each probe it on their own schedule) or
two or more in-country vantages.
One path from one vantage still waits the hold, which is what withdraws brief blips.
"""

from __future__ import annotations

from collections.abc import Mapping

from netvigil.detect.evidence_builder import EvidenceBuilder
from netvigil.incident import Incident
from netvigil.state.judge import TargetView
from netvigil.state.paths import PathTable

__all__ = ["abroad_answered", "filtering_corroborated"]


def filtering_corroborated(
    inc: Incident,
    *,
    views: Mapping[str, TargetView],
    filtered_since: Mapping[str, float],
    paths: PathTable,
    evidence: EvidenceBuilder,
    recover: int,
    now: float,
) -> bool:
    """Whether filtering of `inc` is confirmed before the hold (see the module docstring)."""
    answered = [
        t
        for t in inc.targets
        if t in filtered_since and abroad_answered(t, views, paths, evidence, recover)
    ]
    if not answered:
        return False
    vantages = {v for t in answered for v in views[t].down}
    # The in-country vantages must vouch for themselves: their own controls answer,
    # without a single recent failure (a vantage losing its link fails everything,
    # its controls a moment later).
    if not paths.controls_vouch(vantages):
        return False
    # ... and must have vouched all along: failures that began while a vantage was
    # impaired (its link coming back before the paths recover) are no filtering.
    onset = min(views[t].onset_ts or now for t in answered)
    if any(paths.impaired_until.get(v, float("-inf")) >= onset for v in vantages):
        return False
    # Independent paths failing together are not probe noise.
    return len(answered) >= 2 or len(vantages) >= 2


def abroad_answered(
    target: str,
    views: Mapping[str, TargetView],
    paths: PathTable,
    evidence: EvidenceBuilder,
    recover: int,
) -> bool:
    """Whether every vantage abroad answered `recover` probes in a row, and failed none,
    since the in-country failure began: then it is not a wider outage abroad has yet
    to see, and filtering needs no longer hold."""
    view = views.get(target)
    if view is None or view.onset_ts is None:
        return False
    abroad = 0
    for v in paths.vantages_of(target):
        if paths.in_country.get(v, False) or v in paths.impaired:
            continue
        samples = evidence.history(target, v).since(view.onset_ts)
        if len(samples) < recover or not all(s.ok for s in samples):
            return False
        abroad += 1
    return abroad > 0

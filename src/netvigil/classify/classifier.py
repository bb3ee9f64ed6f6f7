"""The classifier: run every rule on a window and turn their scores into probabilities.

Each rule's verdict scores its cause (the sum of its weighted evidence); a cause whose
rule said nothing scores `absent`, and `unknown` scores the constant `unknown.base`.
Probabilities are a softmax of score / `softmax.temperature`, so the confidence of the
winning cause is a probability that lab runs can calibrate by tuning the weight table.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from netvigil.cause import TOPIC_ORDER, Cause, Evidence, Topic
from netvigil.classify.base import Rule, Verdict
from netvigil.words import clock

if TYPE_CHECKING:
    from netvigil.evidence import EvidenceWindow

__all__ = ["Classification", "classify"]


@dataclass(slots=True)
class Classification:
    """The outcome of classifying one window."""

    cause: Cause
    confidence: float
    probabilities: dict[str, float]
    evidence: list[Evidence]
    verdicts: list[Verdict] = field(default_factory=list)


def _softmax(scores: Mapping[Cause, float], temperature: float) -> dict[Cause, float]:
    t = temperature if temperature > 0 else 1.0
    top = max(scores.values())
    exps = {c: math.exp((s - top) / t) for c, s in scores.items()}
    total = sum(exps.values())
    return {c: v / total for c, v in exps.items()}


def classify(window: EvidenceWindow, rules: Sequence[Rule]) -> Classification:
    """Judge `window` with `rules`; the evidence is ordered by topic (vantage health first)."""
    absent = window.weight("absent")
    scores: dict[Cause, float] = dict.fromkeys(Cause, absent)
    scores[Cause.UNKNOWN] = window.weight("unknown.base")
    verdicts: list[Verdict] = []
    for rule in rules:
        verdict = rule.judge(window)
        if verdict is None:
            continue
        verdicts.append(verdict)
        if verdict.cause is Cause.UNKNOWN:
            scores[Cause.UNKNOWN] += verdict.score
        elif scores[verdict.cause] == absent:
            scores[verdict.cause] = verdict.score
        else:
            scores[verdict.cause] += verdict.score
    probs = _softmax(scores, window.weight("softmax.temperature"))
    ranked = sorted(probs, key=lambda c: (-probs[c], list(Cause).index(c)))
    winner = ranked[0]
    runner_up = ranked[1] if len(ranked) > 1 else winner
    return Classification(
        cause=winner,
        confidence=probs[winner],
        probabilities={c.value: round(p, 6) for c, p in probs.items()},
        evidence=_compile_evidence(window, verdicts, winner, runner_up),
        verdicts=verdicts,
    )


def _compile_evidence(
    window: EvidenceWindow, verdicts: list[Verdict], winner: Cause, runner_up: Cause
) -> list[Evidence]:
    """Winner and runner-up statements, vantage and geography facts, and every reason
    against another cause (negative weights), ordered by topic."""
    chosen: list[Evidence] = []
    if window.maintenance is not None:
        chosen.append(
            Evidence(
                f"planned maintenance covers the affected services: {window.maintenance}",
                Topic.MAINTENANCE,
            )
        )
    seen: set[str] = set()
    for verdict in verdicts:
        keep = verdict.cause in (winner, runner_up)
        for e in verdict.evidence:
            if e.statement in seen:
                continue
            if keep or e.weight < 0 or e.topic in (Topic.VANTAGE, Topic.GEOGRAPHY):
                seen.add(e.statement)
                chosen.append(e)
    if not any(e.topic is Topic.SHAPE for e in chosen):
        chosen.append(
            Evidence(
                f"first failure at {clock(window.onset)}, {len(window.targets)} target(s) of "
                f"{len(window.services)} service(s) affected",
                Topic.SHAPE,
            )
        )
    order = {t: i for i, t in enumerate(TOPIC_ORDER)}
    chosen.sort(key=lambda e: (order[e.topic], -abs(e.weight)))
    return chosen

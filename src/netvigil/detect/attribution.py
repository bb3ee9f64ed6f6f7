"""Attribution: the cause of an incident, judged from its evidence window by the rules
(`netvigil.classify`), with hysteresis so a cause changes only when another clearly wins.

Two limits keep the confidence honest:

- before an incident is confirmed its cause is provisional, judged from a few probes:
  its confidence is capped at `PROVISIONAL_CAP` (the probabilities stay as computed);
- a vantage-problem incident (one vantage's own network in trouble) is judged by the
  rules for that cause only: the outages other vantages see are incidents of their own,
  and their evidence must not rename it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from netvigil.cause import Cause
from netvigil.classify import Rule, classify
from netvigil.evidence import EvidenceWindow
from netvigil.incident import CauseChange, Incident

__all__ = ["PROVISIONAL_CAP", "Attribution"]

PROVISIONAL_CAP = 0.6
"""The highest confidence a cause is given before its incident is confirmed."""

_VANTAGE_CAUSES = frozenset({Cause.VANTAGE_PROBLEM, Cause.UNKNOWN})


class Attribution:
    """Judges an incident's cause; a new cause must beat the current one by `switch_margin`."""

    def __init__(
        self, rules: Sequence[Rule], weights: Mapping[str, float], *, switch_margin: float
    ) -> None:
        self.rules = rules
        self.weights = weights
        self.switch_margin = switch_margin

    def judge(self, inc: Incident, window: EvidenceWindow, now: float) -> bool:
        """Classify `inc` from `window` at `now`: its features, probabilities, evidence and
        cause are updated; True when the cause changed from an earlier one."""
        rules = self.rules
        if inc.vantage is not None:
            rules = [r for r in rules if r.cause in _VANTAGE_CAUSES]
        result = classify(window, rules)
        inc.features = window.features
        inc.probabilities = result.probabilities
        inc.evidence = result.evidence
        inc.maintenance = window.maintenance
        winner = result.cause
        cap = PROVISIONAL_CAP if inc.confirmed_at is None else 1.0
        if not inc.cause_history:
            _set_cause(inc, winner, min(cap, result.confidence), now)
            return False
        current = result.probabilities.get(inc.cause.value, 0.0)
        if winner is not inc.cause and result.confidence >= current + self.switch_margin:
            _set_cause(inc, winner, min(cap, result.confidence), now)
            return True
        inc.confidence = min(cap, current)
        return False


def _set_cause(inc: Incident, cause: Cause, confidence: float, now: float) -> None:
    inc.cause = cause
    inc.confidence = confidence
    inc.cause_history.append(CauseChange(now, cause, round(confidence, 6)))

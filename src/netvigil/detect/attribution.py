"""Attribution: the cause of an incident, judged from its evidence window by the rules
(`netvigil.classify`), with hysteresis so a cause changes only when another clearly wins.

A cause follows the evidence, and only the evidence: another cause takes over when it
wins by `switch_margin` and the failure's signature (its dominant failure family, and
whether loss is complete in the recent window) has changed since the current cause was
set, or when it wins by `strong_margin` on the same signature. Unchanged evidence does
not make the cause flip back and forth.

Two limits keep the confidence honest:

- before an incident is confirmed its cause is provisional, judged from a few probes:
  its confidence is capped at `PROVISIONAL_CAP` (the probabilities stay as computed);
  once confirmed, the cap rises with the time the failure has been watched, reaching 1.0
  after `settle_intervals` probe intervals from its onset: the first seconds of a flood
  look like a cut, and a cause judged on them must not be stated as near-certain;
- a vantage-problem incident (one vantage's own network in trouble) is judged by the
  rules for that cause only: the outages other vantages see are incidents of their own,
  and their evidence must not rename it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from netvigil.cause import Cause
from netvigil.classify import Rule, classify
from netvigil.detect.signature import family
from netvigil.evidence import EvidenceWindow
from netvigil.incident import CauseChange, Incident

__all__ = ["PROVISIONAL_CAP", "Attribution"]

PROVISIONAL_CAP = 0.6
"""The highest confidence a cause is given before its incident is confirmed."""

_VANTAGE_CAUSES = frozenset({Cause.VANTAGE_PROBLEM, Cause.UNKNOWN})


class Attribution:
    """Judges an incident's cause; a new cause must beat the current one by `switch_margin`."""

    def __init__(
        self,
        rules: Sequence[Rule],
        weights: Mapping[str, float],
        *,
        switch_margin: float,
        strong_margin: float = 0.3,
        settle_intervals: float = 4.0,
    ) -> None:
        self.rules = rules
        self.weights = weights
        self.switch_margin = switch_margin
        self.strong_margin = strong_margin
        self.settle_intervals = settle_intervals
        self._basis: dict[str, tuple[str, bool]] = {}
        """Per incident, the signature its current cause was judged on."""

    def forget(self, incident_id: str) -> None:
        """The incident ended: drop what was kept about it."""
        self._basis.pop(incident_id, None)

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
        cap = self._cap(inc, window, now)
        signature = _signature(window)
        if not inc.cause_history:
            _set_cause(inc, winner, min(cap, result.confidence), now)
            self._basis[inc.id] = signature
            return False
        current = result.probabilities.get(inc.cause.value, 0.0)
        margin = self.switch_margin
        if self._basis.get(inc.id, signature) == signature:
            margin = self.strong_margin  # the same evidence: only a clear winner takes over
        if winner is not inc.cause and result.confidence >= current + margin:
            _set_cause(inc, winner, min(cap, result.confidence), now)
            self._basis[inc.id] = signature
            return True
        inc.confidence = min(cap, current)
        return False

    def _cap(self, inc: Incident, window: EvidenceWindow, now: float) -> float:
        """The highest confidence `inc`'s cause may be given at `now`."""
        if inc.confirmed_at is None:
            return PROVISIONAL_CAP
        settle_s = self.settle_intervals * window.features.interval_s
        if settle_s <= 0:
            return 1.0
        watched = max(0.0, now - inc.start)
        return min(1.0, PROVISIONAL_CAP + (1.0 - PROVISIONAL_CAP) * watched / settle_s)


def _set_cause(inc: Incident, cause: Cause, confidence: float, now: float) -> None:
    inc.cause = cause
    inc.confidence = confidence
    inc.cause_history.append(CauseChange(now, cause, round(confidence, 6)))


def _signature(window: EvidenceWindow) -> tuple[str, bool]:
    """The failure's dominant family since its onset, and whether nothing got through in
    the recent window."""
    families: dict[str, int] = {}
    for outcome, n in window.outcomes.items():
        fam = family(outcome)
        families[fam] = families.get(fam, 0) + n
    dominant = max(sorted(families), key=lambda f: families[f], default="none")
    return dominant, window.features.loss_recent >= 0.999

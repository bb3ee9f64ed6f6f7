"""The detector's tunables."""

from __future__ import annotations

from dataclasses import dataclass, field

from netvigil.detect.features import FeatureSettings
from netvigil.state.health import HealthPolicy

__all__ = ["DetectorSettings"]


@dataclass(frozen=True, slots=True)
class DetectorSettings:
    """Tunables; durations in probe intervals are multiplied by each target's interval_s.

    stale_intervals    a path without data for this long is set aside
    resolve_intervals  an incident resolves once its targets stayed out of failure this long
                       (so a flapping target does not chop one outage into many)
    hold_intervals     a partial failure (some vantages only) waits this long before it
                       opens an incident, unless the failing vantages' controls vouch for them;
                       filtering (in-country down, abroad fine) is confirmed once this long
                       has passed since its failure began (the first failed probe since
                       the path last answered) and it still fails
    cofate_intervals   services of one organization failing this close to an incident's
                       onset join it (services on the same network always do)
    reclassify_s       open incidents are classified again this often (stream seconds), or
                       every `reclassify_intervals` probe intervals when that is sooner
    switch_margin      a new cause must beat the current one by this much probability
    regroup_intervals  when targets or vantages join an open incident, it is classified
                       again at most this often (probe intervals); an incident is always
                       classified when it opens and when it is confirmed
    steady_max         an incident judged the same again is judged less often, up to this
                       many reclassification periods apart (a change resets it)
    reclassify_budget  at most this many periodic reclassifications per call (`feed`,
                       `advance`), most overdue first, so a call's cost stays bounded
                       however many incidents are open
    """

    health: HealthPolicy = field(default_factory=HealthPolicy)
    features: FeatureSettings = field(default_factory=FeatureSettings)
    stale_intervals: float = 5.0
    hold_intervals: float = 3.0
    resolve_intervals: float = 5.0
    cofate_intervals: float = 3.0
    reclassify_s: float = 15.0
    reclassify_intervals: float = 1.0
    switch_margin: float = 0.1
    regroup_intervals: float = 0.5
    reclassify_budget: int = 2
    steady_max: int = 4
    default_interval_s: float = 60.0

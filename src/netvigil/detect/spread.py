"""Partial failures spread over several services: confirmed when every vantage sees some.

An incident is otherwise confirmed when one of its targets is `down`: every healthy vantage
confirms the failure at once. A flood on a shaped uplink loses some probes on every path
behind it, not all: each path fails one probe in two or three, and rarely does every
vantage have the same target down at the same moment. Taken together the picture is
plain: several services of the incident are failing, and every vantage that probes them
sees at least one of them down. Independent paths failing together are not probe noise,
and failures seen from every vantage are no vantage's own.

One service failing partly from every vantage is not confirmed this way: judged that
early, on one target, a network flood reads as an application flood as often as not, and
the first alert would name the wrong cause. It is confirmed when the failures themselves
rule the network out (`erring_everywhere`): a target whose server answered every vantage
that probes it with an HTTP error since its failure began was reached from all of them
(a flood of requests on one site, or its backend failing), whatever the probes between.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence

from netvigil.detect.sample import Sample
from netvigil.detect.signature import family
from netvigil.state.judge import FAILING, TargetView

__all__ = ["erring_everywhere", "failing_everywhere"]


def failing_everywhere(
    targets: Iterable[str],
    views: Mapping[str, TargetView],
    service_of: Callable[[str], str | None],
    *,
    min_services: int = 2,
    min_vantages: int = 2,
) -> bool:
    """Whether the failing ones of `targets` belong to at least `min_services` services
    and every healthy vantage that probes them (at least `min_vantages`) sees one down."""
    services: set[str] = set()
    probing: set[str] = set()
    down: set[str] = set()
    for target in targets:
        view = views.get(target)
        if view is None or view.condition not in FAILING:
            continue
        services.add(service_of(target) or target)
        probing.update(view.down, view.suspected, view.ok)
        down.update(view.down)
    return len(services) >= min_services and len(probing) >= min_vantages and probing <= down


def erring_everywhere(
    targets: Iterable[str],
    views: Mapping[str, TargetView],
    since: Callable[[str, str, float], Sequence[Sample]],
    *,
    min_vantages: int = 2,
) -> bool:
    """Whether one of the failing `targets` was answered with an application error (an
    HTTP error status: the server was reached) at least once, since its failure began,
    by every healthy vantage that probes it (at least `min_vantages`). `since(target,
    vantage, ts)` gives a path's samples from `ts` on."""
    for target in targets:
        view = views.get(target)
        if view is None or view.condition not in FAILING or view.onset_ts is None:
            continue
        probing = {*view.down, *view.suspected, *view.ok}
        if len(probing) < min_vantages:
            continue
        onset = view.onset_ts
        if all(_erred(since(target, v, onset)) for v in sorted(probing)):
            return True
    return False


def _erred(samples: Sequence[Sample]) -> bool:
    return any(not s.ok and family(s.outcome) == "application" for s in samples)

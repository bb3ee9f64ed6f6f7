"""One incident over expectations of different causes: a failure changing mode, or a merge.

A failure that changes mode on the same services (a flood that turns into a cut) is one
outage, and netvigil keeps one incident whose cause follows the change (docs/detection.md:
the cause changes when the failure's signature changes; separate failures are separate
incidents). Two expectations that one incident matches *continue* one another when

- the later one names the earlier one's services, or some of them;
- the later one starts before the earlier one ended plus the grace; and
- the incident showed each expectation's cause during it (from its start to its end plus
  the grace; the cause in effect at its start counts).

Expectations linked by such steps (a flood, a withdrawal, a cut) are one failure changing
mode: two of different causes among them are a *change of mode* that the incident
followed. Any other two expectations of different causes in one incident are *merged*:
two failures told as one (or a change the incident's cause did not follow). An incident
with a merged pair counts as merged; one whose pairs of different causes are all changes
of mode counts as a change of mode followed.

The later expectation of each step of different causes gets an `Allowance`: the earlier
one's cause, shown on that incident during the first `allowance_s` seconds after the later
one's start, is *not yet detected* (the new mode is being recognised) rather than wrong.
The earlier one gets a *handover*: the later one's cause, shown on that incident from the
later one's start to the end of the earlier one's grace, is the new mode's and not the
earlier one's to judge (neither wrong nor right for it, strictly or with allowance); the
earlier expectation's grace is for a failure that ends, not one that goes on in another
mode.

    found = changes_of_mode(hits, spans, grace_s=10.0, allowance_s=20.0)
    found.merged, found.mode_changes, found.merged_with[0], found.allowances[1],
    found.handovers[0]
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from netvigil.lab.causes import Allowance, cause_at, steps
from netvigil.lab.reported import Reported

__all__ = ["ExpectedSpan", "ModeChanges", "changes_of_mode", "continues", "shows"]


@dataclass(frozen=True, slots=True)
class ExpectedSpan:
    """An expectation as these rules read it."""

    cause: str
    services: frozenset[str]
    start: float
    end: float
    """Its end (the run's end while the fault lasts)."""


@dataclass(slots=True)
class ModeChanges:
    """Which incidents merged failures and which followed one failure changing mode."""

    merged: list[tuple[str, list[int]]] = field(default_factory=list)
    """Incidents with two expectations of different causes that do not continue one
    another, with all the expectations they match."""
    mode_changes: list[tuple[str, list[int]]] = field(default_factory=list)
    """Incidents whose expectations of different causes all continue one another."""
    merged_with: dict[int, list[int]] = field(default_factory=dict)
    """Per expectation: those of another cause merged with it in some incident."""
    mode_change_with: dict[int, list[int]] = field(default_factory=dict)
    """Per expectation: those of another cause it changes mode from or to (not merged)."""
    allowances: dict[int, list[Allowance]] = field(default_factory=dict)
    """Per expectation: the previous mode's cause excused while it is recognised."""
    handovers: dict[int, list[Allowance]] = field(default_factory=dict)
    """Per expectation: the next mode's cause, shown once the next mode began, left to the
    next mode's expectation."""


def shows(rep: Reported, cause: str, lo: float, hi: float) -> bool:
    """Whether `rep` showed `cause` at some moment of [lo, hi]."""
    if cause_at(rep, lo).cause == cause:
        return True
    return any(lo < s.at <= hi and s.cause == cause for s in steps(rep))


def continues(rep: Reported, earlier: ExpectedSpan, later: ExpectedSpan, grace_s: float) -> bool:
    """Whether `later` is `earlier`'s failure in another mode, as `rep` told it."""
    return (
        later.services <= earlier.services
        and earlier.start <= later.start <= earlier.end + grace_s
        and shows(rep, earlier.cause, earlier.start, earlier.end + grace_s)
        and shows(rep, later.cause, later.start, later.end + grace_s)
    )


def _links(
    rep: Reported, indices: Sequence[int], spans: Mapping[int, ExpectedSpan], grace_s: float
) -> list[tuple[int, int]]:
    """The (earlier, later) pairs of `indices` that continue one another on `rep`."""
    links = []
    for a, b in itertools.combinations(indices, 2):
        if continues(rep, spans[a], spans[b], grace_s):
            links.append((a, b))
        elif continues(rep, spans[b], spans[a], grace_s):
            links.append((b, a))
    return links


def _components(indices: Sequence[int], links: Sequence[tuple[int, int]]) -> dict[int, int]:
    """Each index's component (its smallest member) in the graph of `links`."""
    root = {i: i for i in indices}

    def find(i: int) -> int:
        while root[i] != i:
            i = root[i]
        return i

    for a, b in links:
        ra, rb = find(a), find(b)
        root[max(ra, rb)] = min(ra, rb)
    return {i: find(i) for i in indices}


def changes_of_mode(
    hits: Mapping[int, Sequence[Reported]],
    spans: Mapping[int, ExpectedSpan],
    *,
    grace_s: float,
    allowance_s: float,
) -> ModeChanges:
    """Sort the incidents matching expectations of different causes into merges and
    changes of mode followed (`hits`: the incidents matching each expectation)."""
    found = ModeChanges()
    incidents: dict[str, Reported] = {}
    matched: dict[str, list[int]] = {}
    for index, reps in hits.items():
        for r in reps:
            incidents[r.id] = r
            matched.setdefault(r.id, []).append(index)
    merged: dict[int, set[int]] = {}
    changed: dict[int, set[int]] = {}
    for rid, indices in matched.items():
        indices = sorted(indices, key=lambda i: (spans[i].start, i))
        if len({spans[i].cause for i in indices}) < 2:
            continue
        links = _links(incidents[rid], indices, spans, grace_s)
        part = _components(indices, links)
        was_merged = False
        for a, b in itertools.combinations(indices, 2):
            if spans[a].cause == spans[b].cause:
                continue
            into = changed if part[a] == part[b] else merged
            was_merged |= into is merged
            into.setdefault(a, set()).add(b)
            into.setdefault(b, set()).add(a)
        (found.merged if was_merged else found.mode_changes).append((rid, sorted(indices)))
        for a, b in links:
            if spans[a].cause != spans[b].cause:
                start = spans[b].start
                window = Allowance(rid, spans[a].cause, start, start + allowance_s)
                found.allowances.setdefault(b, []).append(window)
                if start < spans[a].end + grace_s:
                    later = Allowance(rid, spans[b].cause, start, spans[a].end + grace_s)
                    found.handovers.setdefault(a, []).append(later)
    found.merged_with = {i: sorted(js) for i, js in merged.items()}
    found.mode_change_with = {
        i: sorted(js - merged.get(i, set()))
        for i, js in changed.items()
        if js - merged.get(i, set())
    }
    return found

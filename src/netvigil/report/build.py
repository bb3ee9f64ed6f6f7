"""Gathering a report: the incident, the stored data around it, and the figure series.

    report = await build_report(incident, store, config)
    write_report(report, Path("incident.html"))      # or .md

The window runs from `context_s` before the incident's first bad measurement to
`context_s / 2` after its end (or to `now` while it is open). Short windows are read
as raw measurements, long ones as per-minute rollups (see `series.choose_grid`);
where raw measurements were pruned, rollups stand in.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from netvigil.config.model import Config
from netvigil.incident import Incident
from netvigil.model import Measurement
from netvigil.network_plane import NetworkPlane, read_planes
from netvigil.report.series import (
    Grid,
    LatencyBand,
    Sample,
    choose_grid,
    latency_bands,
    outcome_counts,
    reachability,
)
from netvigil.report.text import headline
from netvigil.store.base import MeasurementQuery, Rollup, RollupQuery, Store
from netvigil.words import cause_label

__all__ = [
    "MAX_COMPARISONS",
    "MAX_PANELS",
    "FailedProbe",
    "Panel",
    "Report",
    "TimelineEntry",
    "build_report",
    "default_context_s",
    "export_command",
    "read_rollups",
]

MAX_PANELS = 8
"""At most this many services get their own reachability panel."""

MAX_COMPARISONS = 2
"""At most this many unaffected services are drawn for comparison."""

MAX_RAW = 200_000
"""Above this many raw measurements in the window, per-minute rollups are read instead."""

MAX_ROLLUPS = 1_000_000
"""At most this many per-minute rollups are read for one report."""

MAX_FAILED_IDS = 24
"""At most this many failed measurements are listed by id."""

_PAGE = 10_000


@dataclass(frozen=True, slots=True)
class Panel:
    """One service in the reachability figure: its targets and whether the incident hit it."""

    service: str
    targets: tuple[str, ...]
    affected: bool
    network: str | None = None


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    """One moment in an incident's life, in words, with the measurement that shows it."""

    ts: float
    text: str
    measurement_id: str | None = None


@dataclass(frozen=True, slots=True)
class FailedProbe:
    """A failed measurement a reader can look up: the first per target and vantage."""

    id: str
    ts: float
    target: str
    vantage: str
    outcome: str


@dataclass(slots=True)
class Report:
    """Everything an incident report shows, gathered once and rendered as Markdown or HTML.

    `since`/`until` bound the window shown; `shade_end` is the incident's end, or the
    moment the report was made while it is still open. `reachability` maps each panel's
    service to per-vantage success ratios per bin of `grid`; `latency` maps vantages to
    latency bands over the affected targets; `outcomes` maps outcome names to counts
    per bin over the affected targets; `planes` the network plane of its networks.
    """

    incident: Incident
    generated_at: float
    since: float
    until: float
    shade_end: float
    grid: Grid
    headline: str
    panels: list[Panel]
    vantages: list[str]
    reachability: dict[str, dict[str, list[float | None]]]
    latency: dict[str, LatencyBand]
    outcomes: dict[str, list[int]]
    timeline: list[TimelineEntry]
    failed_probes: list[FailedProbe]
    export_command: str
    sample_count: int = 0
    notes: list[str] = field(default_factory=list)
    planes: list[NetworkPlane] = field(default_factory=list)
    """The network plane of the incident's networks with stored signals (BGP visibility,
    blocks up), over the grid's bins."""


def default_context_s(duration_s: float) -> float:
    """How much time before onset a report shows: the incident's length, 15 min to 6 h."""
    return min(max(duration_s, 900.0), 6 * 3600.0)


def _panels(incident: Incident, config: Config) -> list[Panel]:
    """The affected services, then a few unaffected ones of the same organizations."""
    by_service: dict[str, list[str]] = {}
    for spec in config.targets:
        if spec.service is not None and not spec.control:
            by_service.setdefault(spec.service, []).append(spec.name)
    affected_targets = set(incident.targets)
    panels: list[Panel] = []
    for name in incident.services:
        svc = config.service(name)
        targets = [t for t in by_service.get(name, []) if t in affected_targets]
        panels.append(
            Panel(
                name,
                tuple(targets or by_service.get(name, [])),
                True,
                svc.network if svc is not None else None,
            )
        )
    known = {t for p in panels for t in p.targets}
    for target in incident.targets:  # targets whose service the config no longer names
        if target not in known:
            panels.append(Panel(target, (target,), True))
    panels = panels[:MAX_PANELS]
    orgs = set(incident.organizations)
    others = [
        s for s in config.services if s.name not in incident.services and s.name in by_service
    ]
    others.sort(key=lambda s: (s.organization not in orgs, s.name))
    room = min(MAX_COMPARISONS, MAX_PANELS + MAX_COMPARISONS - len(panels))
    panels += [Panel(s.name, tuple(by_service[s.name]), False, s.network) for s in others[:room]]
    return panels


def _interval_s(config: Config, targets: Sequence[str]) -> float:
    wanted = set(targets)
    intervals = [t.interval_s for t in config.targets if t.name in wanted]
    return max(intervals) if intervals else 60.0


async def _read_raw(
    store: Store, since: float, until: float, targets: Sequence[str]
) -> list[Measurement] | None:
    """Raw measurements in the window, or None when there are more than MAX_RAW."""
    out: list[Measurement] = []
    after: str | None = None
    while True:
        page = await store.measurements(
            MeasurementQuery(
                since=since, until=until, targets=list(targets), limit=_PAGE, after_id=after
            )
        )
        out += page
        if len(page) < _PAGE:
            return out
        if len(out) > MAX_RAW:
            return None
        after = page[-1].id


async def _read_samples(
    store: Store, grid: Grid, since: float, until: float, targets: Sequence[str], notes: list[str]
) -> tuple[Grid, list[Sample]]:
    """Samples for the grid's source, falling back to rollups when raw data is missing."""
    if grid.source == "measurements":
        raw = await _read_raw(store, since, until, targets)
        if raw:
            return grid, [Sample.from_measurement(m) for m in raw]
        notes.append(
            "too many raw measurements in this window; figures use per-minute summaries"
            if raw is None
            else "no raw measurements are stored for this window (pruned?); "
            "figures use per-minute summaries"
        )
        grid = choose_grid(since, until, interval_s=60.0, source="rollups")
    rollups = await read_rollups(store, since, until, targets)
    if len(rollups) >= MAX_ROLLUPS:
        notes.append(f"only the first {MAX_ROLLUPS} per-minute summaries are drawn")
    return grid, [Sample.from_rollup(r) for r in rollups]


async def read_rollups(
    store: Store, since: float, until: float, targets: Sequence[str], *, page_size: int = _PAGE
) -> list[Rollup]:
    """Per-minute rollups in the window, oldest first, read page by page.

    Each page is cut back to whole minutes and the next starts at the cut; a minute
    with more rows than a page holds keeps only a page of them. At most MAX_ROLLUPS.
    """
    out: list[Rollup] = []
    cursor = since
    while len(out) < MAX_ROLLUPS:
        query = RollupQuery(since=cursor, until=until, targets=list(targets), limit=page_size)
        page = await store.rollups(query)
        if len(page) < page_size:
            return out + page
        last = page[-1].minute
        whole = [r for r in page if r.minute != last]
        if not whole:  # one minute fills a page: take it and move on
            whole, last = page, last + 60
        out += whole
        cursor = float(last)
    return out[:MAX_ROLLUPS]


async def _failed_probes(
    store: Store, incident: Incident, until: float
) -> tuple[list[FailedProbe], FailedProbe | None]:
    """The first failed measurement per (target, vantage) of the incident, oldest first,
    and the incident's first bad measurement when it is stored."""
    seen: dict[tuple[str, str], FailedProbe] = {}
    first: FailedProbe | None = None
    query = MeasurementQuery(
        since=incident.start,
        until=min(until, incident.start + 3600.0) + 1e-3,
        targets=list(incident.targets) or None,
        limit=_PAGE,
    )
    for m in await store.measurements(query):
        if m.ok:
            continue
        probe = FailedProbe(m.id, m.ts, m.target, m.vantage, m.outcome.value)
        if m.id == incident.first_measurement_id:
            first = probe
        seen.setdefault((m.target, m.vantage), probe)
    probes = sorted(seen.values(), key=lambda p: (p.ts, p.id))
    return probes[:MAX_FAILED_IDS], first


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def export_command(since: float, until: float, targets: Sequence[str], incident_id: str) -> str:
    """The `netvigil export` command line that writes the raw data behind a report."""
    words = ["netvigil", "export", "--since", _iso(since), "--until", _iso(until + 1)]
    for target in targets:
        words += ["--target", target]
    words += ["--format", "jsonl", "--out", f"{incident_id}.jsonl"]
    return shlex.join(words)


def _timeline(incident: Incident, first: FailedProbe | None, now: float) -> list[TimelineEntry]:
    """The incident's life: first bad measurement, confirmation, cause changes, end."""
    seen = "first failed measurement"
    if first is not None:
        seen += f": {first.target} from {first.vantage} ({first.outcome})"
    entries = [TimelineEntry(incident.start, seen, incident.first_measurement_id)]
    if incident.confirmed_at is not None:
        entries.append(
            TimelineEntry(incident.confirmed_at, "confirmed: the failure persisted and was checked")
        )
    previous = None
    for change in incident.cause_history:
        label = cause_label(change.cause)
        if previous is None:
            text = f"first judged: looks like {label} (confidence {change.confidence:.2f})"
        else:
            text = (
                f"cause changed from {cause_label(previous)} to {label} "
                f"(confidence {change.confidence:.2f})"
            )
        entries.append(TimelineEntry(change.ts, text))
        previous = change.cause
    if incident.end is not None:
        entries.append(TimelineEntry(incident.end, "ended: every affected target answered again"))
    else:
        entries.append(
            TimelineEntry(now, f"still open when this report was made ({incident.state.value})")
        )
    entries.sort(key=lambda e: e.ts)
    return entries


async def build_report(
    incident: Incident,
    store: Store,
    config: Config,
    *,
    context_s: float | None = None,
    now: float | None = None,
) -> Report:
    """Read the data around `incident` from `store` and compute what a report shows.

    `context_s` is how much time before onset to show (default: the incident's length,
    between 15 min and 6 h); half as much is shown after its end. `now` (default: the
    clock) ends an open incident's shading. Raises StoreError when the store cannot be read.
    """
    now = time.time() if now is None else now
    shade_end = incident.end if incident.end is not None else max(now, incident.start)
    duration = shade_end - incident.start
    context = default_context_s(duration) if context_s is None else max(0.0, context_s)
    since = incident.start - context
    # After an end, half the context; while open, a sliver so that "now" is not the edge.
    until = shade_end + (context / 2 if incident.end is not None else 0.03 * (shade_end - since))
    until = max(until, since + 60.0)
    panels = _panels(incident, config)
    targets = sorted({t for p in panels for t in p.targets} | set(incident.targets))
    notes: list[str] = []
    grid = choose_grid(since, until, interval_s=_interval_s(config, targets))
    grid, samples = await _read_samples(store, grid, since, until, targets, notes)
    failed, first = await _failed_probes(store, incident, shade_end)
    affected = list(incident.targets) or [t for p in panels if p.affected for t in p.targets]
    vantages = sorted({s.vantage for s in samples} | set(incident.vantages))
    planes = await read_planes(
        store, incident, config.targets, since=grid.start, until=grid.end, step=grid.width_s
    )
    return Report(
        incident=incident,
        generated_at=now,
        since=since,
        until=until,
        shade_end=shade_end,
        grid=grid,
        headline=headline(incident, now=now),
        panels=panels,
        vantages=vantages,
        reachability=reachability(samples, grid, {p.service: set(p.targets) for p in panels}),
        latency=latency_bands(samples, grid, set(affected), onset=incident.start),
        outcomes=outcome_counts(samples, grid, set(affected)),
        timeline=_timeline(incident, first, now),
        failed_probes=failed,
        export_command=export_command(since, until, targets, incident.id),
        sample_count=len(samples),
        notes=notes,
        planes=planes,
    )

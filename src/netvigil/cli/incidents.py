"""`netvigil incidents` and `netvigil incident ID`: stored incidents, listed or in detail.

Also the wording the other commands share: `incidents_table` (replay prints the same
table) and `incident_line` (the one-line log of `netvigil run`).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.table import Table

from netvigil.cause import Cause
from netvigil.cli._common import (
    ConfigOption,
    DBOption,
    StoreOpener,
    load_optional_config,
    output_console,
    reading_store,
)
from netvigil.cli._loop import run_async
from netvigil.cli._time import format_ts, parse_moment
from netvigil.errors import NetvigilError
from netvigil.incident import EventKind, Incident, IncidentEvent
from netvigil.store.base import IncidentQuery
from netvigil.words import duration, names

__all__ = [
    "incident",
    "incident_line",
    "incidents",
    "incidents_table",
    "timeline",
]

_WORDS = {
    EventKind.OPENED: "SUSPECTED",
    EventKind.CONFIRMED: "CONFIRMED",
    EventKind.CAUSE_CHANGED: "CAUSE CHANGED",
    EventKind.UPDATED: "UPDATED",
    EventKind.RESOLVED: "RESOLVED",
}


def _compact(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _clock(ts: float, *, day_of: float | None = None) -> str:
    """`21:04:05Z`, with the date in front unless `ts` falls on the UTC day of `day_of`."""
    moment = datetime.fromtimestamp(ts, UTC)
    if day_of is not None and moment.date() == datetime.fromtimestamp(day_of, UTC).date():
        return moment.strftime("%H:%M:%SZ")
    return format_ts(ts)


def _what(inc: Incident) -> str:
    return names(inc.services or inc.targets, limit=6) or inc.id


def _cause(inc: Incident) -> str:
    return f"{inc.cause.value} ({inc.confidence:.2f})"


def incident_line(event: IncidentEvent) -> str:
    """One line for a log: `incident inc-… CONFIRMED: e-albania, parliament down from
    2 vantages since 21:04:05Z — shutdown (0.82)`."""
    inc = event.incident
    word = _WORDS.get(event.kind, event.kind.value.upper())
    quiet = " [maintenance]" if event.quiet else ""
    head = f"incident {inc.id} {word}{quiet}: {_what(inc)}"
    if event.kind is EventKind.RESOLVED:
        if inc.confirmed_at is None:
            return f"{head} withdrawn (never confirmed)"
        end = inc.end if inc.end is not None else event.ts
        return (
            f"{head} back up since {_clock(end, day_of=event.ts)} after "
            f"{duration(max(0.0, end - inc.start))} — was {_cause(inc)}"
        )
    if inc.vantage is not None:
        where = f" as seen from vantage {inc.vantage}"
    else:
        n = len(inc.vantages)
        where = f" from {n} vantage{'s' if n != 1 else ''}" if n else ""
    return f"{head} down{where} since {_clock(inc.start, day_of=event.ts)} — {_cause(inc)}"


def _span(inc: Incident, now: float) -> str:
    if inc.end is not None:
        return f"{format_ts(inc.end)} ({duration(max(0.0, inc.end - inc.start))})"
    return f"open ({duration(max(0.0, now - inc.start))} so far)"


def incidents_table(found: Sequence[Incident], *, title: str, now: float | None = None) -> Table:
    """A table of incidents: id, state, cause, confidence, services, vantages, start, end."""
    now = time.time() if now is None else now
    table = Table(box=None, header_style="bold", title=title)
    for column in ("id", "state", "cause", "confidence", "services", "vantages", "start", "end"):
        table.add_column(column, justify="right" if column == "confidence" else "left")
    for inc in found:
        state = inc.state.value
        if inc.open:
            state = f"[bold red]{state}[/bold red]"
        table.add_row(
            inc.id,
            state,
            inc.cause.value,
            f"{inc.confidence:.2f}",
            names(inc.services or inc.targets, limit=4),
            names([inc.vantage] if inc.vantage else inc.vantages, limit=4),
            format_ts(inc.start),
            _span(inc, now),
        )
    if not found:
        table.caption = "no incidents"
    return table


def incidents(
    config_path: ConfigOption = None,
    db: DBOption = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only incidents not resolved.")] = False,
    since: Annotated[
        str | None,
        typer.Option(
            help="Only incidents not over before this moment: an age (2h, 7d) or ISO-8601 time."
        ),
    ] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List stored incidents, newest first."""
    since_ts = parse_moment(since, option="--since") if since else None
    opener = reading_store(config_path, load_optional_config(config_path), db)
    query = IncidentQuery(open_only=open_only, since=since_ts, limit=limit)
    found = run_async(_incidents(opener, query))
    if as_json:
        for inc in found:
            sys.stdout.write(_compact(inc.to_json()) + "\n")
        return
    title = "open incidents" if open_only else "incidents"
    output_console().print(incidents_table(found, title=f"{title} in {opener.name}"))


async def _incidents(opener: StoreOpener, query: IncidentQuery) -> list[Incident]:
    async with await opener.open() as store:
        return await store.incidents(query)


def incident(
    incident_id: Annotated[str, typer.Argument(help="Incident id (see `netvigil incidents`).")],
    config_path: ConfigOption = None,
    db: DBOption = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="The incident and its timeline as JSON.")
    ] = False,
) -> None:
    """Show one incident: its timeline, cause, evidence and what it affected."""
    opener = reading_store(config_path, load_optional_config(config_path), db)
    found, events = run_async(_incident(opener, incident_id))
    if found is None:
        raise NetvigilError(f"no incident {incident_id!r} in {opener.name}")
    steps = timeline(events)
    if as_json:
        data = found.to_json() | {
            "timeline": [{"ts": ts, "kind": kind.value, "text": text} for ts, kind, text in steps]
        }
        sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
        return
    sys.stdout.write("\n".join(_detail(found, steps)) + "\n")


async def _incident(
    opener: StoreOpener, incident_id: str
) -> tuple[Incident | None, list[IncidentEvent]]:
    async with await opener.open() as store:
        return await store.incident(incident_id), await store.incident_events(incident_id)


def timeline(events: Sequence[IncidentEvent]) -> list[tuple[float, EventKind, str]]:
    """What happened when, from the event log: (ts, kind, text) per event that changed
    something (an `updated` event that changed nothing shown is left out)."""
    steps: list[tuple[float, EventKind, str]] = []
    before: Incident | None = None
    for event in events:
        inc = event.incident
        kind = event.kind
        if kind is EventKind.OPENED:
            text = f"opened (suspected): {_what(inc)}; {_cause(inc)}"
        elif kind is EventKind.CONFIRMED:
            text = f"confirmed from {len(inc.vantages)} vantage(s); {_cause(inc)}"
        elif kind is EventKind.CAUSE_CHANGED:
            was = f" (was {before.cause.value})" if before is not None else ""
            text = f"cause changed to {_cause(inc)}{was}"
        elif kind is EventKind.RESOLVED:
            if inc.confirmed_at is None:
                text = "withdrawn (never confirmed)"
            else:
                end = inc.end if inc.end is not None else event.ts
                text = f"resolved: back up since {format_ts(end)}"
        else:
            text = _changes(before, inc)
        if text:
            steps.append((event.ts, kind, text))
        before = inc
    return steps


def _changes(before: Incident | None, after: Incident) -> str:
    """What an `updated` event changed: scope (services, vantages) or confidence."""
    if before is None:
        return f"updated: {_what(after)}; {_cause(after)}"
    parts: list[str] = []
    for label, old, new in (
        ("services", before.services, after.services),
        ("targets", before.targets, after.targets),
        ("vantages", before.vantages, after.vantages),
    ):
        added = sorted(set(new) - set(old))
        if added:
            parts.append(f"+{label} {names(added)}")
    if after.cause is before.cause and after.confidence != before.confidence:
        parts.append(f"confidence {before.confidence:.2f} -> {after.confidence:.2f}")
    return "; ".join(parts)


def _detail(inc: Incident, steps: list[tuple[float, EventKind, str]]) -> list[str]:
    now = time.time()
    lines = [
        f"incident {inc.id}: {inc.state.value}",
        f"cause: {inc.cause.value}, confidence {inc.confidence:.2f}"
        + (f" (maintenance: {inc.maintenance})" if inc.maintenance else ""),
        f"start: {format_ts(inc.start)} (first bad measurement {inc.first_measurement_id})",
    ]
    if inc.confirmed_at is not None:
        lines.append(f"confirmed: {format_ts(inc.confirmed_at)}")
    lines.append(f"end: {_span(inc, now)}")
    for label, values in (
        ("services", inc.services),
        ("targets", inc.targets),
        ("networks", inc.networks),
        ("organizations", inc.organizations),
        ("vantages", inc.vantages),
    ):
        if values:
            lines.append(f"{label}: {', '.join(values)}")
    if inc.vantage is not None:
        lines.append(f"vantage at fault: {inc.vantage}")
    lines += ["", "timeline:"]
    lines += [f"  {format_ts(ts)}  {text}" for ts, _, text in steps] or ["  (no events stored)"]
    if len(inc.cause_history) > 1:
        lines += ["", "cause history:"]
        lines += [
            f"  {format_ts(c.ts)}  {c.cause.value} ({c.confidence:.2f})" for c in inc.cause_history
        ]
    ranked = sorted(inc.probabilities.items(), key=lambda kv: -kv[1])
    if ranked:
        lines += ["", "probabilities: " + ", ".join(f"{k} {v:.2f}" for k, v in ranked[:5])]
    lines += ["", "evidence:"]
    for e in inc.evidence:
        cause = f" {e.cause.value}" if e.cause is not Cause.UNKNOWN else ""
        lines.append(f"  [{e.topic.value}{cause} {e.weight:+.2f}] {e.statement}")
    if not inc.evidence:
        lines.append("  (none)")
    return lines

"""The Markdown report: FILE.md with its figures as PNG files in FILE-files/ beside it."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from urllib.parse import quote

from netvigil.network_plane import plane_events
from netvigil.report.build import Report
from netvigil.report.figures import Chart, draw_figures
from netvigil.report.text import alternatives, cause_phrase, evidence_lines, title
from netvigil.words import names, stamp

__all__ = ["escape", "figures_dir", "markdown_text", "render_markdown"]

_SPECIAL = re.compile(r"([\\`*\[\]<>|#])")
_LONE_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")


def escape(text: str) -> str:
    """One line of text with the characters Markdown would act on escaped.

    Underscores inside words (`tcp_timeout`) are kept; line breaks become spaces so
    that a statement stays in its list item or table cell.
    """
    text = " ".join(text.splitlines())
    return _LONE_UNDERSCORE.sub(r"\\_", _SPECIAL.sub(r"\\\1", text))


def _code(text: str) -> str:
    fence = "``" if "`" in text else "`"
    return f"{fence}{text}{fence}"


def figures_dir(out_path: Path) -> Path:
    """Where the figures of the report at `out_path` go: `incident.md` -> `incident-files/`."""
    return out_path.with_name(f"{out_path.stem}-files")


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def markdown_text(report: Report, charts: Sequence[Chart], figure_prefix: str) -> str:
    """The Markdown of a report whose figures are at `figure_prefix` + `<name>.png`."""
    inc = report.incident
    out = [f"# Incident report: {escape(title(inc))}", "", f"**{escape(report.headline)}.**", ""]
    grid = report.grid
    source = "raw measurements" if grid.source == "measurements" else "per-minute summaries"
    out += [
        f"Incident {_code(inc.id)} · state: {inc.state.value} · report made "
        f"{stamp(report.generated_at)} · figures from {report.sample_count} {source}, "
        f"{grid.width_s:g} s per bin.",
        "",
    ]
    if inc.maintenance:
        out += [f"> Planned maintenance: {escape(inc.maintenance)}", ""]
    out += ["## Timeline", ""]
    rows = [
        [stamp(e.ts), escape(e.text), _code(e.measurement_id) if e.measurement_id else ""]
        for e in report.timeline
    ]
    out += [*_table(["Time (UTC)", "What happened", "Measurement"], rows), ""]

    out += ["## What it looks like", ""]
    if inc.cause.value == "unknown":
        out.append("netvigil cannot tell the cause yet.")
    else:
        out.append(
            f"It looks like **{escape(cause_phrase(inc.cause))}**, "
            f"with confidence {inc.confidence:.2f} (0 to 1)."
        )
    others = alternatives(inc)
    if others:
        out.append(f"Other explanations weighed: {escape(', '.join(others))}.")
    out += ["", "### Evidence", ""]
    lines = evidence_lines(inc)
    if lines:
        out += [
            "Each statement as netvigil recorded it, with the cause it was weighed for: "
            "*for* supports that cause, *against* speaks against it.",
            "",
        ]
        out += [
            f"- **{line.stance} {escape(line.cause)}** ({line.weight:+.1f}): "
            f"{escape(line.statement)}"
            for line in lines
        ]
    else:
        out.append("No evidence statements were recorded.")
    out += _planes(report)
    out += ["", "## Affected", ""]
    facts = [
        ("Services", inc.services),
        ("Targets", inc.targets),
        ("Networks", inc.networks),
        ("Organizations", inc.organizations),
        ("Vantages that saw it fail", inc.vantages),
        ("Vantages measuring", report.vantages),
    ]
    out += [f"- **{label}:** {escape(names(items, limit=50))}" for label, items in facts if items]
    if inc.vantage:
        out.append(f"- **Vantage at fault:** {escape(inc.vantage)}")
    out += ["", "## Figures", ""]
    for i, chart in enumerate(charts, start=1):
        out += [
            f"### {i}. {chart.title}",
            "",
            f"![{escape(chart.alt)}]({figure_prefix}{chart.name}.png)",
            "",
            f"*How to read it:* {chart.reading}",
            "",
        ]
    out += _how_to_check(report)
    if report.notes:
        out += ["", "## Notes", ""] + [f"- {escape(n)}" for n in report.notes]
    return "\n".join(out).rstrip() + "\n"


def _planes(report: Report) -> list[str]:
    """The network plane of the incident's networks: which plane moved, and the events."""
    if not report.planes:
        return []
    out = ["", "### Network plane", ""]
    out += [
        f"- **{escape(p.network)}:** {escape(p.text or 'no signal moved')}" for p in report.planes
    ]
    events = plane_events(report.planes)
    if events:
        rows = [[escape(cell) for cell in row] for row in events]
        out += ["", *_table(["Time (UTC)", "Network", "Event", "Prefix", "Peers", "Detail"], rows)]
    return out


def _how_to_check(report: Report) -> list[str]:
    inc = report.incident
    out = ["## How to check this", ""]
    if inc.first_measurement_id:
        out += [
            f"The first failed measurement is {_code(inc.first_measurement_id)} "
            f"({stamp(inc.start)}).",
            "",
        ]
    if report.failed_probes:
        out += ["The first failed measurement of each target from each vantage:", ""]
        rows = [
            [_code(p.id), stamp(p.ts), escape(p.target), escape(p.vantage), _code(p.outcome)]
            for p in report.failed_probes
        ]
        out += [*_table(["Measurement", "Time (UTC)", "Target", "Vantage", "Outcome"], rows), ""]
    else:
        out += ["No raw failed measurements are stored for this incident any more.", ""]
    out += [
        "The raw data behind this report, one JSON measurement per line (add `--db PATH` "
        "or `-c netvigil.toml` to name the store):",
        "",
        "```sh",
        report.export_command,
        "```",
    ]
    return out


def render_markdown(
    report: Report, out_path: Path, *, charts: Sequence[Chart] | None = None
) -> Path:
    """Write the report to `out_path` and its figures to `figures_dir(out_path)`.

    `charts` are figures already drawn for this report (drawn here when None). Returns
    `out_path`. Raises OSError when the files cannot be written.
    """
    out_path = Path(out_path)
    folder = figures_dir(out_path)
    folder.mkdir(parents=True, exist_ok=True)
    charts = draw_figures(report) if charts is None else charts
    for chart in charts:
        (folder / f"{chart.name}.png").write_bytes(chart.png)
    prefix = f"{quote(folder.name)}/"
    out_path.write_text(markdown_text(report, charts, prefix), encoding="utf-8")
    return out_path

"""The HTML report: one self-contained file, CSS inline and figures as base64 PNG.

Nothing is loaded from elsewhere and no script runs, so the file can be mailed,
archived or opened offline and looks the same everywhere.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from html import escape

from netvigil.network_plane import plane_events
from netvigil.report.build import Report
from netvigil.report.figures import Chart, draw_figures
from netvigil.report.text import alternatives, cause_phrase, evidence_lines, title
from netvigil.words import names, stamp

__all__ = ["html_text", "render_html"]

_CSS = """
body { font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial,
       sans-serif; color: #222; background: #fff; margin: 0; }
main { max-width: 940px; margin: 0 auto; padding: 24px 20px 64px; }
h1 { font-size: 1.6em; line-height: 1.25; margin: 0.2em 0 0.4em; }
h2 { font-size: 1.25em; margin: 1.8em 0 0.5em; border-bottom: 1px solid #ddd;
     padding-bottom: 0.2em; }
h3 { font-size: 1.05em; margin: 1.4em 0 0.4em; }
.headline { font-size: 1.15em; font-weight: 600; background: #fdf1ea;
            border-left: 5px solid #D55E00; padding: 0.7em 1em; margin: 0.8em 0; }
.meta, .reading, .note { color: #555; font-size: 0.92em; }
table { border-collapse: collapse; width: 100%; font-size: 0.92em; margin: 0.4em 0; }
th, td { text-align: left; padding: 0.35em 0.6em; border-bottom: 1px solid #e4e4e4;
         vertical-align: top; }
th { background: #f5f5f5; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace;
            font-size: 0.9em; }
pre { background: #f5f5f5; padding: 0.8em; overflow-x: auto; white-space: pre-wrap;
      word-break: break-all; }
ul.evidence { padding-left: 1.2em; }
.stance { font-weight: 600; white-space: nowrap; }
.for { color: #005a8c; }
.against { color: #8a3a00; }
figure { margin: 1em 0 2em; }
figure img { width: 100%; max-width: 900px; height: auto; display: block;
             border: 1px solid #eee; }
figcaption { font-weight: 600; margin-bottom: 0.4em; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 0.2em 1em; }
dt { font-weight: 600; }
dd { margin: 0; }
"""


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _code(text: str) -> str:
    return f"<code>{escape(text)}</code>"


def _figure(chart: Chart, number: int) -> str:
    data = base64.b64encode(chart.png).decode("ascii")
    return (
        f'<figure id="{escape(chart.name)}">'
        f"<figcaption>{number}. {escape(chart.title)}</figcaption>"
        f'<img src="data:image/png;base64,{data}" alt="{escape(chart.alt)}">'
        f'<p class="reading"><strong>How to read it:</strong> {escape(chart.reading)}</p>'
        "</figure>"
    )


def _cause(report: Report) -> list[str]:
    inc = report.incident
    parts = ["<h2>What it looks like</h2>"]
    if inc.cause.value == "unknown":
        parts.append("<p>netvigil cannot tell the cause yet.</p>")
    else:
        parts.append(
            f"<p>It looks like <strong>{escape(cause_phrase(inc.cause))}</strong>, "
            f"with confidence {inc.confidence:.2f} (0 to 1).</p>"
        )
    others = alternatives(inc)
    if others:
        parts.append(f"<p>Other explanations weighed: {escape(', '.join(others))}.</p>")
    parts.append("<h3>Evidence</h3>")
    lines = evidence_lines(inc)
    if not lines:
        parts.append("<p>No evidence statements were recorded.</p>")
        return parts + _planes(report)
    parts.append(
        '<p class="note">Each statement as netvigil recorded it, with the cause it was weighed '
        "for: <em>for</em> supports that cause, <em>against</em> speaks against it.</p>"
    )
    items = "".join(
        f'<li><span class="stance {escape(line.stance)}">{escape(line.stance)} '
        f"{escape(line.cause)}</span> ({line.weight:+.1f}): {escape(line.statement)}</li>"
        for line in lines
    )
    parts.append(f'<ul class="evidence">{items}</ul>')
    return parts + _planes(report)


def _planes(report: Report) -> list[str]:
    """The network plane of the incident's networks: which plane moved, and the events."""
    if not report.planes:
        return []
    parts = ["<h3>Network plane</h3>", '<ul class="plane">']
    parts += [
        f"<li><strong>{escape(p.network)}</strong>: {escape(p.text or 'no signal moved')}</li>"
        for p in report.planes
    ]
    parts.append("</ul>")
    events = plane_events(report.planes)
    if events:
        rows = [[escape(cell) for cell in row] for row in events]
        parts.append(_table(["Time (UTC)", "Network", "Event", "Prefix", "Peers", "Detail"], rows))
    return parts


def _affected(report: Report) -> list[str]:
    inc = report.incident
    facts = [
        ("Services", inc.services),
        ("Targets", inc.targets),
        ("Networks", inc.networks),
        ("Organizations", inc.organizations),
        ("Vantages that saw it fail", inc.vantages),
        ("Vantages measuring", report.vantages),
    ]
    rows = "".join(
        f"<dt>{label}</dt><dd>{escape(names(items, limit=50))}</dd>"
        for label, items in facts
        if items
    )
    if inc.vantage:
        rows += f"<dt>Vantage at fault</dt><dd>{escape(inc.vantage)}</dd>"
    return ["<h2>Affected</h2>", f"<dl>{rows}</dl>"]


def _how_to_check(report: Report) -> list[str]:
    inc = report.incident
    parts = ["<h2>How to check this</h2>"]
    if inc.first_measurement_id:
        parts.append(
            f"<p>The first failed measurement is {_code(inc.first_measurement_id)} "
            f"({escape(stamp(inc.start))}).</p>"
        )
    if report.failed_probes:
        parts.append("<p>The first failed measurement of each target from each vantage:</p>")
        rows = [
            [_code(p.id), escape(stamp(p.ts)), escape(p.target), escape(p.vantage),
             _code(p.outcome)]
            for p in report.failed_probes
        ]  # fmt: skip
        parts.append(_table(["Measurement", "Time (UTC)", "Target", "Vantage", "Outcome"], rows))
    else:
        parts.append("<p>No raw failed measurements are stored for this incident any more.</p>")
    parts.append(
        "<p>The raw data behind this report, one JSON measurement per line (add "
        "<code>--db PATH</code> or <code>-c netvigil.toml</code> to name the store):</p>"
    )
    parts.append(f"<pre><code>{escape(report.export_command)}</code></pre>")
    return parts


def html_text(report: Report, charts: Sequence[Chart]) -> str:
    """The report as one HTML document with `charts` embedded."""
    inc = report.incident
    grid = report.grid
    source = "raw measurements" if grid.source == "measurements" else "per-minute summaries"
    heading = escape(title(inc))
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Incident report: {heading}</title>",
        f"<style>{_CSS}</style></head><body><main>",
        f"<h1>Incident report: {heading}</h1>",
        f'<p class="headline">{escape(report.headline)}.</p>',
        f'<p class="meta">Incident {_code(inc.id)} · state: {escape(inc.state.value)} · '
        f"report made {escape(stamp(report.generated_at))} · figures from "
        f"{report.sample_count} {source}, {grid.width_s:g} s per bin.</p>",
    ]
    if inc.maintenance:
        parts.append(f'<p class="note">Planned maintenance: {escape(inc.maintenance)}</p>')
    rows = [
        [escape(stamp(e.ts)), escape(e.text), _code(e.measurement_id) if e.measurement_id else ""]
        for e in report.timeline
    ]
    parts += ["<h2>Timeline</h2>", _table(["Time (UTC)", "What happened", "Measurement"], rows)]
    parts += _cause(report)
    parts += _affected(report)
    parts.append("<h2>Figures</h2>")
    parts += [_figure(chart, i) for i, chart in enumerate(charts, start=1)]
    parts += _how_to_check(report)
    if report.notes:
        notes = "".join(f"<li>{escape(n)}</li>" for n in report.notes)
        parts += ["<h2>Notes</h2>", f"<ul>{notes}</ul>"]
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def render_html(report: Report, *, charts: Sequence[Chart] | None = None) -> str:
    """The report as one self-contained HTML document with its figures embedded.

    `charts` are figures already drawn for this report (drawn here when None).
    """
    return html_text(report, draw_figures(report) if charts is None else charts)

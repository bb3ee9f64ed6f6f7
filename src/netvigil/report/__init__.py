"""Incident reports: what happened, from where, since when and why, with figures.

    report = await build_report(incident, store, config)
    write_report(report, Path("incident.html"))   # one self-contained file
    write_report(report, Path("incident.md"))     # plus incident-files/*.png

`build_report` gathers the data (see `netvigil.report.build`), `render_markdown` and
`render_html` draw the figures (`netvigil.report.figures`) and write the words.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from netvigil.report.build import FailedProbe, Panel, Report, TimelineEntry, build_report
from netvigil.report.figures import Chart, draw_figures
from netvigil.report.html import render_html
from netvigil.report.markdown import figures_dir, render_markdown

__all__ = [
    "FORMATS",
    "Chart",
    "FailedProbe",
    "Panel",
    "Report",
    "TimelineEntry",
    "build_report",
    "draw_figures",
    "figures_dir",
    "render_html",
    "render_markdown",
    "write_report",
]

FORMATS: tuple[str, ...] = (".md", ".html")
"""The file suffixes `write_report` understands (`.htm` and `.markdown` too)."""


def write_report(report: Report, out: Path, *, charts: Sequence[Chart] | None = None) -> list[Path]:
    """Write `report` in the format `out`'s suffix names; return the files written.

    `.html`/`.htm`: one self-contained file. `.md`/`.markdown`: the Markdown file and
    its figures in `figures_dir(out)`. `charts` are figures already drawn for this
    report (`draw_figures(report)`), to write several formats drawing them once.
    Raises ValueError for another suffix and OSError when a file cannot be written.
    """
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix in (".html", ".htm"):
        out.write_text(render_html(report, charts=charts), encoding="utf-8")
        return [out]
    if suffix in (".md", ".markdown"):
        render_markdown(report, out, charts=charts)
        folder = figures_dir(out)
        return [out, *sorted(folder.glob("*.png"))]
    raise ValueError(
        f"{out}: unknown report format {out.suffix or '(no suffix)'!r}; use .md or .html"
    )

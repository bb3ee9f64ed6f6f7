"""The frame of every report figure: header, event strip, stacked panels, UTC time axes.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no display, no global
state). Every figure has a title that says what it shows, a subtitle that says how to
read it, UTC time on the x axis, and the incident shaded, with its start, cause changes
and end labelled on a strip above the panels.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC
from typing import Any

from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from netvigil.report.build import Report
from netvigil.report.style import ALERT, DPI, GRID, INK, MUTED, SHADE, WIDTH_IN, date_num, hhmm
from netvigil.report.text import span
from netvigil.words import cause_label

__all__ = ["FigureLayout", "no_data", "plot_values", "shade_incident", "time_axis"]


class FigureLayout:
    """A figure with a header (title, subtitle, legend), an event strip and stacked panels."""

    def __init__(self, report: Report, panels: int, panel_h: float, legend_rows: int) -> None:
        self.report = report
        self.labels = _strip_labels(report)
        rows = max((label.row for label in self.labels), default=0) + 1
        self.header_in = 0.78 + 0.27 * legend_rows
        strip_in, gap_in, footer_in = 0.05 + 0.21 * rows, 0.42, 0.62
        height = self.header_in + strip_in + footer_in + panels * panel_h + panels * gap_in
        self.height = height
        self.fig = Figure(figsize=(WIDTH_IN, height), dpi=DPI)
        FigureCanvasAgg(self.fig)  # the Agg canvas, set on this figure only
        self.left = 0.85 / WIDTH_IN
        ratios = [strip_in, *([panel_h] * panels)]
        grid = self.fig.add_gridspec(
            panels + 1,
            1,
            height_ratios=ratios,
            left=self.left,
            right=1 - 0.35 / WIDTH_IN,
            top=1 - self.header_in / height,
            bottom=footer_in / height,
            hspace=gap_in / (sum(ratios) / len(ratios)),
        )
        self.strip = self.fig.add_subplot(grid[0])
        first = self.fig.add_subplot(grid[1])
        self.panels = [first] + [
            self.fig.add_subplot(grid[i + 1], sharex=first) for i in range(1, panels)
        ]

    def header(self, title: str, subtitle: str, handles: Sequence[Any], ncol: int) -> None:
        h = self.height
        self.fig.text(
            self.left, 1 - 0.12 / h, title, va="top", ha="left", fontsize=14, weight="bold"
        )
        self.fig.text(
            self.left, 1 - 0.45 / h, subtitle, va="top", ha="left", fontsize=10, color=MUTED
        )
        if handles:
            self.fig.legend(
                handles=list(handles),
                loc="upper left",
                bbox_to_anchor=(self.left - 0.01, 1 - 0.68 / h),
                ncol=ncol,
                frameon=False,
                fontsize=9.5,
                handlelength=2.6,
                columnspacing=1.4,
            )

    def finish(self) -> bytes:
        """Draw the event strip and the footer; the figure as PNG."""
        report = self.report
        _strip(self.strip, report, self.labels)
        self.fig.text(
            0.1 / WIDTH_IN,
            0.06 / self.height,
            f"netvigil · incident {report.incident.id}",
            ha="left",
            va="bottom",
            fontsize=7.5,
            color="#777777",
        )
        buf = io.BytesIO()
        self.fig.savefig(buf, format="png", dpi=DPI, facecolor="white")
        return buf.getvalue()


def time_axis(ax: Axes, report: Report, *, last: bool) -> None:
    """UTC dates along `ax` over the report's window, labelled only on the `last` panel."""
    ax.set_xlim(date_num(report.grid.start), date_num(max(report.until, report.grid.start + 1)))
    locator = mdates.AutoDateLocator(tz=UTC, minticks=4, maxticks=9)  # type: ignore[no-untyped-call]
    formatter = mdates.ConciseDateFormatter(locator, tz=UTC)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(formatter)
    ax.tick_params(labelsize=9.5, colors=INK)
    if last:
        ax.set_xlabel("Time (UTC)", fontsize=10, color=INK)
    else:
        ax.tick_params(labelbottom=False)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="y", color=GRID, linewidth=0.8)
    ax.set_axisbelow(True)


def shade_incident(ax: Axes, report: Report) -> None:
    """The incident as a band on `ax`, each cause change as a dotted line."""
    start, end = date_num(report.incident.start), date_num(report.shade_end)
    ax.axvspan(start, end, color=SHADE, alpha=0.11, linewidth=0, zorder=0)
    for change in report.incident.cause_history[1:]:
        ax.axvline(date_num(change.ts), color=MUTED, linestyle=":", linewidth=1.2, zorder=1)


@dataclass(frozen=True, slots=True)
class _Label:
    """One label of the event strip: where, what, in which colour, on which row."""

    ts: float
    text: str
    colour: str
    row: int
    right: bool


_PLOT_WIDTH_PT = (WIDTH_IN - 1.2) * 72
_CHAR_PT = 9 * 0.56  # the mean advance of a 9 pt DejaVu Sans character, roughly
_MAX_ROWS = 5


def _strip_labels(report: Report) -> list[_Label]:
    """The strip's labels, each on the first row where it overlaps no other (at most 5)."""
    inc = report.incident
    lo, hi = report.grid.start, max(report.until, report.grid.start + 1)
    wanted = [(inc.start, f"incident start {hhmm(inc.start)}", ALERT)]
    wanted += [
        (c.ts, f"looks like {cause_label(c.cause)} ({c.confidence:.2f})", INK)
        for c in inc.cause_history
    ]
    if inc.end is not None:
        wanted.append(
            (inc.end, f"back up {hhmm(inc.end)} (after {span(inc.end - inc.start)})", ALERT)
        )
    else:
        wanted.append((report.shade_end, f"still ongoing at {hhmm(report.shade_end)}", ALERT))
    taken: list[list[tuple[float, float]]] = []
    out: list[_Label] = []
    for ts, text, colour in wanted:
        x = (ts - lo) / (hi - lo)
        right = x > 0.62
        width = (len(text) * _CHAR_PT + 14) / _PLOT_WIDTH_PT
        extent = (x - width, x) if right else (x, x + width)
        row = next(
            (i for i, spans in enumerate(taken)
             if all(extent[1] < a or extent[0] > b for a, b in spans)),
            len(taken),
        )  # fmt: skip
        if row >= _MAX_ROWS:
            continue  # the dotted line still marks it
        if row == len(taken):
            taken.append([])
        taken[row].append(extent)
        out.append(_Label(ts, text, colour, row, right))
    return out


def _strip(ax: Axes, report: Report, labels: Sequence[_Label]) -> None:
    """The event strip: the incident as a band, its start, cause changes and end in words."""
    shade_incident(ax, report)
    rows = max((label.row for label in labels), default=0) + 1
    ax.set_ylim(rows, 0)
    ax.set_yticks([])
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.tick_params(bottom=False, labelbottom=False)
    ax.set_xlim(date_num(report.grid.start), date_num(max(report.until, report.grid.start + 1)))
    for label in labels:
        x, y = date_num(label.ts), label.row + 0.5
        ax.plot([x], [y], marker="D", color=label.colour, markersize=4.5, clip_on=False)
        ax.annotate(
            label.text,
            xy=(x, y),
            xytext=(-6 if label.right else 6, 0),
            textcoords="offset points",
            ha="right" if label.right else "left",
            va="center",
            fontsize=9,
            color=label.colour,
        )


def no_data(ax: Axes, text: str = "no measurements in this window") -> None:
    """`text` in the middle of an empty panel."""
    ax.text(
        0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color=MUTED, fontsize=10
    )


def plot_values(series: Sequence[float | None], scale: float = 1.0) -> list[float]:
    """`series` times `scale`, a gap (NaN) where a value is missing."""
    return [math.nan if v is None else v * scale for v in series]

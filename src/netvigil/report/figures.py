"""Report figures: reachability, latency and outcome mix, drawn as PNG images.

Drawn with matplotlib's object API on the Agg canvas (no pyplot, no display, no global
state), 9 inches wide at 150 dpi so that text stays readable shown 900 px wide. Every
figure has a title that says what it shows, a subtitle that says how to read it, UTC
time on the x axis, the incident shaded with its start, cause changes and end labelled
on a strip above the panels. Colours come from the Okabe-Ito and Paul Tol palettes
(safe for the common colour-vision deficiencies); vantages also differ by line style,
and each outcome keeps its colour in every report.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, PercentFormatter

from netvigil.report.build import Report
from netvigil.report.text import join_names, span
from netvigil.words import cause_label

__all__ = [
    "DPI",
    "OUTCOME_COLOURS",
    "OUTCOME_GLOSS",
    "VANTAGE_COLOURS",
    "Chart",
    "draw_figures",
    "draw_latency",
    "draw_outcomes",
    "draw_reachability",
    "vantage_style",
]

WIDTH_IN = 9.0
DPI = 150
MAX_LATENCY_PANELS = 6

VANTAGE_COLOURS: tuple[str, ...] = (
    "#0072B2",  # blue
    "#E69F00",  # orange
    "#009E73",  # bluish green
    "#CC79A7",  # reddish purple
    "#56B4E9",  # sky blue
    "#000000",  # black
    "#999933",  # olive
    "#882255",  # wine
)
"""Line colours of vantages, in the report's vantage order (Okabe-Ito, then Tol)."""

_LINE_STYLES: tuple[Any, ...] = ("-", (0, (5, 2)), (0, (1, 1.5)), (0, (6, 2, 1, 2)))

OUTCOME_COLOURS: dict[str, str] = {
    "ok": "#009E73",
    "tcp_timeout": "#D55E00",
    "icmp_timeout": "#E69F00",
    "tcp_refused": "#F0E442",
    "connection_reset": "#CC79A7",
    "host_unreachable": "#882255",
    "net_unreachable": "#AA4499",
    "admin_prohibited": "#661100",
    "dns_nxdomain": "#0072B2",
    "dns_servfail": "#332288",
    "dns_refused": "#6699CC",
    "dns_timeout": "#88CCEE",
    "dns_no_answer": "#44AA99",
    "tls_handshake_failed": "#999933",
    "tls_cert_invalid": "#DDCC77",
    "tls_cert_expired": "#117733",
    "tls_timeout": "#666633",
    "http_timeout": "#000000",
    "http_5xx": "#EE6677",
    "http_4xx": "#EECC66",
    "http_content_mismatch": "#997700",
    "http_protocol_error": "#BB5566",
    "unknown": "#BBBBBB",
}
"""The colour of each outcome, the same in every report (unlisted names are grey)."""

OUTCOME_GLOSS: dict[str, str] = {
    "ok": "answered correctly",
    "tcp_timeout": "no answer to connect",
    "icmp_timeout": "no answer to ping",
    "tcp_refused": "connection refused",
    "connection_reset": "connection reset",
    "host_unreachable": "host unreachable",
    "net_unreachable": "network unreachable",
    "admin_prohibited": "blocked by a filter",
    "dns_nxdomain": "name does not exist",
    "dns_servfail": "DNS server failure",
    "dns_refused": "DNS query refused",
    "dns_timeout": "no DNS answer",
    "dns_no_answer": "no address for the name",
    "tls_handshake_failed": "secure connection failed",
    "tls_cert_invalid": "certificate invalid",
    "tls_cert_expired": "certificate expired",
    "tls_timeout": "secure connection timed out",
    "http_timeout": "page did not load in time",
    "http_5xx": "server error (5xx)",
    "http_4xx": "client error (4xx)",
    "http_content_mismatch": "unexpected page content",
    "http_protocol_error": "broken HTTP answer",
    "unknown": "unrecognised failure",
}
"""A few words on each outcome for a general reader (the legend of the outcome figure)."""

_SHADE = "#D55E00"
_ALERT = "#A33A00"
_INK = "#222222"
_MUTED = "#555555"
_GRID = "#DDDDDD"


@dataclass(frozen=True, slots=True)
class Chart:
    """One drawn figure: a file stem, a title, a description for screen readers, how to read
    it, and the PNG image."""

    name: str
    title: str
    alt: str
    reading: str
    png: bytes


def vantage_style(index: int) -> tuple[str, Any]:
    """The colour and line style of the index-th vantage."""
    return (
        VANTAGE_COLOURS[index % len(VANTAGE_COLOURS)],
        _LINE_STYLES[(index // len(VANTAGE_COLOURS) + index) % len(_LINE_STYLES)],
    )


def _num(ts: float) -> float:
    return float(mdates.date2num(datetime.fromtimestamp(ts, UTC)))  # type: ignore[no-untyped-call]


def _hhmm(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M UTC")


class _Layout:
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
            self.left, 1 - 0.45 / h, subtitle, va="top", ha="left", fontsize=10, color=_MUTED
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


def _time_axis(ax: Axes, report: Report, *, last: bool) -> None:
    ax.set_xlim(_num(report.grid.start), _num(max(report.until, report.grid.start + 1)))
    locator = mdates.AutoDateLocator(tz=UTC, minticks=4, maxticks=9)  # type: ignore[no-untyped-call]
    formatter = mdates.ConciseDateFormatter(locator, tz=UTC)  # type: ignore[no-untyped-call]
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(formatter)
    ax.tick_params(labelsize=9.5, colors=_INK)
    if last:
        ax.set_xlabel("Time (UTC)", fontsize=10, color=_INK)
    else:
        ax.tick_params(labelbottom=False)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.grid(axis="y", color=_GRID, linewidth=0.8)
    ax.set_axisbelow(True)


def _shade(ax: Axes, report: Report) -> None:
    start, end = _num(report.incident.start), _num(report.shade_end)
    ax.axvspan(start, end, color=_SHADE, alpha=0.11, linewidth=0, zorder=0)
    for change in report.incident.cause_history[1:]:
        ax.axvline(_num(change.ts), color=_MUTED, linestyle=":", linewidth=1.2, zorder=1)


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
    wanted = [(inc.start, f"incident start {_hhmm(inc.start)}", _ALERT)]
    wanted += [
        (c.ts, f"looks like {cause_label(c.cause)} ({c.confidence:.2f})", _INK)
        for c in inc.cause_history
    ]
    if inc.end is not None:
        wanted.append(
            (inc.end, f"back up {_hhmm(inc.end)} (after {span(inc.end - inc.start)})", _ALERT)
        )
    else:
        wanted.append((report.shade_end, f"still ongoing at {_hhmm(report.shade_end)}", _ALERT))
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
    _shade(ax, report)
    rows = max((label.row for label in labels), default=0) + 1
    ax.set_ylim(rows, 0)
    ax.set_yticks([])
    for side in ("top", "right", "left", "bottom"):
        ax.spines[side].set_visible(False)
    ax.tick_params(bottom=False, labelbottom=False)
    ax.set_xlim(_num(report.grid.start), _num(max(report.until, report.grid.start + 1)))
    for label in labels:
        x, y = _num(label.ts), label.row + 0.5
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


def _vantage_handles(report: Report, vantages: Sequence[str]) -> list[Any]:
    handles: list[Any] = []
    for v in vantages:
        colour, style = vantage_style(report.vantages.index(v))
        handles.append(Line2D([], [], color=colour, linestyle=style, linewidth=2.2, label=v))
    handles.append(Patch(color=_SHADE, alpha=0.2, label="incident"))
    return handles


def _no_data(ax: Axes, text: str = "no measurements in this window") -> None:
    ax.text(
        0.5, 0.5, text, transform=ax.transAxes, ha="center", va="center", color=_MUTED, fontsize=10
    )


def _values(series: Sequence[float | None], scale: float = 1.0) -> list[float]:
    return [math.nan if v is None else v * scale for v in series]


def draw_reachability(report: Report) -> bytes:
    """Success ratio per bin for each service, one line per vantage, the incident shaded."""
    panels = report.panels
    layout = _Layout(report, max(1, len(panels)), 1.25, legend_rows=1)
    x = [_num(t) for t in report.grid.centers()]
    for ax, panel in zip(layout.panels, panels, strict=False):
        _shade(ax, report)
        lines = report.reachability.get(panel.service, {})
        for vantage, ratios in lines.items():
            index = report.vantages.index(vantage)
            colour, style = vantage_style(index)
            ax.plot(
                x, _values(ratios, 100.0), color=colour, linestyle=style,
                linewidth=max(1.4, 3.0 - 0.5 * index),
                drawstyle="steps-mid", label=vantage, zorder=3,
            )  # fmt: skip
        if not lines:
            _no_data(ax)
        title = panel.service
        if panel.network:
            title += f"  ·  network {panel.network}"
        if not panel.affected:
            title += "  ·  not affected (for comparison)"
        ax.set_title(title, loc="left", fontsize=10.5, color=_INK if panel.affected else _MUTED)
        ax.set_ylim(-6, 106)
        ax.set_yticks([0, 50, 100])
        ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    for i, ax in enumerate(layout.panels):
        _time_axis(ax, report, last=i == len(layout.panels) - 1)
    affected = [p.service for p in panels if p.affected]
    width = span(report.grid.width_s)
    layout.header(
        f"Reachability of {join_names(affected, limit=3) or 'the affected services'}",
        f"Share of probes that succeeded, per {width}, by vantage (where netvigil probes from)",
        _vantage_handles(report, report.vantages),
        ncol=min(6, len(report.vantages) + 1),
    )
    return layout.finish()


def _latency_scale(report: Report, vantages: Sequence[str]) -> bool:
    """Whether latencies span enough to need a log axis."""
    values = [
        v
        for name in vantages
        for series in (report.latency[name].p50, report.latency[name].p95)
        for v in series
        if v is not None and v > 0
    ]
    return bool(values) and max(values) / min(values) > 30


def _ms(value: float, _pos: object = None) -> str:
    ms = value * 1000
    if ms >= 1000:
        return f"{ms / 1000:g} s"
    return f"{ms:.3g} ms"


def draw_latency(report: Report) -> bytes:
    """Median and 95th-percentile latency per bin for each vantage, against the usual level."""
    vantages = [v for v in report.vantages if v in report.latency][:MAX_LATENCY_PANELS]
    layout = _Layout(report, max(1, len(vantages)), 1.35, legend_rows=1)
    x = [_num(t) for t in report.grid.centers()]
    log = _latency_scale(report, vantages)
    for ax, vantage in zip(layout.panels, vantages, strict=False):
        band = report.latency[vantage]
        colour, _style = vantage_style(report.vantages.index(vantage))
        _shade(ax, report)
        p50, p95 = _values(band.p50), _values(band.p95)
        ax.fill_between(x, p50, p95, color=colour, alpha=0.22, linewidth=0, step="mid", zorder=2)
        ax.plot(x, p95, color=colour, linewidth=0.9, drawstyle="steps-mid", zorder=3)
        ax.plot(x, p50, color=colour, linewidth=2.0, drawstyle="steps-mid", zorder=3)
        dead = [xi for xi, n, v in zip(x, band.probes, band.p50, strict=True) if n and v is None]
        if dead:
            ax.plot(
                dead, [0.04] * len(dead), transform=ax.get_xaxis_transform(),
                linestyle="none", marker="x", color="#A33A00", markersize=4, zorder=4,
            )  # fmt: skip
        if band.baseline is not None:
            ax.axhline(band.baseline, color=_INK, linestyle=(0, (4, 3)), linewidth=1.1, zorder=3)
        if all(v is None for v in band.p50):
            _no_data(ax, "no probe succeeded in this window")
        usual = "" if band.baseline is None else f"  ·  usual median {_ms(band.baseline)}"
        ax.set_title(f"from {vantage}{usual}", loc="left", fontsize=10.5, color=_INK)
        if log:
            ax.set_yscale("log")
        else:
            top = max((v for v in (*band.p95, band.baseline) if v is not None), default=0.0)
            ax.set_ylim(0, top * 1.15 if top > 0 else 1.0)
        ax.yaxis.set_major_formatter(FuncFormatter(_ms))
    if not vantages:
        _no_data(layout.panels[0])
    for i, ax in enumerate(layout.panels):
        _time_axis(ax, report, last=i == len(layout.panels) - 1)
    handles = [
        Line2D([], [], color=_MUTED, linewidth=2.0, label="median"),
        Patch(color=_MUTED, alpha=0.3, label="up to 95th percentile"),
        Line2D([], [], color=_INK, linestyle=(0, (4, 3)), linewidth=1.1, label="usual median"),
        Line2D([], [], color="#A33A00", marker="x", linestyle="none", label="no probe succeeded"),
        Patch(color=_SHADE, alpha=0.2, label="incident"),
    ]
    layout.header(
        "Response time of the affected services",
        f"Time for a successful probe, per {span(report.grid.width_s)}, by vantage; "
        "usual = median before the incident",
        handles,
        ncol=5,
    )
    return layout.finish()


def draw_outcomes(report: Report) -> bytes:
    """Stacked bars of how probes to the affected services ended, per bin, all vantages."""
    names = list(report.outcomes)
    layout = _Layout(report, 1, 2.6, legend_rows=max(1, math.ceil(len(names) / 3)))
    ax = layout.panels[0]
    _shade(ax, report)
    edges = [_num(t) for t in report.grid.edges()]
    width = report.grid.width_s / 86_400.0
    bottom = [0.0] * report.grid.count
    handles: list[Any] = []
    for name in names:
        counts = report.outcomes[name]
        colour = OUTCOME_COLOURS.get(name, "#BBBBBB")
        ax.bar(
            edges, counts, width=width * 0.92, bottom=bottom, align="edge", color=colour,
            linewidth=0, zorder=2,
        )  # fmt: skip
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
        gloss = OUTCOME_GLOSS.get(name)
        handles.append(Patch(color=colour, label=f"{name} ({gloss})" if gloss else name))
    if not names:
        _no_data(ax)
    ax.set_ylabel("probes", fontsize=10, color=_INK)
    ax.set_ylim(0, max(max(bottom, default=0.0) * 1.08, 1.0))
    ax.set_title("all probes to the affected services", loc="left", fontsize=10.5, color=_INK)
    _time_axis(ax, report, last=True)
    layout.header(
        "What the probes saw",
        f"How probes to the affected services ended, per {span(report.grid.width_s)}, "
        "all vantages together",
        handles,
        ncol=3,
    )
    return layout.finish()


def draw_figures(report: Report) -> list[Chart]:
    """All figures of a report, in reading order."""
    affected = join_names([p.service for p in report.panels if p.affected], limit=4)
    vantages = join_names(report.vantages, limit=8)
    return [
        Chart(
            "reachability",
            "Reachability by service and vantage",
            f"Share of successful probes over time for {affected}, one line per vantage "
            f"({vantages}), with the incident shaded.",
            "Each panel is one service; each line is one vantage, the place netvigil probes "
            "from. 100% means every probe in that interval got a correct answer, 0% that none "
            "did. Services that fall to 0% together from every vantage at the same moment "
            "were cut off together; a service that stays at 100% was not. A line that drops "
            "alone points at that vantage or its region.",
            draw_reachability(report),
        ),
        Chart(
            "latency",
            "Response time against the usual level",
            "Median and 95th-percentile time of successful probes to the affected services "
            "per vantage, with the usual median before the incident as a dashed line.",
            "Only successful probes have a response time. The line is the median, the band "
            "reaches up to the 95th percentile (the slowest twentieth), the dashed line is the "
            "usual median before the incident. Crosses along the bottom mark intervals where "
            "probes were sent but none succeeded. Times climbing well above the usual level "
            "before a failure suggest congestion (a flood); a clean cut with no slowdown "
            "suggests a switch was flipped.",
            draw_latency(report),
        ),
        Chart(
            "outcomes",
            "Outcome mix",
            "Stacked counts of probe outcomes to the affected services over time, "
            "all vantages together.",
            "Each bar counts the probes of one interval by how they ended; the colours are "
            "the same in every netvigil report. Timeouts (no answer at all) point at traffic "
            "dropped on the way; refusals, resets and server errors show that the servers "
            "were reached but answered badly; DNS and TLS failures name the layer that broke.",
            draw_outcomes(report),
        ),
    ]

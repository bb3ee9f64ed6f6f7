"""Report figures: reachability, latency and outcome mix, drawn as PNG images.

Each figure is drawn in a `netvigil.report.layout.FigureLayout`: matplotlib's object API
on the Agg canvas (no pyplot, no display, no global state), a title that says what it
shows, a subtitle that says how to read it, UTC time on the x axis, the incident shaded
with its start, cause changes and end labelled on a strip above the panels. Sizes and
colours come from `netvigil.report.style` (Okabe-Ito and Paul Tol palettes, safe for the
common colour-vision deficiencies); vantages also differ by line style, and each outcome
keeps its colour in every report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, PercentFormatter

from netvigil.report.build import Report
from netvigil.report.layout import FigureLayout, no_data, plot_values, shade_incident, time_axis
from netvigil.report.network_figure import draw_network
from netvigil.report.style import (
    DPI,
    INK,
    MUTED,
    OUTCOME_COLOURS,
    OUTCOME_GLOSS,
    SHADE,
    VANTAGE_COLOURS,
    date_num,
    vantage_style,
)
from netvigil.report.text import join_names, span

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

MAX_LATENCY_PANELS = 6


@dataclass(frozen=True, slots=True)
class Chart:
    """One drawn figure: a file stem, a title, a description for screen readers, how to read
    it, and the PNG image."""

    name: str
    title: str
    alt: str
    reading: str
    png: bytes


def _vantage_handles(report: Report, vantages: Sequence[str]) -> list[Any]:
    handles: list[Any] = []
    for v in vantages:
        colour, style = vantage_style(report.vantages.index(v))
        handles.append(Line2D([], [], color=colour, linestyle=style, linewidth=2.2, label=v))
    handles.append(Patch(color=SHADE, alpha=0.2, label="incident"))
    return handles


def draw_reachability(report: Report) -> bytes:
    """Success ratio per bin for each service, one line per vantage, the incident shaded."""
    panels = report.panels
    layout = FigureLayout(report, max(1, len(panels)), 1.25, legend_rows=1)
    x = [date_num(t) for t in report.grid.centers()]
    for ax, panel in zip(layout.panels, panels, strict=False):
        shade_incident(ax, report)
        lines = report.reachability.get(panel.service, {})
        for vantage, ratios in lines.items():
            index = report.vantages.index(vantage)
            colour, style = vantage_style(index)
            ax.plot(
                x, plot_values(ratios, 100.0), color=colour, linestyle=style,
                linewidth=max(1.4, 3.0 - 0.5 * index),
                drawstyle="steps-mid", label=vantage, zorder=3,
            )  # fmt: skip
        if not lines:
            no_data(ax)
        title = panel.service
        if panel.network:
            title += f"  ·  network {panel.network}"
        if not panel.affected:
            title += "  ·  not affected (for comparison)"
        ax.set_title(title, loc="left", fontsize=10.5, color=INK if panel.affected else MUTED)
        ax.set_ylim(-6, 106)
        ax.set_yticks([0, 50, 100])
        ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    for i, ax in enumerate(layout.panels):
        time_axis(ax, report, last=i == len(layout.panels) - 1)
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
    layout = FigureLayout(report, max(1, len(vantages)), 1.35, legend_rows=1)
    x = [date_num(t) for t in report.grid.centers()]
    log = _latency_scale(report, vantages)
    for ax, vantage in zip(layout.panels, vantages, strict=False):
        band = report.latency[vantage]
        colour, _style = vantage_style(report.vantages.index(vantage))
        shade_incident(ax, report)
        p50, p95 = plot_values(band.p50), plot_values(band.p95)
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
            ax.axhline(band.baseline, color=INK, linestyle=(0, (4, 3)), linewidth=1.1, zorder=3)
        if all(v is None for v in band.p50):
            no_data(ax, "no probe succeeded in this window")
        usual = "" if band.baseline is None else f"  ·  usual median {_ms(band.baseline)}"
        ax.set_title(f"from {vantage}{usual}", loc="left", fontsize=10.5, color=INK)
        if log:
            ax.set_yscale("log")
        else:
            top = max((v for v in (*band.p95, band.baseline) if v is not None), default=0.0)
            ax.set_ylim(0, top * 1.15 if top > 0 else 1.0)
        ax.yaxis.set_major_formatter(FuncFormatter(_ms))
    if not vantages:
        no_data(layout.panels[0])
    for i, ax in enumerate(layout.panels):
        time_axis(ax, report, last=i == len(layout.panels) - 1)
    handles = [
        Line2D([], [], color=MUTED, linewidth=2.0, label="median"),
        Patch(color=MUTED, alpha=0.3, label="up to 95th percentile"),
        Line2D([], [], color=INK, linestyle=(0, (4, 3)), linewidth=1.1, label="usual median"),
        Line2D([], [], color="#A33A00", marker="x", linestyle="none", label="no probe succeeded"),
        Patch(color=SHADE, alpha=0.2, label="incident"),
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
    layout = FigureLayout(report, 1, 2.6, legend_rows=max(1, math.ceil(len(names) / 3)))
    ax = layout.panels[0]
    shade_incident(ax, report)
    edges = [date_num(t) for t in report.grid.edges()]
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
        no_data(ax)
    ax.set_ylabel("probes", fontsize=10, color=INK)
    ax.set_ylim(0, max(max(bottom, default=0.0) * 1.08, 1.0))
    ax.set_title("all probes to the affected services", loc="left", fontsize=10.5, color=INK)
    time_axis(ax, report, last=True)
    layout.header(
        "What the probes saw",
        f"How probes to the affected services ended, per {span(report.grid.width_s)}, "
        "all vantages together",
        handles,
        ncol=3,
    )
    return layout.finish()


def draw_figures(report: Report) -> list[Chart]:
    """All figures of a report, in reading order (the network plane's when it has one)."""
    affected = join_names([p.service for p in report.panels if p.affected], limit=4)
    vantages = join_names(report.vantages, limit=8)
    return _service_charts(report, affected, vantages) + _network_charts(report)


def _network_charts(report: Report) -> list[Chart]:
    if not report.planes:
        return []
    networks = join_names([p.network for p in report.planes], limit=4)
    return [
        Chart(
            "network",
            "The network plane",
            f"BGP visibility and the share of address blocks answering for {networks} over "
            "time, withdrawals marked, with the incident shaded.",
            "The solid line is the share of route collector peers that see the network's "
            "prefixes (the control plane); the dashed line the share of its address blocks "
            "that answer pings (the data plane); triangles along the bottom mark withdrawals. "
            "Visibility falling with the services means the network was withdrawn from the "
            "internet; blocks going dark while the routes stay means traffic is dropped on a "
            "path that is still announced; both steady points away from the network.",
            draw_network(report),
        )
    ]


def _service_charts(report: Report, affected: str, vantages: str) -> list[Chart]:
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

"""The report's network-plane figure: BGP visibility and blocks up of each of the
incident's networks over the report's window, withdrawals marked, the incident shaded.

Drawn only when the store keeps signals of the incident's networks (`Report.planes`):
a report of a deployment without a BGP feed or block targets has no such figure.
"""

from __future__ import annotations

from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import PercentFormatter

from netvigil.report.build import Report
from netvigil.report.layout import FigureLayout, no_data, plot_values, shade_incident, time_axis
from netvigil.report.style import ALERT, INK, SHADE, date_num
from netvigil.report.text import span

__all__ = ["BLOCKS_COLOUR", "VISIBILITY_COLOUR", "draw_network"]

VISIBILITY_COLOUR = "#0072B2"
"""Okabe-Ito blue: the control plane."""
BLOCKS_COLOUR = "#009E73"
"""Okabe-Ito bluish green: the data plane."""


def draw_network(report: Report) -> bytes:
    """One panel per network with stored signals: visibility and blocks up (%)."""
    planes = report.planes
    layout = FigureLayout(report, max(1, len(planes)), 1.5, legend_rows=1)
    for ax, plane in zip(layout.panels, planes, strict=False):
        shade_incident(ax, report)
        series = plane.series
        x = [date_num(t + series.step / 2) for t in series.times]
        drawn = False
        for values, colour, style in (
            (series.visibility, VISIBILITY_COLOUR, "-"),
            (series.blocks_up, BLOCKS_COLOUR, "--"),
        ):
            if any(v is not None for v in values):
                ax.plot(
                    x, plot_values(values, 100.0), color=colour, linestyle=style,
                    linewidth=2.2, drawstyle="steps-mid", zorder=3,
                )  # fmt: skip
                drawn = True
        withdrawals = [e.t for e in series.events if e.kind == "withdrawal"]
        if withdrawals:
            ax.plot(
                [date_num(t) for t in withdrawals], [-3.0] * len(withdrawals), linestyle="",
                marker="v", color=ALERT, markersize=6, zorder=4,
            )  # fmt: skip
        if not drawn and not withdrawals:
            no_data(ax, "no network signals in this window")
        title = f"network {plane.network}"
        if plane.text:
            title += f"  ·  {plane.text}"
        ax.set_title(title, loc="left", fontsize=10, color=INK)
        ax.set_ylim(-8, 106)
        ax.set_yticks([0, 50, 100])
        ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    for i, ax in enumerate(layout.panels):
        time_axis(ax, report, last=i == len(layout.panels) - 1)
    handles = [
        Line2D([], [], color=VISIBILITY_COLOUR, linewidth=2.2, label="BGP visibility"),
        Line2D([], [], color=BLOCKS_COLOUR, linestyle="--", linewidth=2.2, label="blocks up"),
        Line2D([], [], color=ALERT, linestyle="", marker="v", label="withdrawal"),
        Patch(color=SHADE, alpha=0.2, label="incident"),
    ]
    width = span(planes[0].series.step) if planes else ""
    layout.header(
        "The network plane",
        f"Share of route collector peers that see the network's prefixes and share of its "
        f"address blocks that answer, lowest per {width}",
        handles,
        ncol=4,
    )
    return layout.finish()

"""The look shared by every report figure: size, palettes, colours, and time in UTC.

Colours come from the Okabe-Ito and Paul Tol palettes (safe for the common
colour-vision deficiencies); vantages also differ by line style, and each outcome keeps
its colour in every report. Figures are 9 inches wide at 150 dpi, so that text stays
readable shown 900 px wide.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from matplotlib import dates as mdates

__all__ = [
    "ALERT",
    "DPI",
    "GRID",
    "INK",
    "MUTED",
    "OUTCOME_COLOURS",
    "OUTCOME_GLOSS",
    "SHADE",
    "VANTAGE_COLOURS",
    "WIDTH_IN",
    "date_num",
    "hhmm",
    "vantage_style",
]

WIDTH_IN = 9.0
DPI = 150
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

SHADE = "#D55E00"
"""The incident's band."""
ALERT = "#A33A00"
"""Start and end labels, and the mark of an interval where no probe succeeded."""
INK = "#222222"
"""Text and reference lines."""
MUTED = "#555555"
"""Subtitles, cause-change lines, and panels of services not affected."""
GRID = "#DDDDDD"
"""Horizontal grid lines."""


def vantage_style(index: int) -> tuple[str, Any]:
    """The colour and line style of the index-th vantage."""
    return (
        VANTAGE_COLOURS[index % len(VANTAGE_COLOURS)],
        _LINE_STYLES[(index // len(VANTAGE_COLOURS) + index) % len(_LINE_STYLES)],
    )


def date_num(ts: float) -> float:
    """Epoch seconds as matplotlib's date number (days), in UTC."""
    return float(mdates.date2num(datetime.fromtimestamp(ts, UTC)))  # type: ignore[no-untyped-call]


def hhmm(ts: float) -> str:
    """Epoch seconds as `HH:MM UTC`."""
    return datetime.fromtimestamp(ts, UTC).strftime("%H:%M UTC")

"""SVG status badges (`/status/badge/{service}.svg`): the service's state word on its colour.

A flat badge in the common two-part form ("status" on grey, the state word on the
state's colour), with a `<title>` for screen readers. Widths are estimated from the
text (about 6.5 px per character at 11 px Verdana), as shields.io badges are.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from netvigil.web.i18n import Speech, speech_for

__all__ = ["BADGE_COLOURS", "badge_svg"]

BADGE_COLOURS = {
    "working": "#1a7f37",
    "degraded": "#9a6700",
    "down": "#cf222e",
    "maintenance": "#0969da",
    "unknown": "#6e7781",
}
"""The badge colour of each service status (those of the status page's light theme)."""


def _width(text: str) -> int:
    return int(len(text) * 6.5) + 12


def badge_svg(status: str, label: str | None = None, *, speech: Speech | None = None) -> bytes:
    """The badge of a service in `status` ('working', 'degraded', 'down', 'maintenance',
    'unknown'), as UTF-8 SVG, in the language of `speech` (English by default); `label`
    is the left part ('status')."""
    said = speech if speech is not None else speech_for("en")
    label = label if label is not None else said.gettext("status")
    word = said.state(status)
    colour = BADGE_COLOURS.get(status, BADGE_COLOURS["unknown"])
    left, right = _width(label), _width(word)
    total = left + right
    text = escape(f"{label}: {word}")
    svg = (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img"'
        f' aria-label="{text}"><title>{text}</title>'
        f'<rect width="{left}" height="20" fill="#555"/>'
        f'<rect x="{left}" width="{right}" height="20" fill="{colour}"/>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif"'
        ' font-size="11">'
        f'<text x="{left / 2:g}" y="14">{escape(label)}</text>'
        f'<text x="{left + right / 2:g}" y="14">{escape(word)}</text>'
        "</g></svg>"
    )
    return svg.encode()

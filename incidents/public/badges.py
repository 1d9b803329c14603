"""SVG status badges (shields.io's flat style), one per public component and one
for the whole page, rendered into the snapshot."""

from __future__ import annotations

from django.utils.html import escape

from incidents.models import Impact
from portal.text import clean_text

COLOURS = {
    Impact.OPERATIONAL: "#2f9e44",
    Impact.DEGRADED_PERFORMANCE: "#e8a400",
    Impact.PARTIAL_OUTAGE: "#e8590c",
    Impact.MAJOR_OUTAGE: "#d92d20",
    Impact.UNDER_MAINTENANCE: "#1c7ed6",
}
INDICATOR_COLOURS = {"none": "#2f9e44", "minor": "#e8a400", "major": "#e8590c", "critical": "#d92d20"}


def _text_width(text: str) -> int:
    # Verdana 11px averages about 6.5px a character; exact enough for a badge.
    return int(len(text) * 6.5) + 10


def badge(label: str, message: str, colour: str) -> str:
    label, message = clean_text(label), clean_text(message)  # XML refuses control characters
    lw, mw = _text_width(label), _text_width(message)
    width = lw + mw
    label_e, message_e = escape(label), escape(message)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" role="img" aria-label="{label_e}: {message_e}">'
        f"<title>{label_e}: {message_e}</title>"
        f'<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" stop-opacity=".1"/>'
        f'<stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{width}" height="20" rx="3" fill="#fff"/></clipPath>'
        f'<g clip-path="url(#r)"><rect width="{lw}" height="20" fill="#555"/>'
        f'<rect x="{lw}" width="{mw}" height="20" fill="{colour}"/><rect width="{width}" height="20" fill="url(#s)"/></g>'
        f'<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" font-size="11">'
        f'<text x="{lw / 2:.1f}" y="14">{label_e}</text><text x="{lw + mw / 2:.1f}" y="14">{message_e}</text></g></svg>'
    )


def component_badge(name: str, status: str) -> str:
    return badge(name, Impact(status).label.lower(), COLOURS[Impact(status)])


def page_badge(site_name: str, indicator: str, description: str) -> str:
    return badge(site_name, description.lower(), INDICATOR_COLOURS[indicator])

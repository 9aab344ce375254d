"""Badges: shields.io's flat style drawn from plain values, and its endpoint JSON.

Pure functions, no database: monitor.badge_views reads the site and passes
its status, uptime or response time here. A badge says only what its
message says (a status word, a percentage, a time): never the monitored URL
or an error text, since a badge is public.

Text is measured, not rendered, so the SVG's boxes fit the words: the
advance widths of Verdana at 11 px, the font shields.io's flat badges use,
from the anafanafo project's tables (https://github.com/metabolize/anafanafo,
MIT), for printable ASCII and Latin-1; anything else counts as wide as "m".
"""

import math
import unicodedata
from dataclasses import dataclass
from html import escape

# Advance widths in px of Verdana 11px for U+0020..U+007E, then U+00A0..U+00FF.
_ASCII_WIDTHS = (
    3.87, 4.33, 5.05, 9, 6.99, 11.84, 7.99, 2.95, 5, 5, 6.99, 9, 4, 5, 4, 5,
    6.99, 6.99, 6.99, 6.99, 6.99, 6.99, 6.99, 6.99, 6.99, 6.99, 5, 5, 9, 9, 9, 6,
    11, 7.52, 7.54, 7.68, 8.48, 6.96, 6.32, 8.53, 8.27, 4.63, 5, 7.62, 6.12, 9.27, 8.23, 8.66,
    6.63, 8.66, 7.65, 7.52, 6.78, 8.05, 7.52, 10.88, 7.54, 6.77, 7.54, 5, 5, 5, 9, 6.99,
    6.99, 6.61, 6.85, 5.73, 6.85, 6.55, 3.87, 6.85, 6.96, 3.02, 3.79, 6.51, 3.02, 10.7, 6.96, 6.68,
    6.85, 6.85, 4.69, 5.73, 4.33, 6.96, 6.51, 9, 6.51, 6.51, 5.78, 6.98, 5, 6.98, 9,
)  # fmt: skip
_LATIN1_WIDTHS = (
    3.87, 4.33, 6.99, 6.99, 6.99, 6.99, 5, 6.99, 6.99, 11, 6, 7.09, 9, 0, 11, 6.99,
    5.96, 9, 5.96, 5.96, 6.99, 7.06, 6.99, 4, 6.99, 5.96, 6, 7.09, 11, 11, 11, 6,
    7.52, 7.52, 7.52, 7.52, 7.52, 7.52, 10.83, 7.68, 6.96, 6.96, 6.96, 6.96, 4.63, 4.63, 4.63, 4.63,
    8.53, 8.23, 8.66, 8.66, 8.66, 8.66, 8.66, 9, 8.66, 8.05, 8.05, 8.05, 8.05, 6.77, 6.66, 6.82,
    6.61, 6.61, 6.61, 6.61, 6.61, 6.61, 10.51, 5.73, 6.55, 6.55, 6.55, 6.55, 3.02, 3.02, 3.02, 3.02,
    6.73, 6.96, 6.68, 6.68, 6.68, 6.68, 6.68, 9, 6.68, 6.96, 6.96, 6.96, 6.96, 6.51, 6.85, 6.51,
)  # fmt: skip
_WIDE = 10.7  # "m"
HEIGHT = 20
PADDING = 5
LABEL_COLOR = "#555"
MAX_LABEL_LENGTH = 50

# shields.io's named colours: the endpoint JSON sends the name, the SVG its value.
# All dark enough for white text.
COLORS = {
    "brightgreen": "#4c1",
    "green": "#97ca00",
    "yellowgreen": "#a4a61d",
    "yellow": "#dfb317",
    "orange": "#fe7d37",
    "red": "#e05d44",
    "blue": "#007ec6",
    "lightgrey": "#9f9f9f",
}

STATUS_COLORS = {
    "up": "brightgreen",
    "degraded": "yellow",
    "down": "red",
    "maintenance": "blue",
    "paused": "lightgrey",
    "unknown": "lightgrey",
}
# (lowest percentage, colour), best first: one bad hour a month is still green.
UPTIME_COLORS = (
    (99.9, "brightgreen"),
    (99.0, "green"),
    (98.0, "yellowgreen"),
    (95.0, "yellow"),
    (90.0, "orange"),
)
# (below this many ms, colour), fastest first.
RESPONSE_COLORS = ((300, "brightgreen"), (1000, "green"), (2000, "yellow"), (5000, "orange"))
NO_DATA = "no data"


@dataclass(frozen=True)
class Badge:
    label: str
    message: str
    color: str  # a key of COLORS


# --- Measuring and drawing -------------------------------------------------------


def char_width(char: str) -> float:
    code = ord(char)
    if 0x20 <= code <= 0x7E:
        return _ASCII_WIDTHS[code - 0x20]
    if 0xA0 <= code <= 0xFF:
        return _LATIN1_WIDTHS[code - 0xA0]
    if unicodedata.category(char) in ("Mn", "Me", "Cf"):  # combining marks, zero-width
        return 0.0
    return _WIDE


def text_width(text: str) -> float:
    """The text's width in px in Verdana 11px."""
    return sum(char_width(char) for char in text)


def _box_width(text: str) -> int:
    # Whole pixels, odd, as shields does: the centred text lands on the pixel grid.
    width = math.ceil(text_width(text))
    return width if width % 2 else width + 1


def _text(text: str, center: float, width: int) -> str:
    # Drawn at ten times the size and scaled down, as shields does, so the
    # position and textLength keep a tenth of a pixel's precision.
    x, length, body = round(center * 10), width * 10, escape(text)
    return (
        f'<text aria-hidden="true" x="{x}" y="150" fill="#010101" fill-opacity=".3" '
        f'transform="scale(.1)" textLength="{length}">{body}</text>'
        f'<text x="{x}" y="140" transform="scale(.1)" fill="#fff" '
        f'textLength="{length}">{body}</text>'
    )


def render_svg(badge: Badge) -> str:
    """The badge in shields.io's flat style; an empty label gives a message-only badge."""
    color = COLORS[badge.color]
    message_width = _box_width(badge.message)
    label_width = _box_width(badge.label) if badge.label else 0
    left = label_width + 2 * PADDING if badge.label else 0
    right = message_width + 2 * PADDING
    total = left + right
    title = escape(f"{badge.label}: {badge.message}" if badge.label else badge.message)
    texts = _text(badge.message, left + right / 2, message_width)
    if badge.label:
        texts = _text(badge.label, left / 2, label_width) + texts
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="{HEIGHT}" '
        f'role="img" aria-label="{title}"><title>{title}</title>'
        '<linearGradient id="s" x2="0" y2="100%"><stop offset="0" stop-color="#bbb" '
        'stop-opacity=".1"/><stop offset="1" stop-opacity=".1"/></linearGradient>'
        f'<clipPath id="r"><rect width="{total}" height="{HEIGHT}" rx="3" fill="#fff"/>'
        '</clipPath><g clip-path="url(#r)">'
        f'<rect width="{left}" height="{HEIGHT}" fill="{LABEL_COLOR}"/>'
        f'<rect x="{left}" width="{right}" height="{HEIGHT}" fill="{color}"/>'
        f'<rect width="{total}" height="{HEIGHT}" fill="url(#s)"/></g>'
        '<g fill="#fff" text-anchor="middle" font-family="Verdana,Geneva,DejaVu Sans,sans-serif" '
        f'text-rendering="geometricPrecision" font-size="110">{texts}</g></svg>'
    )


def endpoint_json(badge: Badge, *, is_error: bool = False) -> dict:
    """shields.io's endpoint schema (https://shields.io/badges/endpoint-badge)."""
    data = {
        "schemaVersion": 1,
        "label": badge.label,
        "message": badge.message,
        "color": badge.color,
    }
    if is_error:
        data["isError"] = True
    return data


# --- What each badge says ---------------------------------------------------------


class LabelError(ValueError):
    pass


def clean_label(raw: str) -> str:
    """The ?label= text: whitespace collapsed, control characters dropped.
    LabelError when longer than MAX_LABEL_LENGTH."""
    text = "".join(ch for ch in raw if unicodedata.category(ch)[0] != "C" or ch in "\t\n")
    text = " ".join(text.split())
    if len(text) > MAX_LABEL_LENGTH:
        raise LabelError(f"at most {MAX_LABEL_LENGTH} characters")
    return text


def status_badge(status: str, *, label: str = "status") -> Badge:
    """A display status (Site.display_status): up, degraded, down, maintenance, paused, unknown."""
    color = STATUS_COLORS.get(status, "lightgrey")
    return Badge(label, status if status in STATUS_COLORS else "unknown", color)


def format_percent(percent: float) -> str:
    """ "99.98%": two decimals at most, rounded down, so only a perfect record shows 100%."""
    floored = math.floor(percent * 100 + 1e-9) / 100
    return f"{floored:.2f}".rstrip("0").rstrip(".") + "%"


def uptime_badge(percent: float | None, *, label: str) -> Badge:
    if percent is None:
        return Badge(label, NO_DATA, "lightgrey")
    color = next((name for lowest, name in UPTIME_COLORS if percent >= lowest), "red")
    return Badge(label, format_percent(percent), color)


def format_duration_ms(ms: float) -> str:
    """ "123 ms" below a second, "1.23 s" from there."""
    if ms < 999.5:
        return f"{round(ms)} ms"
    return f"{ms / 1000:.2f}".rstrip("0").rstrip(".") + " s"


def response_badge(ms: float | None, *, label: str) -> Badge:
    if ms is None:
        return Badge(label, NO_DATA, "lightgrey")
    color = next((name for below, name in RESPONSE_COLORS if ms < below), "red")
    return Badge(label, format_duration_ms(ms), color)


def not_found_badge() -> Badge:
    return Badge("badge", "not found", "lightgrey")


def error_badge(field: str, reason: str) -> Badge:
    return Badge(field, reason, "red")

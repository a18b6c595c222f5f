"""Charts drawn on the server as inline SVG: no script and no CDN, so the back office works offline.

Every label is escaped; the SVG carries a <title> per bar (the browser's tooltip) and an
aria-label, so the numbers are readable without the picture.
"""

from __future__ import annotations

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

WIDTH = 720
BAR_COLOUR = "#417690"  # the admin's own blue
LABEL_STYLE = 'font-size="11" fill="#555" font-family="sans-serif"'


def column_chart(points: list[tuple[str, int]], *, title: str, value_text=str, height: int = 180) -> SafeString:
    """Vertical bars, one per (label, value); ``value_text`` formats a value for labels and tooltips."""
    top, bottom, left = 18, 34, 8
    plot_height = height - top - bottom
    peak = max((value for _, value in points), default=0) or 1
    slot = (WIDTH - left * 2) / max(len(points), 1)
    bar_width = max(slot * 0.7, 1)
    every = max(1, round(len(points) / 10))  # at most ~10 axis labels, whatever the period
    parts = []
    for index, (label, value) in enumerate(points):
        bar_height = plot_height * value / peak
        x = left + index * slot + (slot - bar_width) / 2
        y = top + plot_height - bar_height
        parts.append(
            f'<rect class="bar" x="{x:.1f}" y="{y:.1f}" width="{bar_width:.1f}" height="{bar_height:.1f}" '
            f'fill="{BAR_COLOUR}"><title>{escape(label)}: {escape(value_text(value))}</title></rect>'
        )
        if index % every == 0:
            parts.append(
                f'<text x="{x + bar_width / 2:.1f}" y="{height - bottom + 14}" text-anchor="middle" '
                f"{LABEL_STYLE}>{escape(label)}</text>"
            )
    parts.append(f'<text x="{left}" y="12" {LABEL_STYLE}>max {escape(value_text(peak if points else 0))}</text>')
    parts.append(
        f'<line x1="{left}" y1="{top + plot_height}" x2="{WIDTH - left}" y2="{top + plot_height}" stroke="#ccc"/>'
    )
    return _svg(parts, title=title, height=height)


def bar_list_chart(rows: list[tuple[str, float, str]], *, title: str, maximum: float | None = None) -> SafeString:
    """Horizontal bars, one per (label, value, text shown after the bar)."""
    row_height, label_width = 24, 220
    height = max(len(rows), 1) * row_height + 8
    peak = maximum or max((value for _, value, _ in rows), default=0) or 1
    span = WIDTH - label_width - 120
    parts = []
    for index, (label, value, text) in enumerate(rows):
        y = 4 + index * row_height
        bar = span * value / peak
        parts.append(
            f'<text x="{label_width - 8}" y="{y + 15}" text-anchor="end" {LABEL_STYLE}>{escape(label[:36])}</text>'
        )
        parts.append(
            f'<rect class="bar" x="{label_width}" y="{y + 3}" width="{bar:.1f}" height="{row_height - 8}" '
            f'fill="{BAR_COLOUR}"><title>{escape(label)}: {escape(text)}</title></rect>'
        )
        parts.append(f'<text x="{label_width + bar + 6:.1f}" y="{y + 15}" {LABEL_STYLE}>{escape(text)}</text>')
    if not rows:
        parts.append(f'<text x="8" y="20" {LABEL_STYLE}>nothing in this period</text>')
    return _svg(parts, title=title, height=height)


def _svg(parts: list[str], *, title: str, height: int) -> SafeString:
    # Every interpolated label above went through escape(); the rest are numbers.
    return mark_safe(
        f'<svg class="pagoflex-chart" role="img" aria-label="{escape(title)}" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" height="{height}" xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>'
        + "".join(parts)
        + "</svg>"
    )

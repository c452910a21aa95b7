"""Server-rendered SVG charts: no script, no inline style (the CSP allows neither); colours come
from the stylesheet's classes. Each chart has a text alternative (role="img" + aria-label)."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from markupsafe import Markup, escape

WIDTH, BAR_HEIGHT, GAP, LABEL_WIDTH = 640, 22, 6, 180


def bar_chart(bars: Sequence[tuple[str, Decimal | int, str]], *, label: str) -> Markup:
    """Horizontal bars: (label, value, the value as text). Scaled to the largest value."""
    if not bars:
        return Markup("")
    biggest = max((Decimal(value) for _, value, _ in bars), default=Decimal(0)) or Decimal(1)
    height = len(bars) * (BAR_HEIGHT + GAP) + GAP
    room = WIDTH - LABEL_WIDTH - 150
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="{escape(label)}" '
        'xmlns="http://www.w3.org/2000/svg">'
    ]
    for index, (name, value, shown) in enumerate(bars):
        y = GAP + index * (BAR_HEIGHT + GAP)
        length = max(1, int(Decimal(value) / biggest * room)) if Decimal(value) > 0 else 0
        parts.append(
            f'<text class="chart-label" x="0" y="{y + 16}">{escape(name)}</text>'
            f'<rect class="chart-bar chart-bar-{index % 4}" x="{LABEL_WIDTH}" y="{y}" '
            f'width="{length}" height="{BAR_HEIGHT}"/>'
            f'<text class="chart-value" x="{LABEL_WIDTH + length + 6}" y="{y + 16}">{escape(shown)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text part above is escaped

"""Small charts drawn on the server as inline SVG: no script, no CDN, allowed by a strict CSP, readable on
a phone and printable. Plotly (used by the batch plane's HTML reports) would need inline scripts and
styles on every staff page for three small figures, so these few shapes are written directly.

Each chart carries a ``<title>`` and ``<desc>`` for screen readers, and every page also states the
numbers in text beside it; colours come from classes in ``dtsen.css``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from markupsafe import Markup

DESILES = range(1, 11)


def _svg(width: int, height: int, title: str, desc: str, body: list[str], label_id: str) -> Markup:
    label_id = escape(label_id)
    # Every interpolated text is escaped here or by the callers' builders; numbers are formatted floats.
    return Markup(  # noqa: S704
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-labelledby="{label_id}-t {label_id}-d">'
        f'<title id="{label_id}-t">{escape(title)}</title><desc id="{label_id}-d">{escape(desc)}</desc>'
        + "".join(body)
        + "</svg>"
    )


def desil_strip(
    desil: int | None, title: str, desc: str, label_id: str, *, poorest: str, richest: str
) -> Markup:
    """Ten cells, desil 1 (poorest tenth) on the left, the family's desil filled and marked."""
    width, height, left, top, cell_h = 340, 58, 4, 4, 30
    cell_w = (width - 2 * left) / 10
    body: list[str] = []
    for d in DESILES:
        x = left + (d - 1) * cell_w
        css = "bar-here" if d == desil else "bar-soft"
        body.append(
            f'<rect class="{css}" x="{x:.1f}" y="{top}" width="{cell_w - 2:.1f}" height="{cell_h}" rx="3"/>'
        )
        weight = ' font-weight="700"' if d == desil else ""
        css_text = ' class="on-bar"' if d == desil else ""
        body.append(
            f'<text{css_text} x="{x + cell_w / 2 - 1:.1f}" y="{top + 20}" '
            f'text-anchor="middle"{weight}>{d}</text>'
        )
    body.append(f'<text x="{left}" y="{height - 6}">{escape(poorest)}</text>')
    body.append(f'<text x="{width - left}" y="{height - 6}" text-anchor="end">{escape(richest)}</text>')
    return _svg(width, height, title, desc, body, label_id)


def probability_bar(probability: float | None, title: str, desc: str, label_id: str) -> Markup:
    """A 0-100 % bar for a probability such as P(desil <= 4)."""
    width, height, bar_h = 340, 26, 18
    share = 0.0 if probability is None else min(max(probability, 0.0), 1.0)
    body = [
        f'<rect class="bar-soft" x="0" y="2" width="{width - 50}" height="{bar_h}" rx="3"/>',
        f'<rect class="bar" x="0" y="2" width="{(width - 50) * share:.1f}" height="{bar_h}" rx="3"/>',
        f'<text x="{width - 4}" y="{2 + 14}" text-anchor="end">{round(share * 100)}%</text>',
    ]
    return _svg(width, height, title, desc, body, label_id)


@dataclass(frozen=True)
class Contribution:
    label: str
    value: float


def contributions(items: Sequence[Contribution], title: str, desc: str, label_id: str) -> Markup:
    """Diverging horizontal bars: what pulled the estimated welfare down (left) or up (right)."""
    row_h, width, label_w = 26, 340, 150
    height = max(1, len(items)) * row_h + 8
    plot_w = width - label_w - 8
    centre = label_w + plot_w / 2
    biggest = max((abs(item.value) for item in items), default=0.0) or 1.0
    body = [f'<line class="axis" x1="{centre:.1f}" x2="{centre:.1f}" y1="0" y2="{height}"/>']
    for row, item in enumerate(items):
        y = 4 + row * row_h
        length = (plot_w / 2 - 4) * abs(item.value) / biggest
        x = centre - length if item.value < 0 else centre
        css = "bar-here" if item.value < 0 else "bar"
        label = item.label if len(item.label) <= 22 else item.label[:21] + "…"
        body.append(f'<text x="0" y="{y + 16}">{escape(label)}</text>')
        body.append(
            f'<rect class="{css}" x="{x:.1f}" y="{y + 3}" width="{max(length, 1):.1f}" height="{row_h - 8}" '
            'rx="2"/>'
        )
    return _svg(width, height, title, desc, body, label_id)


@dataclass(frozen=True)
class Point:
    label: str  # the snapshot period, e.g. 2026Q1
    desil: int | None  # None: not ranked in that snapshot


def desil_history(points: Sequence[Point], title: str, desc: str, label_id: str) -> Markup:
    """Desil across snapshots: a line from oldest to newest, desil 1 at the bottom; gaps where unranked."""
    width, height, left, right, top, bottom = 340, 170, 30, 12, 10, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    n = max(len(points), 1)

    def xy(index: int, desil: int) -> tuple[float, float]:
        x = left + (plot_w * (index + 0.5) / n)
        y = top + plot_h * (10 - desil) / 9
        return x, y

    body: list[str] = []
    for d in (1, 4, 5, 10):
        _, y = xy(0, d)
        body.append(f'<line class="grid-line" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>')
        body.append(f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{d}</text>')
    segment: list[str] = []
    segments: list[list[str]] = []
    for index, point in enumerate(points):
        x, _ = xy(index, 1)
        body.append(f'<text x="{x:.1f}" y="{height - 8}" text-anchor="middle">{escape(point.label)}</text>')
        if point.desil is None:
            if segment:
                segments.append(segment)
            segment = []
            body.append(f'<text x="{x:.1f}" y="{top + plot_h / 2:.1f}" text-anchor="middle">–</text>')
            continue
        px, py = xy(index, point.desil)
        segment.append(f"{px:.1f},{py:.1f}")
        body.append(f'<circle class="point" cx="{px:.1f}" cy="{py:.1f}" r="5"/>')
        body.append(f'<text x="{px + 8:.1f}" y="{py - 7:.1f}" font-weight="700">{point.desil}</text>')
    if segment:
        segments.append(segment)
    body[0:0] = [f'<polyline class="line" points="{" ".join(s)}"/>' for s in segments if len(s) > 1]
    return _svg(width, height, title, desc, body, label_id)

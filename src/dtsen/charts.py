"""HTML reports with charts that work offline: plotly.js is inlined once from the installed package.

Every HTML report of the batch plane (cycle, welfare) is one self-contained file a ministry analyst can
open from a USB stick or attach to a memo: no CDN, no server.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs

PALETTE = [
    "#1b4965",
    "#5fa8d3",
    "#62b6cb",
    "#bee9e8",
    "#cae9ff",
    "#ef476f",
    "#ffd166",
    "#06d6a0",
    "#118ab2",
    "#073b4c",
]

STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0;color:#1d2733;\
background:#f6f8fa}
header{background:#1b4965;color:#fff;padding:1.2rem 2rem}
header h1{margin:0;font-size:1.5rem} header p{margin:.3rem 0 0;opacity:.85}
main{padding:1rem 2rem;max-width:1200px}
section{background:#fff;border-radius:8px;padding:1rem 1.5rem;margin:1rem 0;box-shadow:0 1px 3px #0002}
h2{font-size:1.15rem;margin-top:0;color:#1b4965} .en{color:#6b7785;font-weight:normal;font-size:.9em}
.cards{display:flex;flex-wrap:wrap;gap:1rem}
.card{flex:1 1 160px;background:#eef4f8;border-radius:6px;padding:.6rem .9rem}
.card b{display:block;font-size:1.4rem;color:#1b4965}
table{border-collapse:collapse;font-size:.9rem;margin:.5rem 0} td,th{border-bottom:1px solid #dde3e8;\
padding:.25rem .6rem;text-align:right}
th:first-child,td:first-child{text-align:left} .note{color:#6b7785;font-size:.85rem}
.warn{color:#b23a48}
"""


def figure(fig: go.Figure, *, height: int = 380) -> str:
    """A chart as a <div>; the page carries plotly.js once (see :func:`page`)."""
    fig.update_layout(
        height=height,
        margin={"l": 50, "r": 20, "t": 40, "b": 40},
        colorway=PALETTE,
        font={"family": "system-ui, sans-serif", "size": 12},
        plot_bgcolor="#fff",
    )
    return pio.to_html(fig, include_plotlyjs=False, full_html=False, config={"displaylogo": False})


def cards(items: Sequence[tuple[str, Any]]) -> str:
    return (
        '<div class="cards">'
        + "".join(f'<div class="card"><b>{html.escape(_fmt(v))}</b>{html.escape(k)}</div>' for k, v in items)
        + "</div>"
    )


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    if not rows:
        return '<p class="note">(kosong / empty)</p>'
    cols = list(columns or rows[0].keys())
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in cols) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def section(title: str, title_en: str, *parts: str) -> str:
    return (
        f'<section><h2>{html.escape(title)} <span class="en">/ {html.escape(title_en)}</span></h2>'
        f"{''.join(parts)}</section>"
    )


def page(title: str, subtitle: str, sections: Sequence[str], *, lang: str = "id") -> str:
    """A whole self-contained HTML document with plotly.js inlined once."""
    js = f'<script type="text/javascript">{get_plotlyjs()}</script>'
    return (
        f'<!DOCTYPE html><html lang="{lang}"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(title)}</title><style>{STYLE}</style>{js}</head><body>"
        f"<header><h1>{html.escape(title)}</h1><p>{html.escape(subtitle)}</p></header>"
        f"<main>{''.join(sections)}</main></body></html>"
    )


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "ya" if value else "tidak"
    if isinstance(value, int):
        return f"{value:,}".replace(",", ".")
    if isinstance(value, float):
        return f"{value:,.3f}".replace(",", "_").replace(".", ",").replace("_", ".")
    return str(value)

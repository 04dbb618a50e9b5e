"""The analyst dashboards' Plotly figures, one per section, as the JSON the page's ``data-plotly``
attributes carry (drawn in the browser by the bundled plotly.js; no inline script under the CSP).
"""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go

from dtsen.api.dashboard_data import LABELS, STATUS_PADAN, UNRANKED, View
from dtsen.api.display import region_name
from dtsen.web.i18n import N_

PALETTE = ["#1b4965", "#5fa8d3", "#62b6cb", "#ef476f", "#ffd166", "#06d6a0", "#118ab2", "#073b4c"]


# -- charts --------------------------------------------------------------------------------------------------
def figure_json(fig: go.Figure, *, height: int = 360) -> str:
    fig.update_layout(
        height=height,
        margin={"l": 60, "r": 20, "t": 40, "b": 40},
        colorway=PALETTE,
        font={"family": "system-ui, sans-serif", "size": 12},
        plot_bgcolor="#fff",
        # above the plot: below it, a horizontal legend runs into the x axis title
        legend={"orientation": "h", "x": 0, "xanchor": "left", "y": 1.02, "yanchor": "bottom"},
    )
    return str(fig.to_json())


def _label(kode: Any) -> str:
    return str(region_name(kode) or kode or "–")


def desil_chart(view: View, rows: list[dict[str, Any]]) -> str | None:
    level = view.top
    totals: dict[Any, int] = {}
    for r in rows:
        totals[r[level]] = totals.get(r[level], 0) + int(r["jiwa"] or 0)
    if not totals:
        return None
    fig = go.Figure()
    regions = sorted(totals, key=lambda k: str(k))
    for d in [*range(1, 11), None]:
        by = {r[level]: int(r["jiwa"] or 0) for r in rows if r["desil"] == d}
        if not by:
            continue
        fig.add_bar(
            y=[_label(k) for k in regions],
            x=[100 * by.get(k, 0) / totals[k] if totals[k] else 0 for k in regions],
            name=view.t(UNRANKED) if d is None else f"{view.t(N_('desil'))} {d}",
            orientation="h",
            marker_color="#9aa5b1" if d is None else f"hsl({10 + d * 12},65%,{30 + d * 5}%)",
        )
    fig.update_layout(barmode="stack", xaxis_title=view.t(N_("% jiwa")))
    return figure_json(fig, height=max(260, 28 * len(regions) + 140))


def program_chart(view: View, rows: list[dict[str, Any]]) -> str | None:
    if not rows:
        return None
    fig = go.Figure()
    regions = sorted({r[view.top] for r in rows}, key=str)
    programs = sorted({r["program"] for r in rows})
    for region in regions:
        by = {r["program"]: r["anggaran_tahunan"] for r in rows if r[view.top] == region}
        fig.add_bar(x=programs, y=[by.get(p, 0) for p in programs], name=_label(region))
    fig.update_layout(barmode="stack", yaxis_title=view.t(N_("Anggaran tahunan (Rp)")))
    return figure_json(fig)


def quality_chart(view: View, rows: list[dict[str, Any]]) -> str | None:
    if not rows:
        return None
    fig = go.Figure()
    for column in ("diterima", "dengan_peringatan", "ditolak", "karantina"):
        fig.add_bar(
            x=[r["sumber"] for r in rows], y=[r[column] or 0 for r in rows], name=view.t(LABELS[column])
        )
    fig.update_layout(barmode="group", yaxis_title=view.t(N_("Baris")))
    return figure_json(fig)


def padan_chart(view: View, rows: list[dict[str, Any]]) -> str | None:
    totals: dict[str, int] = {}
    for r in rows:
        label = view.t(STATUS_PADAN.get(r["status_padan"], N_("Tanpa status")))
        totals[label] = totals.get(label, 0) + int(r["jiwa"] or 0)
    if not totals:
        return None
    fig = go.Figure(go.Bar(y=list(totals), x=list(totals.values()), orientation="h"))
    fig.update_layout(xaxis_title=view.t(N_("Jiwa")))
    return figure_json(fig, height=max(240, 30 * len(totals) + 100))


def model_chart(view: View, rows: list[dict[str, Any]], chosen: str | None) -> str | None:
    if not rows:
        return None
    fig = go.Figure()
    for name in sorted({r["model"] for r in rows}):
        points = [r for r in rows if r["model"] == name]
        fig.add_scatter(
            x=[100 * (r["coverage"] or 0) for r in points],
            y=[100 * (r["exclusion_error"] or 0) for r in points],
            mode="lines+markers",
            name=name + (f" ({view.t(N_('dipilih'))})" if name == chosen else ""),
        )
    fig.update_layout(
        xaxis_title=view.t(N_("Cakupan program (% terbawah)")),
        yaxis_title=view.t(N_("% miskin tidak terjangkau")),
    )
    return figure_json(fig)


def fairness_chart(view: View, rows: list[dict[str, Any]], chosen: str | None) -> str | None:
    picked = [r for r in rows if r["model"] == chosen]
    if not picked:
        return None
    fig = go.Figure(
        go.Bar(x=[f"{r['dimensi']}: {r['kelompok']}" for r in picked], y=[r["parity"] for r in picked])
    )
    fig.add_hline(y=1.0, line_dash="dot")
    fig.update_layout(yaxis_title=view.t(N_("Paritas (terpilih / miskin)")))
    return figure_json(fig)


def changes_chart(view: View, rows: list[dict[str, Any]]) -> str | None:
    if not rows:
        return None
    fig = go.Figure()
    causes = sorted({r["sebab_utama"] or "–" for r in rows})
    kinds = sorted({(r["bagian"], r["perubahan"]) for r in rows})
    for cause in causes:
        by: dict[tuple[str, str], int] = {}
        for r in rows:
            if (r["sebab_utama"] or "–") == cause:
                key = (r["bagian"], r["perubahan"])
                by[key] = by.get(key, 0) + int(r["jumlah"] or 0)
        fig.add_bar(x=[f"{b}: {p}" for b, p in kinds], y=[by.get(k, 0) for k in kinds], name=cause)
    fig.update_layout(barmode="stack", yaxis_title=view.t(N_("Keluarga")))
    return figure_json(fig)


def sla_chart(view: View, rows: list[dict[str, Any]]) -> str | None:
    if not rows:
        return None
    fig = go.Figure()
    labels = [_label(r[view.top]) for r in rows]
    for column in ("terbuka", "tanggap_lewat", "selesai_lewat"):
        fig.add_bar(x=labels, y=[r[column] for r in rows], name=view.t(LABELS[column]))
    fig.update_layout(barmode="group")
    return figure_json(fig)

"""Analyst dashboards: desil, programs and budgets, data quality, linkage status, the welfare model's
accuracy and fairness, the period diff and the workflow SLA, each a chart, a table and a CSV download.

**Nothing heavy per request.** The figures come from the small ``agregat/`` tables the publish step wrote
into the served snapshot (:mod:`dtsen.cycle.aggregates`); they are read once per snapshot and process
and grouped per request with DuckDB. A snapshot published before those tables existed gets them computed
on first read, once. Only the SLA counts are live (the ``workflow_case`` table, one grouped query).

**Scoping.** ``stats.read`` is held by every staff role and the auditor: the region rule of
:mod:`dtsen.auth.scope` decides what each sees. National roles see every region, grouped by province
(chart) and kab/kota (table, CSV); a dinsos sees its kab/kota by kecamatan; a desa operator or
pendamping its desa(s). The region tables stop at the desa, so the one rule applies to them all; the
period diff is by kab/kota and so shows nothing to a desa account. Data quality by source and the welfare
model's held-out figures are about national inputs and the national model, not about people in a
region, and are shown to everyone who may read statistics. No table holds personal data, so reads are
not audited.

**Charts under the CSP.** Plotly figures are rendered in the browser by the plotly.js of the installed
plotly package (served by :func:`plotly_js`, no CDN); a figure travels as JSON in the ``data-plotly``
attribute of its ``<div>`` and the static ``js/analisis.js`` draws it, so the page has no inline script.
plotly.js also styles its charts by injecting ``<style>`` elements, which ``style-src 'self'`` blocks; it
skips that when the page already holds an element of the id it would use (:func:`plotly_styles`), so the
page links those same rules, read from the installed bundle, as stylesheets of their own. Each chart has
its table beside it, readable without JavaScript.
"""

from __future__ import annotations

import csv
import functools
import io
import re
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb
import plotly.graph_objects as go
import pyarrow as pa
from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import Session

from dtsen.api.deps import db_session
from dtsen.api.errors import error_response
from dtsen.api.staff import region_name
from dtsen.auth.deps import requires
from dtsen.auth.policy import clock_of
from dtsen.auth.scope import REGION_COLUMN, Principal, region_clause
from dtsen.store.cases import WorkflowCase
from dtsen.web import i18n
from dtsen.web.i18n import N_
from dtsen.web.templating import render

router = APIRouter(tags=["analisis"])

PALETTE = ["#1b4965", "#5fa8d3", "#62b6cb", "#ef476f", "#ffd166", "#06d6a0", "#118ab2", "#073b4c"]
NO_SNAPSHOT = N_("Belum ada snapshot yang dilayani, atau berkasnya tidak ditemukan di direktori data.")
UNKNOWN_TABLE = N_("Tabel %(nama)s tidak ada. Pilih salah satu unduhan di halaman analisis.")
UNRANKED = N_("tidak diperingkat")

# Column headings (tables and CSV headers keep the column names; pages show these).
LABELS: dict[str, str] = {
    "kode_prov": N_("Provinsi"),
    "kode_kab": N_("Kabupaten/kota"),
    "kode_kec": N_("Kecamatan"),
    "kode_desa": N_("Desa/kelurahan"),
    "nama_wilayah": N_("Nama wilayah"),
    "desil": N_("Desil nasional"),
    "keluarga": N_("Keluarga"),
    "jiwa": N_("Jiwa"),
    "program": N_("Program"),
    "keluarga_dinilai": N_("Keluarga dinilai"),
    "keluarga_layak": N_("Keluarga layak"),
    "penerima": N_("Penerima"),
    "anggaran_tahunan": N_("Anggaran tahunan (Rp)"),
    "sumber": N_("Sumber"),
    "jenis": N_("Jenis"),
    "dibaca": N_("Dibaca"),
    "diterima": N_("Diterima"),
    "dengan_peringatan": N_("Dengan peringatan"),
    "ditolak": N_("Ditolak"),
    "karantina": N_("Karantina"),
    "persen_karantina": N_("% karantina"),
    "nik_valid": N_("NIK valid"),
    "status_padan": N_("Status padan"),
    "status": N_("Status"),
    "hidup": N_("Hidup"),
    "model": N_("Model"),
    "dipilih": N_("Dipilih"),
    "n": N_("n (survei)"),
    "exclusion_error_40": N_("Galat eksklusi 40%"),
    "inclusion_error_40": N_("Galat inklusi 40%"),
    "spearman": N_("Spearman"),
    "auc_targeting_curve": N_("AUC kurva penargetan"),
    "interval_coverage": N_("Cakupan interval"),
    "borderline_share": N_("Porsi di batas desil"),
    "dimensi": N_("Dimensi"),
    "kelompok": N_("Kelompok"),
    "need": N_("Porsi miskin"),
    "selected": N_("Porsi terpilih"),
    "parity": N_("Paritas"),
    "exclusion_error": N_("Galat eksklusi"),
    "bagian": N_("Bagian"),
    "perubahan": N_("Perubahan"),
    "sebab_utama": N_("Sebab utama"),
    "jumlah": N_("Jumlah"),
    "terbuka": N_("Kasus terbuka"),
    "tanggap_lewat": N_("Belum ditanggapi, lewat tenggat"),
    "selesai_lewat": N_("Belum selesai, lewat tenggat"),
}
STATUS_PADAN = {
    1: N_("Padan"),
    2: N_("Tidak padan"),
    3: N_("NIK tidak valid"),
    4: N_("NIK ganda"),
    5: N_("Meninggal"),
    6: N_("Pindah"),
    7: N_("Tidak ditemukan"),
    8: N_("Anggota baru"),
}


# -- the snapshot's aggregate tables, once per snapshot and process ---------------------------------------------
_CACHE: dict[tuple[str, str], dict[str, pa.Table]] = {}
_CACHE_LOCK = threading.Lock()
CACHE_SNAPSHOTS = 4


def snapshot_tables(data_dir: Path, ref: str) -> dict[str, pa.Table] | None:
    """The aggregate tables of snapshot ``ref`` under ``data_dir`` (None when it is not on disk)."""
    from dtsen.cycle import aggregates
    from dtsen.cycle.snapshot import SnapshotError, open_snapshot

    key = (str(Path(data_dir).resolve()), ref)
    with _CACHE_LOCK:
        if key in _CACHE:
            return _CACHE[key]
        try:
            tables = aggregates.read(open_snapshot(ref, Path(data_dir)), Path(data_dir))
        except (SnapshotError, OSError):
            return None
        while len(_CACHE) >= CACHE_SNAPSHOTS:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = tables
        return tables


# -- scoping and levels -------------------------------------------------------------------------------------------
def levels(principal: Principal) -> tuple[str, str]:
    """(chart level, table level) for a principal: national by province and kab/kota, a kab/kota by
    kab/kota and kecamatan, a desa by desa."""
    if principal.national or not principal.regions:
        return "kode_prov", "kode_kab"
    order = ["kode_prov", "kode_kab", "kode_kec", "kode_desa"]
    top = REGION_COLUMN.get(min(len(r) for r in principal.regions), "kode_desa")
    detail = order[min(order.index(top) + 1, len(order) - 1)]
    return top, detail


def scope_sql(principal: Principal, columns: Sequence[str]) -> tuple[str, list[str]]:
    """A DuckDB WHERE condition with its parameters: the same rule as :func:`dtsen.auth.scope.region_clause`
    (national: everything; otherwise a row whose region column of each bound code's level equals it)."""
    if principal.national:
        return "TRUE", []
    parts, params = [], []
    for region in principal.regions:
        column = REGION_COLUMN.get(len(region))
        if column is None or column not in columns:
            continue
        parts.append(f"{column} = ?")
        params.append(region)
    return ("(" + " OR ".join(parts) + ")", params) if parts else ("FALSE", [])


@dataclass
class View:
    """One request's reading of the aggregates."""

    principal: Principal
    tables: dict[str, pa.Table]
    session: Session
    now: datetime
    lang: str
    top: str = ""
    detail: str = ""
    con: duckdb.DuckDBPyConnection = field(init=False)

    def __post_init__(self) -> None:
        self.top, self.detail = levels(self.principal)
        self.con = duckdb.connect(config={"threads": 1})
        for name, table in self.tables.items():
            self.con.register(name, table)

    def t(self, message: str) -> str:
        return i18n.gettext(self.lang, message)

    def query(
        self, table: str, select_sql: str, group: Sequence[str], *, scoped: bool = True
    ) -> list[dict[str, Any]]:
        """``SELECT group..., select_sql FROM table WHERE scope GROUP BY group ORDER BY group`` as dicts."""
        if table not in self.tables:
            return []
        condition, params = (
            scope_sql(self.principal, self.tables[table].schema.names) if scoped else ("TRUE", [])
        )
        keys = ", ".join(group)
        head = f"{keys}, " if keys else ""
        tail = f" GROUP BY {keys} ORDER BY {keys} NULLS LAST" if keys else ""
        sql = f"SELECT {head}{select_sql} FROM {table} WHERE {condition}{tail}"  # noqa: S608 - constant names
        relation = self.con.execute(sql, params)
        names = [d[0] for d in relation.description]
        return [dict(zip(names, row, strict=True)) for row in relation.fetchall()]

    def close(self) -> None:
        self.con.close()


def _named(rows: list[dict[str, Any]], column: str) -> list[dict[str, Any]]:
    """Each row with ``nama_wilayah`` after its region code (names from the reference table)."""
    return [{column: r[column], "nama_wilayah": region_name(r[column]), **{k: v for k, v in r.items() if k != column}}
            for r in rows]  # fmt: skip


# -- the datasets (the same rows feed the page's tables and the CSV downloads) -----------------------------------
def desil(view: View, level: str) -> list[dict[str, Any]]:
    rows = view.query("desil_wilayah", "sum(keluarga)::BIGINT AS keluarga, sum(jiwa)::BIGINT AS jiwa",
                      [level, "desil"])  # fmt: skip
    return _named(rows, level)


def program(view: View, level: str) -> list[dict[str, Any]]:
    rows = view.query(
        "program_wilayah",
        "sum(keluarga_dinilai)::BIGINT AS keluarga_dinilai, sum(keluarga_layak)::BIGINT AS keluarga_layak, "
        "sum(penerima)::BIGINT AS penerima, sum(anggaran_tahunan)::BIGINT AS anggaran_tahunan",
        ["program", level],
    )
    return _named(rows, level) if level else rows


def padan(view: View, level: str) -> list[dict[str, Any]]:
    rows = view.query("padan", "sum(jiwa)::BIGINT AS jiwa", [level, "status_padan", "hidup"])
    return _named(rows, level)


def quality(view: View, _level: str) -> list[dict[str, Any]]:
    rows = view.query("kualitas", "*", [], scoped=False)
    for row in rows:
        read = row.get("dibaca") or 0
        row["persen_karantina"] = round(100 * (row.get("karantina") or 0) / read, 2) if read else None
    return rows


def quality_codes(view: View, _level: str) -> list[dict[str, Any]]:
    return view.query(
        "kualitas_kode", "sum(jumlah)::BIGINT AS jumlah", ["sumber", "jenis", "kode"], scoped=False
    )


def accuracy(view: View, _level: str) -> list[dict[str, Any]]:
    return view.query("model_akurasi", "*", [], scoped=False)


def coverage(view: View, _level: str) -> list[dict[str, Any]]:
    return view.query("model_cakupan", "*", [], scoped=False)


def fairness(view: View, _level: str) -> list[dict[str, Any]]:
    return view.query("model_keadilan", "*", [], scoped=False)


def changes(view: View, _level: str) -> list[dict[str, Any]]:
    rows = view.query("perubahan", "sum(jumlah)::BIGINT AS jumlah",
                      ["bagian", "perubahan", "sebab_utama", "kode_kab"])  # fmt: skip
    return _named(rows, "kode_kab")


def sla(view: View, level: str) -> list[dict[str, Any]]:
    """Open cases, and those past their acknowledgement or resolution deadline, by region (live)."""
    now, column = view.now, getattr(WorkflowCase, level)
    open_ = WorkflowCase.closed_at.is_(None)
    ack_late = and_(open_, WorkflowCase.acknowledged_at.is_(None), WorkflowCase.ack_due_at < now)
    due_late = and_(open_, WorkflowCase.due_at < now)
    statement = (
        select(column, func.sum(case((open_, 1), else_=0)), func.sum(case((ack_late, 1), else_=0)),
               func.sum(case((due_late, 1), else_=0)))
        .where(region_clause(view.principal, WorkflowCase.__table__))  # type: ignore[arg-type]
        .group_by(column).order_by(column)
    )  # fmt: skip
    rows = [
        {level: kode, "terbuka": int(a or 0), "tanggap_lewat": int(b or 0), "selesai_lewat": int(c or 0)}
        for kode, a, b, c in view.session.execute(statement)
    ]
    view.session.commit()
    return _named(rows, level)


# name -> (dataset, at the table level (True) or the chart level)
DATASETS: dict[str, Callable[[View, str], list[dict[str, Any]]]] = {
    "desil": desil,
    "program": program,
    "kualitas": quality,
    "kualitas_kode": quality_codes,
    "padan": padan,
    "model": accuracy,
    "model_cakupan": coverage,
    "keadilan": fairness,
    "perubahan": changes,
    "sla": sla,
}


# -- charts -----------------------------------------------------------------------------------------------------
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
            x=[100 * (r["coverage"] or 0) for r in points], y=[100 * (r["exclusion_error"] or 0) for r in points],
            mode="lines+markers", name=name + (f" ({view.t(N_('dipilih'))})" if name == chosen else ""),
        )  # fmt: skip
    fig.update_layout(xaxis_title=view.t(N_("Cakupan program (% terbawah)")),
                      yaxis_title=view.t(N_("% miskin tidak terjangkau")))  # fmt: skip
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


# -- the page -----------------------------------------------------------------------------------------------------
def _table(view: View, rows: list[dict[str, Any]], limit: int = 60) -> dict[str, Any]:
    columns = list(rows[0]) if rows else []
    shown = []
    for row in rows[:limit]:
        item = dict(row)
        if "status_padan" in item:
            item["status_padan"] = view.t(STATUS_PADAN.get(item["status_padan"], N_("Tanpa status")))
        if "desil" in item and item["desil"] is None:
            item["desil"] = view.t(UNRANKED)
        shown.append(item)
    return {"columns": [(c, view.t(LABELS.get(c, c))) for c in columns], "rows": shown,
            "more": max(0, len(rows) - limit)}  # fmt: skip


def sections(view: View) -> list[dict[str, Any]]:
    top, detail = view.top, view.detail
    out: list[dict[str, Any]] = []

    def add(key: str, title: str, note: str | None, charts: list[str | None], rows: list[dict[str, Any]],
            downloads: Sequence[str]) -> None:  # fmt: skip
        out.append({"id": key, "title": view.t(title), "note": view.t(note) if note else None,
                    "charts": [c for c in charts if c], "table": _table(view, rows),
                    "downloads": [(name, f"/staf/analisis/{name}.csv") for name in downloads]})  # fmt: skip

    top_desil = desil(view, top)
    add("desil", N_("Sebaran desil nasional"),
        N_("Porsi jiwa per desil nasional; tabel dan unduhan per wilayah di bawahnya."),
        [desil_chart(view, top_desil)], desil(view, detail), ["desil"])  # fmt: skip
    add("program", N_("Program dan anggaran per wilayah"),
        N_("Keluarga layak, penerima dan anggaran tahunan menurut keputusan kelayakan snapshot ini."),
        [program_chart(view, program(view, top))], program(view, detail), ["program"])  # fmt: skip
    add("kualitas", N_("Kualitas data per sumber"),
        N_("Baris berkas sumber yang dibekukan untuk siklus ini: diterima, dengan peringatan, ditolak dan "
           "dikarantina. Angka ini tentang berkas sumber nasional, bukan per wilayah."),
        [quality_chart(view, quality(view, ""))], quality(view, ""), ["kualitas", "kualitas_kode"])  # fmt: skip
    add("padan", N_("Status penautan Dukcapil"),
        N_("Jiwa menurut status padan: padan, NIK ganda, NIK tidak valid, meninggal, pindah, tidak ditemukan."),
        [padan_chart(view, padan(view, top))], padan(view, detail), ["padan"])  # fmt: skip
    acc = accuracy(view, "")
    chosen = next((r["model"] for r in acc if r.get("dipilih")), None)
    fair = fairness(view, "")
    add("model", N_("Akurasi dan keadilan model kesejahteraan"),
        N_("Diukur pada sampel survei yang disisihkan: galat eksklusi menurut cakupan, dan paritas per kelompok "
           "(porsi terpilih dibanding porsi miskin; 1 berarti setara)."),
        [model_chart(view, coverage(view, ""), chosen), fairness_chart(view, fair, chosen)], acc,
        ["model", "model_cakupan", "keadilan"])  # fmt: skip
    add("perubahan", N_("Perubahan dari periode sebelumnya"),
        N_("Keluarga dan penerima program yang masuk, keluar atau berpindah desil, menurut sebab utama."),
        [changes_chart(view, changes(view, ""))], changes(view, ""), ["perubahan"])  # fmt: skip
    add("sla", N_("Tenggat layanan kasus (SLA)"),
        N_("Kasus terbuka dan yang lewat tenggat tanggapan atau penyelesaian, saat ini."),
        [sla_chart(view, sla(view, top))], sla(view, detail), ["sla"])  # fmt: skip
    return out


def _open_view(request: Request, principal: Principal, session: Session) -> tuple[View | None, str | None]:
    from dtsen.store.registry import current_snapshot

    served = current_snapshot(session)
    session.commit()
    if served is None:
        return None, None
    tables = snapshot_tables(request.app.state.settings.data_dir, served.ref)
    if tables is None:
        return None, served.ref
    view = View(principal, tables, session, clock_of(request.app)(), i18n.language_of(request))
    return view, served.ref


def plotly_bundle() -> Path:
    from plotly.offline import offline

    return Path(offline.__file__).parent.parent / "package_data" / "plotly.min.js"


@dataclass(frozen=True)
class PlotlyStyle:
    """Rules plotly.js would inject in a ``<style>`` element, and the element (id, class) whose presence
    on the page makes it not do so."""

    element_id: str
    css: str
    element_class: str = ""


# plotly.js's own rules (src/css, built into an object of selector -> declarations, "X" standing for the
# plot and "Y" for the notifier), added one by one unless #plotly.js-style-global.no-inline-styles exists.
_RULES_RE = re.compile(r"""=\{("X,X div":.*?)\}""", re.S)
_PAIR_RE = re.compile(r"""("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'):("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')""")
# A bundled library's stylesheet, injected at load unless an element of its id exists.
_SHEET_RE = re.compile(
    r"""getElementById\("([0-9a-f]{64})"\)\)\{var (\w+)=document\.createElement\("style"\);"""
    r"""\2\.id="\1",\2\.textContent='((?:[^'\\]|\\.)*)'"""
)


def _js_string(literal: str) -> str:
    body = literal[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


@functools.cache
def plotly_styles() -> tuple[PlotlyStyle, ...]:
    """The stylesheets plotly.js of the installed bundle would inject, read from the bundle once per
    process. An empty tuple if its layout is not recognised: the charts are then drawn unstyled (the
    CSP blocks the injection) rather than the page breaking."""
    text = plotly_bundle().read_text(encoding="utf-8")
    styles: list[PlotlyStyle] = []
    rules = _RULES_RE.search(text)
    if rules:
        lines = []
        for selector, declarations in _PAIR_RE.findall(rules.group(1)):
            full = re.sub(r"^,", " ,", _js_string(selector))
            full = full.replace("X", ".js-plotly-plot .plotly").replace("Y", ".plotly-notifier")
            lines.append(f"{full}{{{_js_string(declarations)}}}")
        if lines:
            styles.append(PlotlyStyle("plotly.js-style-global", "\n".join(lines) + "\n", "no-inline-styles"))
    for element_id, _name, css in _SHEET_RE.findall(text):
        styles.append(PlotlyStyle(element_id, _js_string("'" + css + "'") + "\n"))
    return tuple(styles)


@router.get("/staf/analisis/plotly.min.js", include_in_schema=False, summary="plotly.js")
def plotly_js(_principal: Principal = Depends(requires("stats.read"))) -> FileResponse:
    """plotly.js of the installed plotly package (no CDN); cached by the browser, never by a proxy."""
    return FileResponse(
        plotly_bundle(), media_type="text/javascript", headers={"cache-control": "private, max-age=86400"}
    )


@router.get("/staf/analisis/plotly-gaya-{index}.css", include_in_schema=False, summary="plotly.js CSS")
def plotly_css(index: int, _principal: Principal = Depends(requires("stats.read"))) -> Response:
    """One of :func:`plotly_styles` as a stylesheet (what plotly.js would have injected inline)."""
    styles = plotly_styles()
    if not 0 <= index < len(styles):
        return Response(status_code=404)
    return Response(styles[index].css, media_type="text/css; charset=utf-8",
                    headers={"cache-control": "private, max-age=86400"})  # fmt: skip


@router.get("/staf/analisis", response_class=HTMLResponse, summary="Dasbor analisis")
def dashboard_page(
    request: Request,
    principal: Principal = Depends(requires("stats.read")),
    session: Session = Depends(db_session),
) -> HTMLResponse:
    import plotly

    view, ref = _open_view(request, principal, session)
    context: dict[str, Any] = {"nav_current": "analisis", "ref": ref, "sections": [], "problem": None,
                               "plotly_version": plotly.__version__, "plotly_styles": plotly_styles(),
                               "regions": [{"kode": k, "nama": region_name(k)} for k in principal.regions]}  # fmt: skip
    if view is None:
        context["problem"] = i18n.gettext(i18n.language_of(request), NO_SNAPSHOT)
        return render(request, "staff/analisis.html", context)
    try:
        context["sections"] = sections(view)
    finally:
        view.close()
    return render(request, "staff/analisis.html", context)


@router.get("/staf/analisis/{name}.csv", summary="Unduh tabel dasbor analisis (CSV)")
def dashboard_csv(
    name: str,
    request: Request,
    principal: Principal = Depends(requires("stats.read")),
    session: Session = Depends(db_session),
) -> Response:
    lang = i18n.language_of(request)
    if name not in DATASETS:
        return error_response(request, 404, i18n.say(lang, UNKNOWN_TABLE, {"nama": name[:40]}))
    view, ref = _open_view(request, principal, session)
    if view is None:
        return error_response(request, 404, i18n.gettext(lang, NO_SNAPSHOT))
    try:
        level = view.detail if name in {"desil", "program", "padan", "sla"} else ""
        rows = DATASETS[name](view, level)
    finally:
        view.close()
    buffer = io.StringIO()
    columns = list(rows[0]) if rows else []
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    filename = f"dtsen-{name}-{(ref or '').replace('/', '-')}.csv"
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8",
                    headers={"content-disposition": f'attachment; filename="{filename}"'})  # fmt: skip

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
import io
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from sqlalchemy.orm import Session

from dtsen.api.dashboard_charts import (
    changes_chart,
    desil_chart,
    fairness_chart,
    model_chart,
    padan_chart,
    program_chart,
    quality_chart,
    sla_chart,
)
from dtsen.api.dashboard_data import (
    DATASETS,
    LABELS,
    STATUS_PADAN,
    UNRANKED,
    View,
    accuracy,
    changes,
    coverage,
    desil,
    fairness,
    padan,
    program,
    quality,
    sla,
    snapshot_tables,
)
from dtsen.api.deps import db_session
from dtsen.api.display import region_name
from dtsen.api.errors import error_response
from dtsen.api.plotly_assets import plotly_bundle, plotly_styles
from dtsen.auth.deps import requires
from dtsen.auth.policy import clock_of
from dtsen.auth.scope import Principal
from dtsen.web import i18n
from dtsen.web.i18n import N_
from dtsen.web.templating import render

router = APIRouter(tags=["analisis"])

NO_SNAPSHOT = N_("Belum ada snapshot yang dilayani, atau berkasnya tidak ditemukan di direktori data.")
UNKNOWN_TABLE = N_("Tabel %(nama)s tidak ada. Pilih salah satu unduhan di halaman analisis.")


# -- the page ------------------------------------------------------------------------------------------------
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
    return {
        "columns": [(c, view.t(LABELS.get(c, c))) for c in columns],
        "rows": shown,
        "more": max(0, len(rows) - limit),
    }


def sections(view: View) -> list[dict[str, Any]]:
    top, detail = view.top, view.detail
    out: list[dict[str, Any]] = []

    def add(
        key: str,
        title: str,
        note: str | None,
        charts: list[str | None],
        rows: list[dict[str, Any]],
        downloads: Sequence[str],
    ) -> None:
        out.append(
            {
                "id": key,
                "title": view.t(title),
                "note": view.t(note) if note else None,
                "charts": [c for c in charts if c],
                "table": _table(view, rows),
                "downloads": [(name, f"/staf/analisis/{name}.csv") for name in downloads],
            }
        )

    top_desil = desil(view, top)
    add(
        "desil",
        N_("Sebaran desil nasional"),
        N_("Porsi jiwa per desil nasional; tabel dan unduhan per wilayah di bawahnya."),
        [desil_chart(view, top_desil)],
        desil(view, detail),
        ["desil"],
    )
    add(
        "program",
        N_("Program dan anggaran per wilayah"),
        N_("Keluarga layak, penerima dan anggaran tahunan menurut keputusan kelayakan snapshot ini."),
        [program_chart(view, program(view, top))],
        program(view, detail),
        ["program"],
    )
    add(
        "kualitas",
        N_("Kualitas data per sumber"),
        N_(
            "Baris berkas sumber yang dibekukan untuk siklus ini: diterima, dengan peringatan, ditolak dan "
            "dikarantina. Angka ini tentang berkas sumber nasional, bukan per wilayah."
        ),
        [quality_chart(view, quality(view, ""))],
        quality(view, ""),
        ["kualitas", "kualitas_kode"],
    )
    add(
        "padan",
        N_("Status penautan Dukcapil"),
        N_(
            "Jiwa menurut status padan: padan, NIK ganda, NIK tidak valid, meninggal, pindah, tidak "
            "ditemukan."
        ),
        [padan_chart(view, padan(view, top))],
        padan(view, detail),
        ["padan"],
    )
    acc = accuracy(view, "")
    chosen = next((r["model"] for r in acc if r.get("dipilih")), None)
    fair = fairness(view, "")
    add(
        "model",
        N_("Akurasi dan keadilan model kesejahteraan"),
        N_(
            "Diukur pada sampel survei yang disisihkan: galat eksklusi menurut cakupan, dan paritas per "
            "kelompok (porsi terpilih dibanding porsi miskin; 1 berarti setara)."
        ),
        [model_chart(view, coverage(view, ""), chosen), fairness_chart(view, fair, chosen)],
        acc,
        ["model", "model_cakupan", "keadilan"],
    )
    add(
        "perubahan",
        N_("Perubahan dari periode sebelumnya"),
        N_("Keluarga dan penerima program yang masuk, keluar atau berpindah desil, menurut sebab utama."),
        [changes_chart(view, changes(view, ""))],
        changes(view, ""),
        ["perubahan"],
    )
    add(
        "sla",
        N_("Tenggat layanan kasus (SLA)"),
        N_("Kasus terbuka dan yang lewat tenggat tanggapan atau penyelesaian, saat ini."),
        [sla_chart(view, sla(view, top))],
        sla(view, detail),
        ["sla"],
    )
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
    return Response(
        styles[index].css,
        media_type="text/css; charset=utf-8",
        headers={"cache-control": "private, max-age=86400"},
    )


@router.get("/staf/analisis", response_class=HTMLResponse, summary="Dasbor analisis")
def dashboard_page(
    request: Request,
    principal: Principal = Depends(requires("stats.read")),
    session: Session = Depends(db_session),
) -> HTMLResponse:
    import plotly

    view, ref = _open_view(request, principal, session)
    context: dict[str, Any] = {
        "nav_current": "analisis",
        "ref": ref,
        "sections": [],
        "problem": None,
        "plotly_version": plotly.__version__,
        "plotly_styles": plotly_styles(),
        "regions": [{"kode": k, "nama": region_name(k)} for k in principal.regions],
    }
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
    return Response(
        buffer.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )

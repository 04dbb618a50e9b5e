"""The cycle report: what the published snapshot holds, how good its inputs were, what changed.

One JSON (for machines and the next cycle's comparison) and one self-contained HTML page with charts
(for the BPS team and ministry analysts): desil by province, program counts and budgets, data quality
per source, linkage, accuracy of the welfare model, the period diff and the time each step took.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import polars as pl

from dtsen import charts
from dtsen.cycle.snapshot import Snapshot
from dtsen.reference import regions


def _province_names() -> dict[str, str]:
    frame = regions.regions()
    provs = frame.filter(pl.col("kode").str.len_chars() == 2)
    return dict(zip(provs["kode"].to_list(), provs["nama"].to_list(), strict=True))


def _batch_quality(inputs: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for mapping, batch in sorted(inputs.get("batches", {}).items()):
        report_path = Path(batch["directory"]) / "report.json"
        if not report_path.exists():
            continue
        rep = json.loads(report_path.read_text(encoding="utf-8"))
        rows.append(
            {
                "sumber": mapping,
                "dibaca": rep.get("rows_read", 0),
                "diterima": rep.get("accepted", 0),
                "dengan_peringatan": rep.get("accepted_with_warnings", 0),
                "ditolak": rep.get("rejected", 0),
                "nik_valid": rep.get("nik_valid_rate"),
            }
        )
    return rows


def _welfare(snapshot: Snapshot, summary: dict[str, Any]) -> dict[str, Any]:
    """Held-out accuracy of the model that ranked this snapshot, baseline and challenger side by side."""
    from dtsen.welfare import registry

    version = snapshot.manifest.get("model_version")
    out: dict[str, Any] = {"versi_model": version, "training_seconds": summary.get("training_seconds")}
    try:
        model = registry.load(version, snapshot.path.parents[2])
    except Exception:  # the registry may have been pruned; the snapshot still carries the version
        return out
    out["dipilih"] = model.chosen
    out["held_out"] = {
        name: {
            k: m.get(k)
            for k in (
                "n",
                "exclusion_error_40",
                "inclusion_error_40",
                "spearman",
                "auc_targeting_curve",
                "interval_coverage",
                "borderline_share",
            )
        }
        | {"by_coverage": m.get("by_coverage", [])}
        for name, m in model.metrics.get("held_out", {}).items()
    }
    return out


def _ranking_status(scores: pl.DataFrame) -> dict[str, Any]:
    """Families ranked and not ranked (by reason), overall and per kab/kota (dtsen.welfare.rankable)."""
    from dtsen.welfare.integrity import status_by_region
    from dtsen.welfare.rankable import RANKED

    if "status_peringkat" not in scores.columns:
        return {}
    reasons = (
        scores.group_by(alasan=pl.col("alasan_tidak_diperingkat").fill_null(RANKED))
        .agg(pl.len().alias("keluarga"), pl.col("jumlah_anggota").sum().alias("jiwa"))
        .sort("alasan")
    )
    return {"total": reasons.to_dicts(), "per_kabkota": status_by_region(scores, "kode_kab")}


def build(snapshot: Snapshot, state: dict[str, Any], diff: dict[str, Any] | None) -> dict[str, Any]:
    """The report's figures as plain data (the JSON)."""
    families = pl.read_parquet(snapshot.file("families.parquet"))
    persons = pl.read_parquet(snapshot.file("persons.parquet"), columns=["status_hidup", "status_padan"])
    scores = pl.read_parquet(snapshot.file("scores.parquet"))
    steps = state.get("steps", {})
    freeze = steps.get("freeze", {}).get("summary", {})
    desil = (
        scores.filter(pl.col("desil_nasional").is_not_null())
        .group_by("kode_prov", "desil_nasional")
        .agg(pl.col("jumlah_anggota").sum().alias("jiwa"), pl.len().alias("keluarga"))
        .sort("kode_prov", "desil_nasional")
    )
    eligibility = (
        pl.read_parquet(snapshot.file("eligibility.parquet")) if snapshot.has("eligibility.parquet") else None
    )
    programs: list[dict[str, Any]] = []
    if eligibility is not None:
        programs = (
            eligibility.group_by("program")
            .agg(
                pl.col("layak").sum().alias("keluarga_layak"),
                pl.col("jumlah_penerima").filter(pl.col("layak")).sum().alias("penerima"),
                pl.col("nilai_tahunan").filter(pl.col("layak")).sum().alias("anggaran_tahunan"),
            )
            .sort("program")
            .to_dicts()
        )
    budget_by_prov: list[dict[str, Any]] = []
    if eligibility is not None:
        budget_by_prov = (
            eligibility.filter(pl.col("layak"))
            .group_by("program", "kode_prov")
            .agg(pl.col("nilai_tahunan").sum().alias("anggaran_tahunan"))
            .sort("program", "kode_prov")
            .to_dicts()
        )
    status_counts = (
        persons.group_by("status_padan").agg(pl.len().alias("jiwa")).sort("status_padan").to_dicts()
        if "status_padan" in persons.columns
        else []
    )
    return {
        "snapshot": snapshot.ref,
        "created_at": snapshot.manifest.get("created_at"),
        "model_version": snapshot.manifest.get("model_version"),
        "totals": {
            "keluarga": families.height,
            "jiwa": persons.height,
            "jiwa_hidup": int(persons["status_hidup"].fill_null(True).sum())
            if "status_hidup" in persons.columns
            else None,
            "keluarga_borderline": int(scores["borderline"].sum())
            if "borderline" in scores.columns
            else None,
        },
        "desil_by_province": desil.to_dicts(),
        "ranking_status": _ranking_status(scores),
        "programs": programs,
        "budget_by_province": budget_by_prov,
        "data_quality": _batch_quality(freeze.get("inputs", {})) if freeze else [],
        "linkage": steps.get("link", {}).get("summary", {}),
        "status_padan": status_counts,
        "events_corrections": steps.get("apply_events", {}).get("summary", {}),
        "welfare": _welfare(snapshot, steps.get("score", {}).get("summary", {})),
        "diff": diff,
        "step_seconds": {name: rec.get("seconds") for name, rec in steps.items()},
    }


def _desil_chart(data: dict[str, Any], names: dict[str, str]) -> str:
    frame = pl.DataFrame(data["desil_by_province"])
    if frame.is_empty():
        return ""
    # provinces holding under 1% of the persons (families registered away from the synthetic region, say)
    # are grouped, so the chart shows the regions the snapshot is about
    frame = frame.with_columns(pl.col("kode_prov").fill_null("?"))
    share = frame.group_by("kode_prov").agg(pl.col("jiwa").sum())
    share = share.with_columns(s=pl.col("jiwa") / pl.col("jiwa").sum())
    small = sorted(share.filter(pl.col("s") < 0.01)["kode_prov"].to_list())
    if small and len(small) < share.height:
        grouped = (
            pl.when(pl.col("kode_prov").is_in(small)).then(pl.lit("lain")).otherwise(pl.col("kode_prov"))
        )
        frame = (
            frame.with_columns(kode_prov=grouped)
            .group_by("kode_prov", "desil_nasional")
            .agg(pl.col("jiwa").sum(), pl.col("keluarga").sum())
            .sort("kode_prov", "desil_nasional")
        )
        names = {**names, "lain": f"Lainnya ({len(small)} provinsi, <1% jiwa)"}
    frame = frame.with_columns(
        (pl.col("jiwa") / pl.col("jiwa").sum().over("kode_prov") * 100).alias("persen")
    )
    fig = go.Figure()
    for d in range(1, 11):
        part = frame.filter(pl.col("desil_nasional") == d)
        fig.add_bar(
            y=[names.get(k, k) for k in part["kode_prov"].to_list()],
            x=part["persen"].to_list(),
            name=f"desil {d}",
            orientation="h",
            marker_color=f"hsl({int(10 + d * 12)},65%,{30 + d * 5}%)",
        )
    fig.update_layout(barmode="stack", xaxis_title="% jiwa (persons)", legend_orientation="h")
    n = frame["kode_prov"].n_unique()
    return charts.figure(fig, height=max(300, 26 * n + 120))


def _bar(x: list[Any], y: list[Any], title: str, *, horizontal: bool = False) -> str:
    fig = go.Figure(go.Bar(x=y, y=x, orientation="h") if horizontal else go.Bar(x=x, y=y))
    fig.update_layout(title=title)
    return charts.figure(fig, height=320)


def render_html(data: dict[str, Any]) -> str:
    names = _province_names()
    totals = data["totals"]
    sections = [
        charts.section(
            "Ringkasan",
            "Summary",
            charts.cards(
                [
                    ("keluarga / families", totals["keluarga"]),
                    ("jiwa / persons", totals["jiwa"]),
                    ("jiwa hidup / living", totals["jiwa_hidup"]),
                    ("keluarga di batas desil / borderline", totals["keluarga_borderline"]),
                ]
            ),
            f'<p class="note">Snapshot {data["snapshot"]} · model {data["model_version"]} · '
            f"{data['created_at']}</p>",
        ),
        charts.section(
            "Sebaran desil nasional per provinsi",
            "National desil by province (share of persons)",
            _desil_chart(data, names),
        ),
    ]
    ranking = data.get("ranking_status") or {}
    if ranking.get("total"):
        total = ranking["total"]
        sections.append(
            charts.section(
                "Status peringkat keluarga",
                "Ranking status (families not ranked get no desil and no automatic program)",
                _bar([r["alasan"] for r in total], [r["keluarga"] for r in total], "Keluarga / families"),
                charts.table(total),
                charts.table(ranking["per_kabkota"]),
                '<p class="note">tanpa_observasi: belum ada data rumah/aset dari pendataan lapangan; '
                "tanpa_kepala_dewasa: tidak ada anggota berumur 15+; tanpa_anggota: tidak ada anggota "
                "hidup. Keluarga ini masuk antrean pendataan/verval.</p>",
            )
        )
    if data["programs"]:
        progs = data["programs"]
        sections.append(
            charts.section(
                "Program: penerima dan anggaran",
                "Programs: beneficiaries and budget",
                _bar(
                    [p["program"] for p in progs],
                    [p["keluarga_layak"] for p in progs],
                    "Keluarga layak / eligible families",
                ),
                _bar(
                    [p["program"] for p in progs],
                    [p["anggaran_tahunan"] for p in progs],
                    "Anggaran tahunan (Rp) / yearly budget",
                ),
                charts.table(progs),
            )
        )
    if data["data_quality"]:
        q = data["data_quality"]
        fig = go.Figure()
        for col, label in (
            ("diterima", "diterima"),
            ("dengan_peringatan", "dengan peringatan"),
            ("ditolak", "ditolak"),
        ):
            fig.add_bar(x=[r["sumber"] for r in q], y=[r[col] for r in q], name=label)
        fig.update_layout(barmode="group", title="Baris per sumber / rows per source")
        sections.append(charts.section("Kualitas data", "Data quality", charts.figure(fig), charts.table(q)))
    link = data["linkage"]
    if link or data["status_padan"]:
        parts = []
        if data["status_padan"]:
            from dtsen.canonical.model import StatusPadan

            labels = [
                StatusPadan(r["status_padan"]).label if r["status_padan"] else "-"
                for r in data["status_padan"]
            ]
            parts.append(
                _bar(
                    labels,
                    [r["jiwa"] for r in data["status_padan"]],
                    "Status padan Dukcapil (jiwa)",
                    horizontal=True,
                )
            )
        flat = {k: v for k, v in link.items() if isinstance(v, int | float | str)}
        parts.append(charts.table([{"ukuran": k, "nilai": v} for k, v in flat.items()]))
        sections.append(charts.section("Penautan data", "Linkage", *parts))
    welfare = data["welfare"]
    if welfare.get("held_out"):
        fig = go.Figure()
        rows = []
        for name, m in welfare["held_out"].items():
            cov = m.get("by_coverage", [])
            fig.add_scatter(
                x=[c["coverage"] * 100 for c in cov],
                y=[c["exclusion_error"] * 100 for c in cov],
                mode="lines+markers",
                name=name + (" (dipilih)" if name == welfare.get("dipilih") else ""),
            )
            rows.append({"model": name, **{k: v for k, v in m.items() if k != "by_coverage"}})
        fig.update_layout(
            title="Galat eksklusi menurut cakupan / exclusion error by coverage (held-out survey)",
            xaxis_title="cakupan program (% terbawah) / coverage",
            yaxis_title="% miskin tidak terjangkau",
        )
        sections.append(
            charts.section(
                "Akurasi model kesejahteraan",
                "Welfare model accuracy",
                charts.figure(fig),
                charts.table(rows),
                f'<p class="note">Model {welfare.get("versi_model")}; '
                "dibandingkan pada cakupan yang sama.</p>",
            )
        )
    diff = data.get("diff")
    if diff:
        parts = []
        fam = diff.get("keluarga", {})
        causes = fam.get("sebab", {})
        if causes:
            parts.append(
                _bar(
                    list(causes),
                    list(causes.values()),
                    "Keluarga berubah menurut sebab / families changed, by cause",
                )
            )
        progs = diff.get("program", {})
        if progs:
            fig = go.Figure()
            fig.add_bar(x=list(progs), y=[p.get("masuk", 0) for p in progs.values()], name="masuk / entrants")
            fig.add_bar(x=list(progs), y=[-p.get("keluar", 0) for p in progs.values()], name="keluar / exits")
            fig.update_layout(barmode="relative", title="Penerima masuk dan keluar per program")
            parts.append(charts.figure(fig, height=320))
        flat = [{"ukuran": k, "nilai": v} for k, v in _flatten(diff).items()]
        parts.append(charts.table(flat))
        sections.append(
            charts.section("Perubahan dari periode sebelumnya", "Changes since the previous period", *parts)
        )
    steps = data["step_seconds"]
    sections.append(
        charts.section(
            "Waktu per langkah",
            "Time per step",
            _bar(list(steps), list(steps.values()), "detik / seconds"),
        )
    )
    return charts.page(f"Laporan siklus DTSEN {data['snapshot']}", "DTSEN cycle report", sections)


def _flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(data, dict):
        for k, v in data.items():
            out.update(_flatten(v, f"{prefix}{k}." if prefix or k else k))
    elif isinstance(data, int | float | str) or data is None:
        out[prefix.rstrip(".")] = data
    return out


def write(
    snapshot: Snapshot, state: dict[str, Any], diff: dict[str, Any] | None, out_dir: Path
) -> dict[str, Any]:
    data = build(snapshot, state, diff)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "report.json").write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    (out_dir / "report.html").write_text(render_html(data), encoding="utf-8")
    return data

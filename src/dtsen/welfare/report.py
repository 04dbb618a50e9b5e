"""The accuracy and fairness report (HTML with charts + JSON) and the model card (Markdown).

Charts are Plotly figures; plotly.js is inlined once from the installed package, so the page works
offline and never calls a CDN. Everything shown comes from the model's stored metrics (held-out survey)
and, when given, an evaluation of registry scores against ground truth (synthetic data).
"""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from jinja2 import Environment, Undefined, select_autoescape
from plotly.offline import get_plotlyjs

from dtsen import atomic
from dtsen.welfare import registry
from dtsen.welfare.intervals import LEVEL

NAMES = {
    registry.BASELINE: "OLS stepwise + efek wilayah (baseline PMT)",
    registry.CHALLENGER: "LightGBM monoton (challenger)",
    registry.QUANTILE: "LightGBM kuantil 40% (challenger)",
    registry.ADMIN: "LightGBM data administratif",
    "ols_efek_wilayah": "OLS biasa + efek tetap setiap wilayah (pembanding)",
}
DEFINITIONS = (
    "Definisi standar (Coady-Grosh-Hoddinott; Brown, Ravallion & van de Walle 2018): pada cakupan c, "
    "program memilih c% terbawah menurut perkiraan model dan kelompok sasaran adalah c% terbawah menurut "
    "konsumsi sebenarnya. Exclusion error = sasaran yang tidak terpilih / sasaran; inclusion error = "
    "terpilih yang bukan sasaran / terpilih (pada c yang sama keduanya hampir sama). AUC kurva penargetan: "
    "porsi 40% termiskin yang terjangkau saat cakupan naik dari 0 ke 100% (acak 0,5; sempurna 0,8)."
)


def _pct(value: Any) -> str:
    return (
        "-"
        if value is None or isinstance(value, Undefined) or (isinstance(value, float) and math.isnan(value))
        else f"{100 * value:.1f}%"
    )


def _num(value: Any, digits: int = 3) -> str:
    return (
        "-"
        if value is None or isinstance(value, Undefined) or (isinstance(value, float) and math.isnan(value))
        else f"{value:.{digits}f}"
    )


def _coverage_chart(sections: dict[str, dict[str, Any]]) -> go.Figure:
    fig = go.Figure()
    for label, per_model in sections.items():
        for name, m in per_model.items():
            rows = m["by_coverage"]
            fig.add_trace(
                go.Scatter(
                    x=[100 * r["coverage"] for r in rows],
                    y=[100 * r["exclusion_error"] for r in rows],
                    mode="lines+markers",
                    name=f"{NAMES.get(name, name)} - {label}",
                )
            )
    fig.update_layout(
        title="Exclusion error menurut cakupan program (sasaran = c% termiskin sebenarnya)",
        xaxis_title="cakupan (% penduduk terpilih)",
        yaxis_title="exclusion error (%)",
        template="plotly_white",
        height=420,
    )
    return fig


def _parity_chart(audit: list[dict[str, Any]], title: str) -> go.Figure:
    rows = [r for r in audit if r["dimensi"] != "provinsi"]
    prov = sorted((r for r in audit if r["dimensi"] == "provinsi"), key=lambda r: r["kelompok"])
    rows += prov
    fig = go.Figure(
        go.Bar(
            x=[f"{r['dimensi']}: {r['kelompok']}" for r in rows],
            y=[r["parity"] for r in rows],
            marker_color=["#c0392b" if r["parity"] < 0.8 else "#2e86c1" for r in rows],
        )
    )
    fig.add_hline(y=1.0, line_dash="dash")
    fig.update_layout(title=title, yaxis_title="seleksi / kebutuhan", template="plotly_white", height=460)
    return fig


def _importance_chart(importance: list[dict[str, Any]], title: str) -> go.Figure:
    top = importance[:15][::-1]
    fig = go.Figure(
        go.Bar(x=[r["rata_abs_kontribusi"] for r in top], y=[r["fitur"] for r in top], orientation="h")
    )
    fig.update_layout(
        title=title,
        xaxis_title="rata-rata |kontribusi| (log pengeluaran)",
        template="plotly_white",
        height=480,
    )
    return fig


def _interval_chart(sections: dict[str, dict[str, Any]]) -> go.Figure:
    labels, values = [], []
    for label, per_model in sections.items():
        for name, m in per_model.items():
            if m.get("interval_coverage") is not None:
                labels.append(f"{name} - {label}")
                values.append(100 * m["interval_coverage"])
    fig = go.Figure(go.Bar(x=labels, y=values))
    fig.add_hline(y=100 * LEVEL, line_dash="dash", annotation_text=f"nominal {int(100 * LEVEL)}%")
    fig.update_layout(
        title="Cakupan interval prediksi: nominal vs aktual",
        yaxis_title="%",
        template="plotly_white",
        height=380,
    )
    return fig


TEMPLATE = """<!doctype html>
<html lang="id"><head><meta charset="utf-8"><title>Laporan akurasi dan keadilan model kesejahteraan \
{{ version }}</title>
<script>{{ plotlyjs | safe }}</script>
<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}\
table{border-collapse:collapse;margin:1em 0}
td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th{background:#eee}\
td:first-child{text-align:left}
.note{background:#fff8e1;padding:8px;border-left:4px solid #f1c40f}</style></head><body>
<h1>Laporan akurasi dan keadilan: model kesejahteraan {{ version }}</h1>
<p>Dibuat {{ created }}. Survei pelatihan: <b>{{ survey }}</b> (hash data {{ data_hash[:12] }}).
Model terpilih untuk pemeringkatan: <b>{{ chosen_name }}</b>.</p>
<p class="note">{{ verdict }}</p>
<p>{{ definitions }} Bobot: {{ weighting }}.</p>
{% if kfold %}
<h2>Validasi silang {{ kfold.k }}-lipat ({{ kfold.households }} rumah tangga survei, lipatan yang sama untuk \
setiap model)</h2>
<table><tr><th>model</th><th>exclusion error 20%</th><th>exclusion error 40%: rata-rata (sd)</th><th>min-maks\
</th><th>Spearman</th><th>AUC kurva penargetan</th><th>exclusion error 40% per lipatan</th></tr>
{% for name, r in kfold.models.items() %}<tr><td>{{ names.get(name, name) }}{% if not r.stored %} *\
{% endif %}</td>
<td>{{ pct(r.spread.exclusion_error_20.mean) }}</td><td>{{ pct(r.spread.exclusion_error_40.mean) }} (\
{{ pct(r.spread.exclusion_error_40.sd) }})</td>
<td>{{ pct(r.spread.exclusion_error_40.min) }} - {{ pct(r.spread.exclusion_error_40.max) }}</td><td>\
{{ num(r.spread.spearman.mean) }}</td>
<td>{{ num(r.spread.auc_targeting_curve.mean) }}</td><td>{% for f in r.folds %}\
{{ pct(f.exclusion_error_40) }} {% endfor %}</td></tr>{% endfor %}</table>
<p>* pembanding saja: tidak disimpan dan tidak dipakai memeringkat. Model terpilih = rata-rata exclusion \
error 40% terendah.
{% if versus %}Model terpilih dibanding pembanding pada lipatan yang sama: {{ pct(versus.chosen_mean) }}\
 lawan {{ pct(versus.reference_mean) }}, lebih rendah pada {{ versus.folds_better }} dari {{ versus.folds }}\
 lipatan.{% endif %}</p>
{% endif %}
{% for label, per_model in sections.items() %}
<h2>{{ label }}</h2>
<table><tr><th>model</th><th>exclusion error 40%</th><th>inclusion error 40%</th><th>Spearman</th><th>\
AUC kurva penargetan</th><th>R²</th><th>cakupan interval {{ level }}%</th><th>keluarga</th></tr>
{% for name, m in per_model.items() %}<tr><td>{{ names.get(name, name) }}</td><td>\
{{ pct(m.exclusion_error_40) }}</td><td>{{ pct(m.inclusion_error_40) }}</td>
<td>{{ num(m.spearman) }}</td><td>{{ num(m.auc_targeting_curve) }}</td><td>{{ num(m.r2) }}</td><td>\
{{ pct(m.interval_coverage) }}</td><td>{{ m.n }}</td></tr>{% endfor %}</table>
<table><tr><th>model</th><th>cakupan</th><th>exclusion error</th><th>inclusion error</th><th>\
targeting differential</th><th>CGH</th></tr>
{% for name, m in per_model.items() %}{% for r in m.by_coverage %}<tr><td>{{ names.get(name, name) }}</td>\
<td>{{ pct(r.coverage) }}</td><td>{{ pct(r.exclusion_error) }}</td>
<td>{{ pct(r.inclusion_error) }}</td><td>{{ num(r.targeting_differential) }}</td><td>{{ num(r.cgh) }}</td>\
</tr>{% endfor %}{% endfor %}</table>
{% endfor %}
{{ charts.coverage | safe }}
{{ charts.intervals | safe }}
<h2>Audit subkelompok ({{ chosen_name }}, cakupan 40%)</h2>
<p>Kebutuhan = porsi penduduk kelompok yang benar-benar termasuk 40% termiskin; seleksi = porsi yang terpilih;
paritas = seleksi / kebutuhan (1 = dilayani sesuai kebutuhan, merah = di bawah 0,8).</p>
{% for label, audit in audits.items() %}<h3>{{ label }}</h3>
<table><tr><th>dimensi</th><th>kelompok</th><th>penduduk</th><th>kebutuhan</th><th>seleksi</th><th>paritas\
</th><th>exclusion error</th></tr>
{% for r in audit %}<tr><td>{{ r.dimensi }}</td><td>{{ r.kelompok }}</td><td>{{ '%.0f' % r.persons }}</td>\
<td>{{ pct(r.need) }}</td><td>{{ pct(r.selected) }}</td>
<td>{{ num(r.parity, 2) }}</td><td>{{ pct(r.exclusion_error) }}</td></tr>{% endfor %}</table>{% endfor %}
{{ charts.parity | safe }}
<h2>Kepentingan global</h2>
{{ charts.importance | safe }}
<h2>Pemilihan hiper-parameter (validasi silang pada exclusion error 40%)</h2>
<table><tr>{% for k in cv[0].keys() %}<th>{{ k }}</th>{% endfor %}</tr>{% for r in cv %}<tr>\
{% for v in r.values() %}<td>{{ v if v is integer else num(v) }}</td>{% endfor %}</tr>{% endfor %}</table>
</body></html>
"""


def build(
    model: registry.WelfareModel, registry_eval: dict[str, dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The report's content as one JSON-able document."""
    headline = model.manifest["headline"]
    sections = {"Data survei yang disisihkan (held-out)": model.metrics["held_out"]}
    audits = {"Survei held-out": model.metrics["subgroups"][model.chosen]}
    if registry_eval:
        sections["Registri sintetis vs kebenaran (ground truth)"] = {
            k: {kk: vv for kk, vv in v.items() if kk != "subgroups"} for k, v in registry_eval.items()
        }
        if model.chosen in registry_eval:
            audits["Registri sintetis vs kebenaran"] = registry_eval[model.chosen]["subgroups"]
    improvement = headline["relative_improvement"]
    if improvement >= 0.15:
        verdict = (
            f"LightGBM menurunkan exclusion error pada cakupan 40% sebesar {100 * improvement:.1f}% "
            "(relatif) dibanding baseline OLS pada data held-out yang sama: target 15% tercapai."
        )
    else:
        verdict = (
            f"Perbaikan relatif exclusion error 40% hanya {100 * improvement:.1f}% (target 15% tidak "
            "tercapai). Sebabnya: kesalahan ukur konsumsi survei dan variabel kesejahteraan yang tidak "
            "teramati membatasi akurasi model apa pun yang hanya melihat perumahan, aset dan demografi; "
            "sampel survei yang kecil per provinsi membuat perbedaan antar-model sulit dibedakan dari "
            "noise. Yang akan mengubahnya: sampel survei lebih besar, data administratif (PLN, kendaraan, "
            "BPJS) sebagai fitur, dan pendapatan."
        )
    return {
        "version": model.version,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "survey": model.manifest["survey"]["name"],
        "data_hash": model.manifest["data_hash"],
        "chosen": model.chosen,
        "headline": headline,
        "verdict": verdict,
        "sections": sections,
        "audits": audits,
        "importance": model.metrics["importance"],
        "cv_grid": model.metrics["cv_grid"],
        "baseline_regions": model.metrics["baseline_regions"],
        "split": model.manifest["split"],
        "cv": model.metrics.get("cv"),
        "chosen_by": model.metrics.get("chosen_by", "held_out_exclusion_error_40"),
        "weighting": model.manifest["survey"].get("weighting", "persons"),
        "challenger_params": model.manifest["challenger_params"],
        "interval_level": model.manifest["interval_level"],
        "extra_features": model.manifest.get("extra_features", []),
    }


def write(doc: dict[str, Any], out_dir: Path) -> tuple[Path, Path]:
    """report.html and report.json in ``out_dir`` (each written under a temporary name, then renamed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    chosen = doc["chosen"]
    first_audit = next(iter(doc["audits"].values()))
    charts = {
        "coverage": _coverage_chart(doc["sections"]),
        "intervals": _interval_chart(doc["sections"]),
        "parity": _parity_chart(first_audit, f"Paritas seleksi/kebutuhan ({NAMES.get(chosen, chosen)})"),
        "importance": _importance_chart(
            doc["importance"][chosen], f"Faktor terpenting ({NAMES.get(chosen, chosen)})"
        ),
    }
    env = Environment(autoescape=select_autoescape(default=True))
    html = env.from_string(TEMPLATE).render(
        version=doc["version"],
        created=doc["created"],
        survey=doc["survey"],
        data_hash=doc["data_hash"],
        chosen_name=NAMES.get(chosen, chosen),
        definitions=DEFINITIONS,
        weighting="penduduk" if doc.get("weighting", "persons") == "persons" else "rumah tangga",
        kfold=doc.get("cv"),
        versus=_versus_reference(doc["cv"], chosen) if doc.get("cv") else None,
        verdict=doc["verdict"],
        sections=doc["sections"],
        audits=doc["audits"],
        cv=doc["cv_grid"],
        names=NAMES,
        level=int(100 * doc["interval_level"]),
        pct=_pct,
        num=_num,
        plotlyjs=get_plotlyjs(),
        charts={k: v.to_html(full_html=False, include_plotlyjs=False) for k, v in charts.items()},
    )
    html_path, json_path = out_dir / "report.html", out_dir / "report.json"
    for path, text in (
        (html_path, html),
        (json_path, json.dumps(doc, indent=2, ensure_ascii=False, default=float)),
    ):
        atomic.write_text(path, text)
    return html_path, json_path


def _versus_reference(cv: dict[str, Any], chosen: str) -> dict[str, Any] | None:
    """The chosen model against the fixed-effects OLS reference on the same folds: means and the folds
    where the chosen model is better (the issue's bar: no worse on average)."""
    reference = next((n for n, r in cv["models"].items() if not r["stored"]), None)
    if reference is None or chosen not in cv["models"]:
        return None
    ours = [f["exclusion_error_40"] for f in cv["models"][chosen]["folds"]]
    theirs = [f["exclusion_error_40"] for f in cv["models"][reference]["folds"]]
    return {
        "reference": reference,
        "chosen_mean": sum(ours) / len(ours),
        "reference_mean": sum(theirs) / len(theirs),
        "folds_better": sum(a < b for a, b in zip(ours, theirs, strict=True)),
        "folds": len(ours),
    }


def _cv_lines(cv: dict[str, Any] | None, chosen: str = "") -> list[str]:
    """The model card's cross-validation table: every model on the same K folds, with the spread."""
    if not cv:
        return []
    lines = [
        f"{cv['k']}-fold cross-validation on all {cv['households']} survey households (the same folds for "
        "every model):",
        "",
        "| model | EE 20% | EE 40% mean (sd) | EE 40% min-max | Spearman | AUC targeting | EE 40% per fold |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for name, r in cv["models"].items():
        sp = r["spread"]
        folds = " ".join(_pct(f["exclusion_error_40"]) for f in r["folds"])
        label = NAMES.get(name, name)
        lines.append(
            f"| {label} | {_pct(sp['exclusion_error_20']['mean'])} | "
            f"{_pct(sp['exclusion_error_40']['mean'])} ({_pct(sp['exclusion_error_40']['sd'])}) | "
            f"{_pct(sp['exclusion_error_40']['min'])}-{_pct(sp['exclusion_error_40']['max'])} | "
            f"{_num(sp['spearman']['mean'])} | {_num(sp['auc_targeting_curve']['mean'])} | {folds} |"
        )
    versus = _versus_reference(cv, chosen)
    if versus is not None:
        lines += [
            "",
            f"Chosen model against the reference on the same folds: mean exclusion error at 40% "
            f"{_pct(versus['chosen_mean'])} against {_pct(versus['reference_mean'])}, lower in "
            f"{versus['folds_better']} of {versus['folds']} folds.",
        ]
    return [*lines, ""]


def model_card(doc: dict[str, Any]) -> str:
    """docs/model-card.md: data, method, metrics, known limits and subgroup results of this run."""
    h = doc["headline"]
    lines = [
        f"# Model card: DTSEN welfare model {doc['version']}",
        "",
        f"<!-- Generated by `dtsen welfare report --model-card FILE` from model {doc['version']} (survey "
        f"`{doc['survey']}`); do not edit by hand. -->",
        "",
        "## Purpose",
        "",
        "Estimates each family's monthly per-capita consumption from observable housing, asset, "
        "demographic, education and work variables (a proxy means test), to rank all families of the "
        "registry into population-weighted desil (national, provincial, kab/kota). It supports targeting; "
        "it does not decide eligibility alone: borderline families go to verification and every family can "
        "see its top factors.",
        "",
        "## Data",
        "",
        f"- Training survey: `{doc['survey']}`, data hash `{doc['data_hash'][:16]}`.",
        f"- Split (seeded): {doc['split']['train']} households training, {doc['split']['calibration']} "
        f"conformal calibration, {doc['split']['test']} held out for every comparison below.",
        "- Target: log per-capita monthly consumption; households weighted by "
        + (
            "survey weight x household size (persons)."
            if doc.get("weighting", "persons") == "persons"
            else "survey weight (households)."
        ),
        "- Features: household size and composition, head's sex/age/education/work, members' education and "
        "formal work, disability and chronic illness, housing (Blok III), assets, livestock, internet and "
        "bank account (Blok V), area codes of every level of the region hierarchy, urban/rural, kota, as "
        "far as the survey answers them. Program receipt is excluded (it would make the rank circular).",
        *(
            [f"- The survey's own features (config `numeric`/`flags`): {', '.join(doc['extra_features'])}."]
            if doc.get("extra_features")
            else []
        ),
        "",
        "## Method",
        "",
        "- Small-area effects: every area at every level of the region hierarchy gets an empirical-Bayes "
        "(random-effect) effect, shrunk towards its parent by n / (n + sigma2_e / sigma2_u); an area the "
        "survey never saw is scored at its parent's estimate. No household minimum, no dummy cap.",
        "- Baseline: forward-stepwise weighted OLS (p < 0.05, no variable cap) plus the area effects, "
        "fitted by backfitting; signed variables (assets, housing quality, education) may not enter with "
        "the wrong sign.",
        f"- Challengers: LightGBM with monotone constraints and the areas as out-of-fold shrunken target "
        f"encodings, fitting the mean (`lightgbm`) or the 40% quantile by pinball loss (`lightgbm_kuantil`, "
        f"recentred on the median); hyper-parameters by {len(doc['cv_grid'])}-point grid cross-validated on "
        f"exclusion error at 40% coverage (chosen: {doc['challenger_params']}).",
        f"- Chosen for scoring: **{NAMES.get(doc['chosen'], doc['chosen'])}** (lowest "
        + ("mean cross-validated" if doc.get("chosen_by") == "cv_exclusion_error_40" else "held-out")
        + " exclusion error at 40% coverage among the stored models).",
        "- Reference: plain weighted OLS on every feature with a fixed effect for every area at every "
        "level, no selection and no shrinkage; compared on the same rows, never stored or used to rank.",
        f"- Uncertainty: MAPIE split-conformal {int(100 * doc['interval_level'])}% intervals; P(desil <= "
        "4/5) from the conformal residual distribution; borderline = interval crosses the desil-4 or "
        "desil-5 cut-off.",
        "- Explanations: top 3 factor groups per family as Bahasa Indonesia sentences, from tree path "
        "attribution (additive, as cheap as predicting) or OLS coefficient x deviation; exact TreeSHAP "
        "(LightGBM `pred_contrib`) for global importance and single-family appeals (about 1 ms per family, "
        "too slow for millions on 2 cores).",
        "",
        "## Metrics",
        "",
        "At coverage c the program selects the predicted bottom c% and the target group is the true bottom "
        "c% (the literature's definition): exclusion error = target not selected / target, inclusion error "
        "= selected outside the target / selected. AUC: share of the true bottom 40% reached as coverage "
        "goes 0 -> 100% (random 0.5, perfect 0.8).",
        "",
        *_cv_lines(doc.get("cv"), doc["chosen"]),
        "| data | model | exclusion error 40% | inclusion error 40% | Spearman | AUC targeting | R² | "
        "interval coverage |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, per_model in doc["sections"].items():
        for name, m in per_model.items():
            lines.append(
                f"| {label} | {NAMES.get(name, name)} | {_pct(m['exclusion_error_40'])} | "
                f"{_pct(m['inclusion_error_40'])} | {_num(m['spearman'])} | {_num(m['auc_targeting_curve'])} "
                f"| {_num(m['r2'])} | {_pct(m.get('interval_coverage'))} |"
            )
    lines += [
        "",
        "Relative improvement of the challenger over the baseline in exclusion error at 40% coverage "
        f"(held-out survey): **{100 * h['relative_improvement']:.1f}%** (target: 15%).",
        "",
        doc["verdict"],
        "",
        "## Subgroup results (chosen model, 40% coverage)",
        "",
    ]
    for label, audit in doc["audits"].items():
        lines += [
            f"### {label}",
            "",
            "| dimension | group | persons | need | selected | parity | exclusion error |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for r in audit:
            lines.append(
                f"| {r['dimensi']} | {r['kelompok']} | {r['persons']:.0f} | {_pct(r['need'])} | "
                f"{_pct(r['selected'])} | {_num(r['parity'], 2)} | {_pct(r['exclusion_error'])} |"
            )
        lines.append("")
    lines += [
        "## Known limits",
        "",
        "- Survey consumption is measured with error; intervals calibrated on measured consumption are "
        "wider than needed against true consumption, so coverage against the truth exceeds the nominal "
        "level.",
        "- The registry has no BPS urban/rural classification of villages; kelurahan and kota stand in for "
        "it, so urban desa are treated as rural when scoring (the survey knows the true classification).",
        "- Small provinces have few survey households: their OLS model is the pooled national one and their "
        "subgroup metrics are noisy.",
        "- About half of all families are borderline at 80% confidence: the interval (about +/-0.35 in log "
        "consumption) is wide compared with the distance between desil cut-offs; verification capacity must "
        "be planned for it, or the flag narrowed to one cut-off per program.",
        "- National desil on Spark use one ordered window (single partition); at national scale this step "
        "should be replaced by a range-partitioned rank.",
        "- The model ranks by consumption proxies only; income, shocks and recent changes are not seen.",
        "",
    ]
    return "\n".join(lines)

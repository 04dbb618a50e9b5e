"""Ingestion reports: per batch and file, rows read, accepted, accepted with warnings, rejected by
reason, warning counts and NIK validity; JSON for machines, HTML and console for people."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pyarrow as pa

from dtsen.sources.mapping import Mapping
from dtsen.sources.readers import duckdb_connect
from dtsen.sql import quote_literal


def file_report(
    berkas: str, accepted: Path, errors: Path, structural: int, mapping: Mapping
) -> dict[str, Any]:
    """Counts for one file, aggregated by DuckDB straight from Parquet (memory does not grow with the
    file): warnings of accepted rows from their ``flags``, everything about rejected rows from their
    findings."""
    con = duckdb_connect()
    try:
        ok = f"read_parquet({quote_literal(accepted)})"
        bad = f"read_parquet({quote_literal(errors)})"
        # one row per (line, severity, code): a code found on several fields of a line counts once
        con.execute(
            f"""CREATE TEMP TABLE f AS
            SELECT DISTINCT baris, 'warning' AS severity, code
            FROM (SELECT baris, unnest(flags) AS code FROM {ok})
            UNION ALL
            SELECT DISTINCT baris, split_part(x, '|', 1), split_part(x, '|', 2)
            FROM (SELECT _baris_sumber AS baris, unnest(_findings) AS x FROM {bad})"""  # noqa: S608 - paths quoted
        )
        accepted_rows = con.execute(f"SELECT count(*) FROM {ok}").fetchone()[0]  # type: ignore[index]  # noqa: S608
        rejected_rows = con.execute(f"SELECT count(*) FROM {bad}").fetchone()[0]  # type: ignore[index]  # noqa: S608
        warned_rows = con.execute(f"SELECT count(*) FROM {ok} WHERE len(flags) > 0").fetchone()[0]  # type: ignore[index]  # noqa: S608

        def counts(where: str) -> dict[str, int]:
            rows = con.execute(
                f"SELECT code, count(DISTINCT baris) AS n FROM f WHERE {where} "  # noqa: S608 - fixed clauses
                "GROUP BY code ORDER BY n DESC, code"
            ).fetchall()
            return {code: int(n) for code, n in rows}

        staged = int(accepted_rows) + int(rejected_rows)
        report: dict[str, Any] = {
            "berkas": berkas,
            "rows_read": staged + structural,
            "accepted": int(accepted_rows),
            "accepted_with_warnings": int(warned_rows),
            "rejected": int(rejected_rows) + structural,
            "structural_rejects": structural,
            "rejected_by_reason": counts("severity = 'error'"),
            "warnings_by_code": counts("severity = 'warning'"),
        }
        if any(f.type == "nik" for n, f in mapping.fields.items() if n == "nik"):
            valid = con.execute(
                f"SELECT (SELECT count(nik) FROM {ok}) + (SELECT count(nik) FROM {bad})"  # noqa: S608 - paths quoted
            ).fetchone()[0]  # type: ignore[index]
            report["nik"] = {
                "rows": staged,
                "valid": int(valid),
                "valid_rate": round(int(valid) / staged, 4) if staged else None,
                "by_problem": counts("code LIKE 'nik\\_%' ESCAPE '\\'"),
            }
    finally:
        con.close()
    return report


def _required_notes(mapping: Mapping, by_reason: dict[str, int]) -> list[str]:
    """One line per required field whose absence quarantined rows: a mapping copied from another source
    may mark required what this source never has (a register without KK numbers)."""
    return [
        f"{by_reason[f'{name}_missing']} row(s) quarantined because fields.{name} is required in mapping "
        f"{mapping.name} and was empty; if this source has no {name}, remove 'required: true' there"
        for name, fm in mapping.fields.items()
        if fm.required and by_reason.get(f"{name}_missing")
    ]


def batch_report(
    batch_id: str, mapping: Mapping, per_file: list[dict[str, Any]], quarantine: pa.Table, notes: list[str]
) -> dict[str, Any]:
    files = [
        file_report(f["berkas"], f["accepted"], f["errors"], len(f["staged"].rejects), mapping)
        for f in per_file
    ]
    structural: dict[str, int] = {}
    for f in per_file:
        for r in f["staged"].rejects:
            structural[r.kode] = structural.get(r.kode, 0) + 1
    totals = {
        k: sum(f[k] for f in files)
        for k in ("rows_read", "accepted", "accepted_with_warnings", "rejected", "structural_rejects")
    }
    by_reason: dict[str, int] = dict(structural)
    warnings: dict[str, int] = {}
    for f in files:
        for k, v in f["rejected_by_reason"].items():
            by_reason[k] = by_reason.get(k, 0) + v
        for k, v in f["warnings_by_code"].items():
            warnings[k] = warnings.get(k, 0) + v
    report: dict[str, Any] = {
        "batch_id": batch_id,
        "mapping": mapping.name,
        "source": mapping.source,
        "entity": mapping.entity,
        **totals,
        "rejected_by_reason": dict(sorted(by_reason.items(), key=lambda kv: -kv[1])),
        "warnings_by_code": dict(sorted(warnings.items(), key=lambda kv: -kv[1])),
        "quarantined_findings": quarantine.num_rows,
        "files": files,
        "notes": [
            *notes,
            *(n for f in per_file for n in f["staged"].notes),
            *_required_notes(mapping, by_reason),
        ],
    }
    niks = [f["nik"] for f in files if "nik" in f]
    if niks:
        rows = sum(n["rows"] for n in niks)
        valid = sum(n["valid"] for n in niks)
        report["nik_valid_rate"] = round(valid / rows, 4) if rows else None
    return report


def write_html(report: dict[str, Any], out: Path) -> None:
    """A self-contained page (no scripts, no external assets) an operator can open or attach."""

    def table(counts: dict[str, int], total: int) -> str:
        if not counts:
            return "<p>Tidak ada.</p>"
        top = max(counts.values())
        rows = "".join(
            f"<tr><td>{html.escape(k)}</td><td class=n>{v:,}</td>"
            f"<td class=n>{100 * v / max(total, 1):.2f}%</td>"
            f"<td><div class=bar style='width:{240 * v / top:.0f}px'></div></td></tr>"
            for k, v in counts.items()
        )
        return f"<table><tr><th>kode</th><th>baris</th><th>%</th><th></th></tr>{rows}</table>"

    total = report["rows_read"]
    cards = "".join(
        f"<div class=card><b>{report[k]:,}</b><span>{label}</span></div>"
        for k, label in (
            ("rows_read", "baris dibaca"),
            ("accepted", "diterima"),
            ("accepted_with_warnings", "diterima dengan peringatan"),
            ("rejected", "ditolak (karantina)"),
        )
    )
    nik = (
        f"<p>NIK valid: {100 * report['nik_valid_rate']:.2f}%</p>"
        if report.get("nik_valid_rate") is not None
        else ""
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in report.get("notes", []))
    files = "".join(
        f"<tr><td>{html.escape(f['berkas'])}</td><td class=n>{f['rows_read']:,}</td>"
        f"<td class=n>{f['accepted']:,}</td><td class=n>{f['accepted_with_warnings']:,}</td>"
        f"<td class=n>{f['rejected']:,}</td></tr>"
        for f in report["files"]
    )
    page = f"""<!doctype html><html lang="id"><head><meta charset="utf-8"><title>\
Laporan batch {html.escape(report["batch_id"])}</title>
<style>body{{font-family:system-ui,sans-serif;margin:2rem;color:#1d2733}}.card{{display:inline-block;\
padding:1rem 1.5rem;margin:.3rem;border-radius:8px;background:#eef3f8}}
.card b{{display:block;font-size:1.6rem}}table{{border-collapse:collapse;margin:.5rem 0 1.5rem}}\
td,th{{padding:.25rem .6rem;border-bottom:1px solid #dde}}
.n{{text-align:right}}.bar{{height:.8rem;background:#3b82c4;border-radius:3px}}</style></head><body>
<h1>Laporan ingest: {html.escape(report["source"])} ({html.escape(report["mapping"])})</h1>
<p>Batch <code>{html.escape(report["batch_id"])}</code> &rarr; entitas <code>{html.escape(report["entity"])}\
</code></p>
{cards}{nik}
<h2>Berkas</h2><table><tr><th>berkas</th><th>dibaca</th><th>diterima</th><th>dengan peringatan</th><th>\
ditolak</th></tr>{files}</table>
<h2>Ditolak menurut alasan</h2>{table(report["rejected_by_reason"], total)}
<h2>Peringatan</h2>{table(report["warnings_by_code"], total)}
<h2>Catatan</h2><ul>{notes or "<li>-</li>"}</ul></body></html>"""
    out.write_text(page, encoding="utf-8")

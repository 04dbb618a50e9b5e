"""Small aggregate tables written into the snapshot at publish, for the analyst dashboards.

The dashboards (``/staf/analisis``) must not group millions of persons per request, so the publish step
computes, with DuckDB SQL over the Parquet files it is about to publish, the tables below and publishes
them under ``agregat/`` with the rest (they are listed in the manifest and checksummed like every file):

* ``desil_wilayah``: families and persons by desa (with its kecamatan, kab/kota and province) and
  national desil (null: not ranked);
* ``program_wilayah``: per program and desa, families assessed, eligible, recipients, yearly budget;
* ``padan``: persons by desa, Dukcapil matching status (``status_padan``) and whether alive;
* ``kualitas`` and ``kualitas_kode``: per source batch frozen for the cycle, rows read, accepted, with
  warnings, rejected and quarantined (``quarantine.parquet`` of the batch, ``report.json`` for the rest),
  and the warning and rejection codes; the cycle's civil-registration events and corrections with their
  quarantined rows. Quarantined rows carry no trusted region (they are rejected for malformed fields), so
  quality is by source; its regional face is ``padan`` (invalid NIK, not found, duplicates by desa);
* ``perubahan``: the period diff by region (``dtsen.cycle.diff``: entrants, exits and desil moves of
  families and programs, by main cause) against the snapshot current at publish; empty for the first;
* ``model_akurasi``, ``model_cakupan``, ``model_keadilan``: the held-out accuracy, exclusion error by
  coverage and subgroup fairness of the welfare model that ranked the snapshot (its ``metrics.json``),
  copied so the snapshot still shows them after the model registry is pruned.

Region tables stop at the desa so one rule scopes them all (a dinsos sees its kab/kota, an operator its
desa). Every table is sorted and written with pyarrow, so a redone publish writes the same bytes.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

from dtsen.cycle.snapshot import Snapshot, _expand
from dtsen.engine import local_duckdb
from dtsen.logs import get_logger

if TYPE_CHECKING:
    from dtsen.cycle.diff import SnapshotDiff

log = get_logger(__name__)

AGGREGATE_DIR = "agregat"
REGION = ("kode_prov", "kode_kab", "kode_kec", "kode_desa")

_TYPES = {"s": pa.string(), "i": pa.int64(), "f": pa.float64(), "b": pa.bool_()}


def _schema(spec: str) -> pa.Schema:
    """``"sumber:s dibaca:i"`` -> a pyarrow schema (s string, i int64, f float64, b bool)."""
    return pa.schema([(name, _TYPES[kind]) for name, kind in (item.split(":") for item in spec.split())])


# The tables not computed by SQL, typed here so that an empty one (no previous snapshot, no model) has
# the same columns as a full one.
SCHEMAS: dict[str, pa.Schema] = {
    "kualitas": _schema(
        "sumber:s jenis:s dibaca:i diterima:i dengan_peringatan:i ditolak:i karantina:i nik_valid:f"
    ),
    "kualitas_kode": _schema("sumber:s jenis:s kode:s jumlah:i"),
    "perubahan": _schema("bagian:s perubahan:s sebab_utama:s kode_prov:s kode_kab:s jumlah:i"),
    "model_akurasi": _schema(
        "model:s dipilih:b n:i exclusion_error_40:f inclusion_error_40:f spearman:f auc_targeting_curve:f "
        "interval_coverage:f borderline_share:f"
    ),
    "model_cakupan": _schema("model:s coverage:f exclusion_error:f inclusion_error:f"),
    "model_keadilan": _schema(
        "model:s dimensi:s kelompok:s keluarga:i need:f selected:f parity:f exclusion_error:f"
    ),
}

_REGION_SELECT = ", ".join(f"f.{c}" for c in REGION)
SQL = {
    "desil_wilayah": f"""
        SELECT {_REGION_SELECT}, s.desil_nasional::TINYINT AS desil,
               count(*)::BIGINT AS keluarga,
               sum(coalesce(s.jumlah_anggota, f.jumlah_anggota, 0))::BIGINT AS jiwa
        FROM families f LEFT JOIN scores s USING (id_keluarga_dtsen)
        GROUP BY ALL ORDER BY ALL NULLS LAST""",  # noqa: S608 - constant column names, no input
    "program_wilayah": f"""
        SELECT e.program, {_REGION_SELECT},
               count(*)::BIGINT AS keluarga_dinilai,
               count(*) FILTER (WHERE e.layak)::BIGINT AS keluarga_layak,
               coalesce(sum(e.jumlah_penerima) FILTER (WHERE e.layak), 0)::BIGINT AS penerima,
               coalesce(sum(e.nilai_tahunan) FILTER (WHERE e.layak), 0)::BIGINT AS anggaran_tahunan
        FROM eligibility e JOIN families f USING (id_keluarga_dtsen)
        GROUP BY ALL ORDER BY ALL NULLS LAST""",  # noqa: S608 - constant column names, no input
    "padan": """
        SELECT kode_prov, kode_kab, kode_kec, kode_desa, status_padan::TINYINT AS status_padan,
               coalesce(status_hidup, true) AS hidup, count(*)::BIGINT AS jiwa
        FROM persons GROUP BY ALL ORDER BY ALL NULLS LAST""",
}
SOURCES = {
    "desil_wilayah": ("families", "scores"),
    "program_wilayah": ("eligibility", "families"),
    "padan": ("persons",),
}


@dataclass
class Built:
    """What :func:`build` wrote: snapshot file name -> path, and the diff it computed on the way."""

    files: dict[str, Path]
    diff: SnapshotDiff | None


def _region_tables(paths: Mapping[str, Path]) -> dict[str, pa.Table]:
    """The region tables, by DuckDB SQL straight over the Parquet files (never row by row in Python)."""
    con = local_duckdb(threads=2)
    try:
        out: dict[str, pa.Table] = {}
        for name, sql in SQL.items():
            if not all(f"{t}.parquet" in paths for t in SOURCES[name]):
                continue
            for table in SOURCES[name]:
                con.read_parquet(str(paths[f"{table}.parquet"])).create_view(table, replace=True)
            out[name] = con.sql(sql).to_arrow_table()
        return out
    finally:
        con.close()


def _count(path: Path) -> int:
    return int(pq.ParquetFile(path).metadata.num_rows) if path.is_file() else 0


def quality_tables(batches: Mapping[str, Any], applied: Path | None = None) -> dict[str, pa.Table]:
    """Per source batch (``report.json`` and ``quarantine.parquet`` in its directory) and, from the cycle's
    apply_events step (its output directory ``applied``), the events and corrections it applied and
    quarantined. A batch whose directory is gone is left out."""
    rows: list[dict[str, Any]] = []
    codes: list[dict[str, Any]] = []
    for mapping, batch in sorted(batches.items()):
        directory = Path(str(batch.get("directory", "")))
        report_path = directory / "report.json"
        if not report_path.is_file():
            continue
        rep = json.loads(report_path.read_text(encoding="utf-8"))
        rows.append(
            {
                "sumber": mapping,
                "jenis": "berkas",
                "dibaca": rep.get("rows_read"),
                "diterima": rep.get("accepted"),
                "dengan_peringatan": rep.get("accepted_with_warnings"),
                "ditolak": rep.get("rejected"),
                "karantina": _count(directory / "quarantine.parquet"),
                "nik_valid": rep.get("nik_valid_rate"),
            }
        )
        for jenis, key in (("peringatan", "warnings_by_code"), ("penolakan", "rejected_by_reason")):
            for code, n in sorted((rep.get(key) or {}).items()):
                codes.append({"sumber": mapping, "jenis": jenis, "kode": code, "jumlah": int(n)})
    if applied is not None:
        for sumber, jenis, stem in (
            ("peristiwa_dukcapil", "peristiwa", "events"),
            ("koreksi", "koreksi", "corrections"),
        ):
            quarantined = applied / f"{stem}_quarantine.parquet"
            applied = applied / f"{stem}_outcomes.parquet"
            if not (quarantined.is_file() or applied.is_file()):
                continue
            q, a = _count(quarantined), _count(applied)
            rows.append(
                {
                    "sumber": sumber,
                    "jenis": jenis,
                    "dibaca": q + a,
                    "diterima": a,
                    "dengan_peringatan": None,
                    "ditolak": q,
                    "karantina": q,
                    "nik_valid": None,
                }
            )
    return {
        "kualitas": pa.Table.from_pylist(rows, schema=SCHEMAS["kualitas"]),
        "kualitas_kode": pa.Table.from_pylist(codes, schema=SCHEMAS["kualitas_kode"]),
    }


def model_tables(model_version: str | None, data_dir: Path) -> dict[str, pa.Table]:
    """The welfare model's held-out metrics (``metrics.json`` in the model registry); empty tables when
    the snapshot names no model or the registry no longer holds it."""
    accuracy: list[dict[str, Any]] = []
    coverage: list[dict[str, Any]] = []
    fairness: list[dict[str, Any]] = []
    if model_version:
        from dtsen.welfare import registry

        try:
            model = registry.load(model_version, data_dir)
        except Exception as exc:  # pruned or unreadable: the dashboard says the figures are missing
            log.warning("model metrics not found", model=model_version, error=type(exc).__name__)
        else:
            for name, m in sorted(model.metrics.get("held_out", {}).items()):
                accuracy.append(
                    {
                        "model": name,
                        "dipilih": name == model.chosen,
                        **{k: m.get(k) for k in SCHEMAS["model_akurasi"].names[2:]},
                    }
                )
                coverage.extend(
                    {
                        "model": name,
                        **{k: c.get(k) for k in ("coverage", "exclusion_error", "inclusion_error")},
                    }
                    for c in m.get("by_coverage", [])
                )
            for name, groups in sorted(model.metrics.get("subgroups", {}).items()):
                fairness.extend(
                    {
                        "model": name,
                        "dimensi": g.get("dimensi"),
                        "kelompok": str(g.get("kelompok")),
                        "keluarga": g.get("families"),
                        "need": g.get("need"),
                        "selected": g.get("selected"),
                        "parity": g.get("parity"),
                        "exclusion_error": g.get("exclusion_error"),
                    }
                    for g in groups
                )
    return {
        "model_akurasi": pa.Table.from_pylist(accuracy, schema=SCHEMAS["model_akurasi"]),
        "model_cakupan": pa.Table.from_pylist(coverage, schema=SCHEMAS["model_cakupan"]),
        "model_keadilan": pa.Table.from_pylist(fairness, schema=SCHEMAS["model_keadilan"]),
    }


def diff_table(diff: SnapshotDiff | None) -> pa.Table:
    if diff is None:
        return SCHEMAS["perubahan"].empty_table()
    frame = diff.wilayah.select(*SCHEMAS["perubahan"].names)
    return frame.to_arrow().cast(SCHEMAS["perubahan"])


def _staged(files: Mapping[str, Path], period: str, model_version: str | None, work: Path) -> Snapshot:
    """The files about to be published seen as a snapshot (symlinks in ``work``), so the diff against the
    current snapshot is computed before the manifest is sealed and can be published with it."""
    shutil.rmtree(work, ignore_errors=True)
    listed = []
    for name, source in _expand(files):
        link = work / name
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(Path(source).resolve(), link)
        listed.append({"name": name})
    return Snapshot(period, 0, work, {"files": listed, "model_version": model_version})


def write_tables(tables: Mapping[str, pa.Table], out_dir: Path) -> dict[str, Path]:
    """Each table as ``out_dir/<name>.parquet``; returns snapshot name -> path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Path] = {}
    for name, table in sorted(tables.items()):
        path = out_dir / f"{name}.parquet"
        pq.write_table(table, path, compression="zstd")
        written[f"{AGGREGATE_DIR}/{name}.parquet"] = path
    return written


def build(
    files: Mapping[str, Path],
    period: str,
    out_dir: Path,
    *,
    previous: Snapshot | None,
    model_version: str | None,
    data_dir: Path,
    batches: Mapping[str, Any] | None = None,
    applied: Path | None = None,
) -> Built:
    """Every aggregate of the snapshot about to be published from ``files`` (snapshot name -> source),
    written under ``out_dir``; the diff against ``previous`` is returned too, for the cycle report."""
    from dtsen.cycle.diff import diff_snapshots

    shutil.rmtree(out_dir, ignore_errors=True)
    paths = dict(_expand(files))
    tables = _region_tables(paths)
    tables.update(quality_tables(batches or {}, applied))
    tables.update(model_tables(model_version, data_dir))
    diff = None
    if previous is not None:
        work = out_dir.parent / f".{out_dir.name}.pratinjau"
        try:
            diff = diff_snapshots(previous, _staged(files, period, model_version, work))
        finally:
            shutil.rmtree(work, ignore_errors=True)
    tables["perubahan"] = diff_table(diff)
    written = write_tables(tables, out_dir)
    log.info("aggregates computed", tables=len(written))
    return Built(written, diff)


def compute_for(snapshot: Snapshot, data_dir: Path | None = None) -> dict[str, pa.Table]:
    """The aggregates of a snapshot published before they were written at publish: the same tables from
    its own files and manifest (the diff against the version published before it, when there is one)."""
    from dtsen.cycle import snapshot as snapshots
    from dtsen.cycle.diff import diff_snapshots

    root = data_dir or snapshot.path.parents[2]
    tables = _region_tables({name: snapshot.path / name for name in snapshot.files})
    frozen = snapshot.manifest.get("inputs", {}).get("frozen", {}) or {}
    tables.update(quality_tables(frozen.get("batches", {})))
    tables.update(model_tables(snapshot.manifest.get("model_version"), root))
    older = [
        s
        for s in snapshots.list_snapshots(root)
        if (s.period, s.version) < (snapshot.period, snapshot.version)
    ]
    diff = None
    if older:
        try:
            diff = diff_snapshots(older[-1], snapshot)
        except Exception as exc:  # an old snapshot of another shape: the dashboard shows no diff
            log.warning("diff for aggregates failed", snapshot=snapshot.ref, error=type(exc).__name__)
    tables["perubahan"] = diff_table(diff)
    return tables


def read(snapshot: Snapshot, data_dir: Path | None = None) -> dict[str, pa.Table]:
    """The snapshot's aggregate tables: its ``agregat/`` files, else computed from its files (older ones)."""
    names = [n for n in snapshot.files if n.startswith(f"{AGGREGATE_DIR}/") and n.endswith(".parquet")]
    if not names:
        return compute_for(snapshot, data_dir)
    return {Path(n).stem: pq.read_table(snapshot.file(n)) for n in names}

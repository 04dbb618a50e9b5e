"""``dtsen bench programs``: time :func:`decide` on golden-shaped tables built from the synthetic truth.

Linkage and welfare produce the real inputs; to time the program step alone (and before those steps
exist at scale), persons, families and scores are taken from the truth of a cached synthetic population
with the columns of ``docs/batch-plane.md`` (true desil as the score's desil).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import polars as pl

from dtsen.programs.decide import decide

PERSON_COLUMNS = (
    "nik",
    "nama",
    "jenis_kelamin",
    "tanggal_lahir",
    "tempat_lahir",
    "umur",
    "tanggal_meninggal",
    "hubungan",
    "hubungan_siak",
    "status_kawin",
    "agama",
    "hamil",
    "partisipasi_sekolah",
    "jenjang_pendidikan",
    "kelas_tertinggi",
    "ijazah_tertinggi",
    "pendidikan_siak",
    "bekerja",
    "jam_kerja",
    "lapangan_usaha",
    "status_pekerjaan",
    "pekerjaan_siak",
    "punya_npwp",
    "penyakit_kronis",
    "segmen_bpjs",
    "jaminan_kesehatan",
    "sulit_melihat",
    "sulit_mendengar",
    "sulit_berjalan",
    "sulit_motorik_halus",
    "sulit_belajar",
    "sulit_perilaku",
    "sulit_komunikasi",
    "sulit_mengurus_diri",
    "sulit_mengingat",
)
REGION = ("kode_desa", "kode_kec", "kode_kab", "kode_prov", "alamat", "rt", "rw")


def golden_from_truth(synth_dir: Path, out: Path) -> tuple[Path, Path, Path]:
    """persons/families/scores Parquet in ``out`` shaped like linkage and welfare output."""
    out.mkdir(parents=True, exist_ok=True)
    truth = pl.scan_parquet(synth_dir / "truth" / "persons.parquet")
    fam = pl.scan_parquet(synth_dir / "truth" / "families.parquet").with_columns(
        pl.col("kode_desa").str.slice(0, 6).alias("kode_kec"),
        pl.col("kode_desa").str.slice(0, 4).alias("kode_kab"),
        pl.col("kode_desa").str.slice(0, 2).alias("kode_prov"),
        pl.col("rt").cast(pl.String).str.zfill(3),
        pl.col("rw").cast(pl.String).str.zfill(3),
        pl.format("K{}", pl.col("family_id")).alias("id_keluarga_dtsen"),
        pl.col("urban").alias("perkotaan"),
    )
    persons = truth.join(
        fam.select("family_id", "id_keluarga_dtsen", "no_kk_now", *REGION), on="family_id"
    ).select(
        pl.format("P{}", pl.col("person_id")).alias("id_dtsen"),
        "id_keluarga_dtsen",
        pl.col("no_kk_now").alias("no_kk"),
        *PERSON_COLUMNS,
        pl.col("alive").alias("status_hidup"),
        *REGION,
    )
    heads = truth.filter(pl.col("role") == 0).select(
        "family_id", pl.format("P{}", pl.col("person_id")).alias("id_kepala")
    )
    living = (
        truth.filter(pl.col("alive"))
        .group_by("family_id")
        .agg(pl.len().cast(pl.Int16).alias("jumlah_anggota"))
    )
    skip = {
        "family_id",
        "no_kk",
        "no_kk_now",
        "no_kk_2022",
        "kode_desa_2022",
        "urban",
        "culture",
        "size",
        "pc_consumption",
        "log_consumption",
        "poor",
        "desil",
        "moved",
        "move_date",
        "move_reported",
        "split_since_regsosek",
        "parent_family_id",
        "alamat_2022",
        "rt_2022",
        "rw_2022",
    }
    schema = fam.collect_schema()
    families = (
        fam.join(heads, on="family_id", how="left")
        .join(living, on="family_id", how="left")
        .select(
            "id_keluarga_dtsen",
            pl.col("no_kk_now").alias("no_kk"),
            "id_kepala",
            pl.col("jumlah_anggota").fill_null(0),
            *[c for c in schema if c not in skip and c != "id_keluarga_dtsen"],
        )
    )
    rank = pl.col("log_consumption").rank("ordinal").cast(pl.Int64)
    scores = fam.select(
        "id_keluarga_dtsen",
        "kode_prov",
        "kode_kab",
        rank.alias("peringkat"),
        *[pl.col("desil").alias(c) for c in ("desil_nasional", "desil_provinsi", "desil_kabkota")],
    )
    paths = (out / "persons.parquet", out / "families.parquet", out / "scores.parquet")
    for frame, path in zip((persons, families, scores), paths, strict=True):
        frame.sink_parquet(path)
    return paths


def bench_programs(synth_dir: Path, work: Path, engine: str) -> dict[str, Any]:
    start = time.perf_counter()
    paths = golden_from_truth(synth_dir, work / "golden")
    prepared = time.perf_counter() - start
    start = time.perf_counter()
    result = decide(*paths, work / "programs", engine=engine)
    return {
        "seconds": round(time.perf_counter() - start, 2),
        "prepare_seconds": round(prepared, 2),
        "families": result.families,
        "eligible": result.eligible,
        "beneficiary_rows": result.beneficiaries,
        "budget_rupiah": result.budget,
    }

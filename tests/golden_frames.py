"""Small hand-made golden tables with exactly the columns of docs/batch-plane.md, for program, event,
correction and diff tests (linkage and welfare produce the real ones)."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import polars as pl

from dtsen.canonical import ENTITIES

_SKIP = {
    "id_anggota",
    "id_anggota_sumber",
    "id_keluarga",
    "sumber",
    "batch_id",
    "berkas",
    "baris",
    "flags",
    "tanggal_data",
    "status_padan",
    "umur",
}
PERSON_SCHEMA: dict[str, pl.DataType] = {
    "id_dtsen": pl.String(),
    "id_keluarga_dtsen": pl.String(),
    **{f.name: f.polars_type for f in ENTITIES["anggota"].fields if f.name not in _SKIP},
    "status_padan": pl.Int8(),
    "bukti_status": pl.String(),
    "di_dukcapil": pl.Boolean(),
    "sumber_data": pl.List(pl.String()),
    "segmen_bpjs": pl.Int8(),
    "umur": pl.Int16(),
}
_FSKIP = {
    "id_keluarga",
    "id_keluarga_sumber",
    "no_kk",
    "jumlah_anggota",
    "sumber",
    "batch_id",
    "berkas",
    "baris",
    "flags",
    "tanggal_data",
}
FAMILY_SCHEMA: dict[str, pl.DataType] = {
    "id_keluarga_dtsen": pl.String(),
    "no_kk": pl.String(),
    "id_kepala": pl.String(),
    "jumlah_anggota": pl.Int16(),
    **{f.name: f.polars_type for f in ENTITIES["keluarga"].fields if f.name not in _FSKIP},
    "konflik": pl.List(pl.String()),
}
SCORE_SCHEMA: dict[str, pl.DataType] = {
    "id_keluarga_dtsen": pl.String(),
    "kode_prov": pl.String(),
    "kode_kab": pl.String(),
    "jumlah_anggota": pl.Int16(),
    "skor": pl.Float64(),
    "perkiraan_pengeluaran": pl.Float64(),
    "batas_bawah": pl.Float64(),
    "batas_atas": pl.Float64(),
    "peringkat": pl.Int64(),
    "desil_nasional": pl.Int8(),
    "desil_provinsi": pl.Int8(),
    "desil_kabkota": pl.Int8(),
    "p_desil_le4": pl.Float64(),
    "p_desil_le5": pl.Float64(),
    "borderline": pl.Boolean(),
    "status_peringkat": pl.String(),
    "alasan_tidak_diperingkat": pl.String(),
    "versi_model": pl.String(),
}

DESA = "3302012001"  # a real village of Kab. Banyumas


def person(pid: str, fid: str, nik: str, umur: int, **kw: Any) -> dict[str, Any]:
    """A living person of family ``fid`` with a birth date matching ``umur`` at 2026-03-31."""
    return {
        "id_dtsen": pid,
        "id_keluarga_dtsen": fid,
        "nik": nik,
        "nama": f"NAMA {pid}",
        "umur": umur,
        "tanggal_lahir": date(2026 - umur, 1, 15),
        "jenis_kelamin": 1,
        "status_hidup": True,
        "kode_desa": DESA,
        "kode_kec": DESA[:6],
        "kode_kab": DESA[:4],
        "kode_prov": DESA[:2],
        "hubungan": 1 if pid.endswith("1") else 3,
        "status_kawin": 1,
        "pekerjaan_siak": 1,
        "penyakit_kronis": 0,
        "sumber_data": ["siak"],
        "di_dukcapil": True,
        **kw,
    }


def family(fid: str, kk: str, head: str, **kw: Any) -> dict[str, Any]:
    desa = kw.pop("kode_desa", DESA)
    return {
        "id_keluarga_dtsen": fid,
        "no_kk": kk,
        "id_kepala": head,
        "kode_desa": desa,
        "kode_kec": desa[:6],
        "kode_kab": desa[:4],
        "kode_prov": desa[:2],
        "alamat": f"JL. {fid}",
        "rt": "001",
        "rw": "002",
        "aset_mobil": False,
        "lantai": 6,
        "konflik": [],
        **kw,
    }


def score(fid: str, desil: int, peringkat: int, kode_kab: str = DESA[:4]) -> dict[str, Any]:
    return {
        "id_keluarga_dtsen": fid,
        "kode_prov": kode_kab[:2],
        "kode_kab": kode_kab,
        "peringkat": peringkat,
        "desil_nasional": desil,
        "desil_provinsi": desil,
        "desil_kabkota": desil,
        "skor": 13.0,
        "versi_model": "m1",
    }


def frame(rows: list[dict[str, Any]], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    unknown = {k for r in rows for k in r} - set(schema)
    assert not unknown, f"not in the contract: {unknown}"
    return pl.DataFrame([{k: r.get(k) for k in schema} for r in rows], schema=schema, orient="row")


def write_golden(
    directory: Path,
    persons: list[dict[str, Any]],
    families: list[dict[str, Any]],
    scores: list[dict[str, Any]],
) -> tuple[Path, Path, Path]:
    """persons/families/scores Parquet files in ``directory`` (jumlah_anggota from the living members)."""
    directory.mkdir(parents=True, exist_ok=True)
    p = frame(persons, PERSON_SCHEMA)
    living = p.filter(pl.col("status_hidup")).group_by("id_keluarga_dtsen").len()
    f = frame(families, FAMILY_SCHEMA).drop("jumlah_anggota").join(living, on="id_keluarga_dtsen", how="left")
    f = f.with_columns(pl.col("len").fill_null(0).cast(pl.Int16).alias("jumlah_anggota")).select(
        list(FAMILY_SCHEMA)
    )
    s = frame(scores, SCORE_SCHEMA)
    paths = (directory / "persons.parquet", directory / "families.parquet", directory / "scores.parquet")
    p.write_parquet(paths[0])
    f.write_parquet(paths[1])
    s.write_parquet(paths[2])
    return paths


def sample() -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
    """Five families that exercise every program rule.

    f1 desil 2: head 40, pregnant wife, pupils SD and SMP, a child of 4 and a grandmother of 75
       (six PKH components: the cap of four bites).
    f2 desil 8: a 66-year-old with kidney failure (PBI-JK keeps him) and his wife with hypertension.
    f3 desil 1: one woman of 70, alive (PKH lanjut usia).
    f4 desil 3: a civil servant (PNS) with a pupil, and a car.
    f5 desil 4: a farmer with a car only (BPNT excluded, PBI-JK review), another kabupaten.
    """
    persons = [
        person("p11", "f1", "3302010101800001", 40),
        person("p12", "f1", "3302014101850001", 38, hamil=True, jenis_kelamin=2, hubungan=2),
        person("p13", "f1", "3302010101150001", 10, partisipasi_sekolah=1, jenjang_pendidikan=3),
        person("p14", "f1", "3302010101210001", 4),
        person("p15", "f1", "3302010101100001", 15, partisipasi_sekolah=1, jenjang_pendidikan=8),
        person("p16", "f1", "3302014101500001", 75, jenis_kelamin=2, hubungan=6),
        person("p21", "f2", "3302010101600002", 66, penyakit_kronis=9),
        person("p22", "f2", "3302014101620002", 64, penyakit_kronis=1, jenis_kelamin=2, hubungan=2),
        person("p31", "f3", "3302014101560003", 70, jenis_kelamin=2),
        person("p41", "f4", "3302010101800004", 45, pekerjaan_siak=5),
        person("p42", "f4", "3302010101150004", 10, partisipasi_sekolah=1, jenjang_pendidikan=3),
        person(
            "p51",
            "f5",
            "3302010101700005",
            55,
            pekerjaan_siak=9,
            kode_desa="3301012001",
            kode_kec="330101",
            kode_kab="3301",
        ),
    ]
    families = [
        family("f1", "3302010101200001", "p11"),
        family("f2", "3302010101200002", "p21"),
        family("f3", "3302010101200003", "p31"),
        family("f4", "3302010101200004", "p41", aset_mobil=True),
        family("f5", "3302010101200005", "p51", aset_mobil=True, kode_desa="3301012001"),
    ]
    scores = [
        score("f1", 2, 10),
        score("f2", 8, 800),
        score("f3", 1, 1),
        score("f4", 3, 20),
        score("f5", 4, 30, kode_kab="3301"),
    ]
    return persons, families, scores

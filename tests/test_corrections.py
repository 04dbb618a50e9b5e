"""Approved corrections: validated against the canonical model, applied with provenance, the latest
decision wins, a stale correction is rejected, later decisions wait for the next cycle."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from dtsen.cycle.corrections import apply_corrections, read_corrections
from golden_frames import FAMILY_SCHEMA, PERSON_SCHEMA, frame, sample

HEADER = (
    "id_koreksi,jenis,id_dtsen,id_keluarga_dtsen,atribut,nilai_baru,nilai_lama,sumber,"
    "nomor_keputusan,tanggal_keputusan,petugas\n"
)
CUTOFF = date(2026, 6, 30)


def _feed(tmp_path: Path, *lines: str):
    path = tmp_path / "koreksi.csv"
    path.write_text(HEADER + "".join(line + "\n" for line in lines), encoding="utf-8")
    return read_corrections(path)


def test_rows_are_checked_against_the_canonical_model(tmp_path: Path) -> None:
    feed = _feed(
        tmp_path,
        "K1,ground_check,,f1,lantai,8,6,,BA/1,2026-05-01,PTG-1",
        "K2,ground_check,,f1,lantaii,8,,,BA/2,2026-05-01,PTG-1",
        "K3,verval,,f1,lantai,42,,,BA/3,2026-05-01,PTG-1",
        "K4,sanggahan,p11,f1,aset_mobil,tidak,,,BA/4,2026-05-01,PTG-1",
        "K5,usulan,p11,,nik,3302010101800009,,,BA/5,2026-05-01,PTG-1",
        "K6,sanggahan,,f4,aset_mobil,mungkin,,,BA/6,2026-05-01,PTG-1",
        "K7,banding,,f4,aset_mobil,tidak,,,BA/7,2026-05-01,PTG-1",
        "K8,verval,p41,,pekerjaan_siak,Petani/pekebun,,,BA/8,,PTG-1",
        "K9,verval,p41,,kode_kec,330202,,,BA/9,2026-05-01,PTG-1",
    )
    assert feed.corrections["id_koreksi"].to_list() == ["K1"]
    q = {(r["baris"], r["kolom"], r["kode"]) for r in feed.quarantine.to_dicts()}
    assert q == {
        (3, "atribut", "atribut_tidak_valid"),
        (4, "nilai_baru", "nilai_tidak_valid"),
        (5, "id_dtsen", "target_tidak_jelas"),
        (6, "atribut", "atribut_tidak_valid"),
        (7, "nilai_baru", "nilai_tidak_valid"),
        (8, "jenis", "jenis_tidak_dikenal"),
        (9, "tanggal_keputusan", "wajib_kosong"),
        (10, "atribut", "atribut_tidak_valid"),
    }
    messages = " ".join(feed.quarantine["pesan"])
    assert "'lantaii' is not a column of keluarga" in messages
    assert "42 is not a code of Lantai" in messages
    assert "'nik' cannot be corrected" in messages
    assert "'kode_kec' cannot be corrected (derived from kode_desa)" in messages


def test_applied_with_provenance_latest_decision_wins(tmp_path: Path) -> None:
    p, f, _ = sample()
    persons, families = frame(p, PERSON_SCHEMA), frame(f, FAMILY_SCHEMA)
    feed = _feed(
        tmp_path,
        "K1,ground_check,,f1,lantai,8,6,,BA/1,2026-05-01,PTG-1",
        "K2,ground_check,,f1,lantai,7,6,,BA/2,2026-05-20,PTG-2",  # a later decision on the same attribute
        "K3,sanggahan,,f4,aset_mobil,tidak,ya,sanggahan_cek_bansos,BA/3,2026-06-01,PTG-3",
        "K4,verval,p41,,pekerjaan_siak,Petani/pekebun,,,BA/4,2026-06-02,PTG-4",
        "K5,ground_check,,f2,lantai,8,2,,BA/5,2026-06-03,PTG-5",  # the file says 6 now: stale
        "K6,ground_check,,f9,lantai,8,,,BA/6,2026-06-03,PTG-6",  # no such family
        "K7,verval,,f3,kode_desa,3302012002,,,BA/7,2026-06-04,PTG-7",
        "K8,verval,,f5,atap,3,,,BA/8,2026-07-02,PTG-8",  # decided after the cut-off
    )
    p2, f2, report = apply_corrections(persons, families, feed, CUTOFF, batch_id="2026Q2")
    status = dict(zip(report.outcomes["id_koreksi"], report.outcomes["status"], strict=True))
    assert status == {
        "K1": "digantikan",
        "K2": "diterapkan",
        "K3": "diterapkan",
        "K4": "diterapkan",
        "K5": "ditolak",
        "K6": "ditolak",
        "K7": "diterapkan",
        "K8": "ditunda",
    }
    fam = {r["id_keluarga_dtsen"]: r for r in f2.to_dicts()}
    assert fam["f1"]["lantai"] == 7
    assert fam["f4"]["aset_mobil"] is False
    assert fam["f2"]["lantai"] == 6
    assert (fam["f3"]["kode_desa"], fam["f3"]["kode_kec"]) == ("3302012002", "330201")
    assert p2.filter(pl.col("id_dtsen") == "p41")["pekerjaan_siak"].item() == 9
    assert p2.filter(pl.col("id_dtsen") == "p31")["kode_desa"].item() == "3302012002"  # members follow
    prov = report.provenance
    assert set(prov.columns) == {"entitas", "id", "atribut", "sumber", "batch_id", "tanggal_data"}
    row = prov.filter((pl.col("id") == "f1") & (pl.col("atribut") == "lantai")).to_dicts()
    assert row == [
        {
            "entitas": "family",
            "id": "f1",
            "atribut": "lantai",
            "sumber": "koreksi_ground_check",
            "batch_id": "2026Q2",
            "tanggal_data": date(2026, 5, 20),
        }
    ]
    assert f2.schema == families.schema
    assert p2.schema == persons.schema
    again = apply_corrections(p2, f2, feed, CUTOFF)[2]
    assert again.provenance.is_empty()


def test_a_correction_follows_a_merged_family_and_names_a_retired_one(tmp_path: Path) -> None:
    """Corrections name the IDs of the snapshot the officer saw: f9 merged into f1 since (a fragment
    joined its family), f8 was retired (emptied by events). The first reaches f1; the second is rejected
    as ``id_pensiun``, not as an unknown ID."""
    persons, families = frame(sample()[0], PERSON_SCHEMA), frame(sample()[1], FAMILY_SCHEMA)
    feed = _feed(
        tmp_path,
        "K1,ground_check,,f9,lantai,8,,,BA/1,2026-05-01,PTG-1",
        "K2,ground_check,,f8,lantai,8,,,BA/2,2026-05-01,PTG-1",
        "K3,ground_check,,f7,lantai,8,,,BA/3,2026-05-01,PTG-1",
    )
    lineage = pl.DataFrame(
        {
            "id_lama": ["f9", "f8"],
            "id_baru": ["f1", None],
            "jenis": ["gabung", "pensiun"],
            "jenis_id": ["family", "family"],
            "run": ["2026Q2", "peristiwa-2026Q2"],
        }
    )
    _, f, report = apply_corrections(persons, families, feed, CUTOFF, lineage=lineage)
    why = {r["id_koreksi"]: (r["status"], r["alasan"]) for r in report.outcomes.to_dicts()}
    assert why == {
        "K1": ("diterapkan", None),
        "K2": ("ditolak", "id_pensiun"),
        "K3": ("ditolak", "id_tidak_ditemukan"),
    }
    assert f.filter(pl.col("id_keluarga_dtsen") == "f1")["lantai"].item() == 8
    assert report.provenance["id"].to_list() == ["f1"]
